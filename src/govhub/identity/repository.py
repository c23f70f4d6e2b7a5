"""Every identity query, including the scoping that limits what a caller may see."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from govhub.identity.models import (
    Account,
    Agency,
    AgencyMembership,
    AuditEvent,
    OAuthClient,
    RecoveryCode,
    UserSession,
)
from govhub.kit.thai_ids import normalize_13_digits


async def account_by_id(session: AsyncSession, account_id: str) -> Account | None:
    """Load an account by its id."""
    return await session.get(Account, account_id)


async def account_by_identifier(session: AsyncSession, identifier: str) -> Account | None:
    """Find the account a person signs in as: email, national ID, or passport number."""
    text = (identifier or "").strip()
    digits = normalize_13_digits(text)
    if len(digits) == 13 and digits.isdigit():
        return await session.scalar(select(Account).where(Account.national_id == digits))
    if "@" in text:
        return await session.scalar(select(Account).where(Account.email == text.lower()))
    # Passport numbers are unique only with nationality; sign-in by passport needs one match.
    matches = (await session.scalars(select(Account).where(Account.passport_number == text.upper()))).all()
    return matches[0] if len(matches) == 1 else None


async def email_taken(session: AsyncSession, email: str) -> bool:
    """True if an account already uses this email."""
    return await session.scalar(select(func.count()).where(Account.email == email)) > 0


async def national_id_taken(session: AsyncSession, national_id: str) -> bool:
    """True if an account already uses this national ID."""
    return await session.scalar(select(func.count()).where(Account.national_id == national_id)) > 0


async def passport_taken(session: AsyncSession, passport_number: str, nationality: str) -> bool:
    """True if an account already uses this passport of this nationality."""
    query = select(func.count()).where(
        Account.passport_number == passport_number, Account.nationality == nationality
    )
    return await session.scalar(query) > 0


async def session_by_digest(session: AsyncSession, digest: str) -> UserSession | None:
    """Find a live browser session by the digest of its cookie token."""
    return await session.scalar(
        select(UserSession).where(UserSession.token_digest == digest, UserSession.revoked_at.is_(None))
    )


async def live_sessions(session: AsyncSession, account_id: str) -> Sequence[UserSession]:
    """An account's sessions that are not revoked."""
    query = select(UserSession).where(
        UserSession.account_id == account_id, UserSession.revoked_at.is_(None)
    )
    return (await session.scalars(query.order_by(UserSession.created_at.desc()))).all()


async def unused_recovery_codes(session: AsyncSession, account_id: str) -> Sequence[RecoveryCode]:
    """An account's recovery codes not yet used."""
    query = select(RecoveryCode).where(
        RecoveryCode.account_id == account_id, RecoveryCode.used_at.is_(None)
    )
    return (await session.scalars(query)).all()


async def agency_by_code(session: AsyncSession, code: str) -> Agency | None:
    """Find an agency by its short code (DOPA, DBD, ...)."""
    return await session.scalar(select(Agency).where(Agency.code == code.upper()))


async def agency_by_id(session: AsyncSession, agency_id: str) -> Agency | None:
    """An agency by id (other contexts hold agency ids only)."""
    return await session.get(Agency, agency_id)


async def list_agencies(session: AsyncSession) -> Sequence[Agency]:
    """Every agency, by code."""
    return (await session.scalars(select(Agency).order_by(Agency.code))).all()


async def memberships_of(session: AsyncSession, account_id: str) -> Sequence[AgencyMembership]:
    """An officer's roles in agencies."""
    query = select(AgencyMembership).where(AgencyMembership.account_id == account_id)
    return (await session.scalars(query)).all()


async def client_by_client_id(session: AsyncSession, client_id: str) -> OAuthClient | None:
    """Find an OAuth/OIDC client by its public client_id."""
    return await session.scalar(select(OAuthClient).where(OAuthClient.client_id == client_id))


async def list_clients(session: AsyncSession) -> Sequence[OAuthClient]:
    """Every registered client, newest first."""
    return (await session.scalars(select(OAuthClient).order_by(OAuthClient.created_at.desc()))).all()


def audit_query(
    *,
    action: str | None = None,
    outcome: str | None = None,
    actor_id: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> Select[tuple[AuditEvent]]:
    """The audit-log query with the administrator's filters applied, newest first."""
    query = select(AuditEvent)
    if action:
        query = query.where(AuditEvent.action == action)
    if outcome:
        query = query.where(AuditEvent.outcome == outcome)
    if actor_id:
        query = query.where(AuditEvent.actor_id == actor_id)
    if since:
        query = query.where(AuditEvent.at >= since)
    if until:
        query = query.where(AuditEvent.at < until)
    return query.order_by(AuditEvent.at.desc(), AuditEvent.id)


async def audit_page(
    session: AsyncSession, query: Select[tuple[AuditEvent]], *, limit: int, offset: int
) -> tuple[Sequence[AuditEvent], int]:
    """One page of audit events and the total matching."""
    total = await session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
    rows = (await session.scalars(query.limit(limit).offset(offset))).all()
    return rows, int(total or 0)
