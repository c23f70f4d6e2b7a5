"""Queries of the notify context, scoped to who may read them."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from govhub.notify.models import Notification


def messages_of_account(account_id: str) -> Select[tuple[Notification]]:
    """The messages sent to one account, newest first (what its holder may read)."""
    return (
        select(Notification)
        .where(Notification.account_id == account_id)
        .order_by(Notification.created_at.desc(), Notification.id)
    )


def all_messages(*, status: str | None = None) -> Select[tuple[Notification]]:
    """Every message, newest first, optionally in one status (administrators only)."""
    query = select(Notification).order_by(Notification.created_at.desc(), Notification.id)
    if status:
        query = query.where(Notification.status == status)
    return query


async def page(
    session: AsyncSession, query: Select[tuple[Notification]], *, limit: int, offset: int
) -> tuple[Sequence[Notification], int]:
    """One page of messages and the total matching."""
    total = await session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
    rows = (await session.scalars(query.limit(limit).offset(offset))).all()
    return rows, int(total or 0)


async def by_subject(
    session: AsyncSession, subject_kind: str, subject_id: str
) -> Sequence[Notification]:
    """The messages about one thing (an application), oldest first."""
    return (
        await session.scalars(
            select(Notification)
            .where(Notification.subject_kind == subject_kind, Notification.subject_id == subject_id)
            .order_by(Notification.created_at, Notification.id)
        )
    ).all()
