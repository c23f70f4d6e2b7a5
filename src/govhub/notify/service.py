"""Queue email and SMS: render now, store in the caller's transaction, send after the commit."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from govhub.jobs import enqueue
from govhub.kit.ids import new_id
from govhub.notify import delivery  # noqa: F401 - registers the notify.deliver job
from govhub.notify.models import Channel, Notification, Status
from govhub.notify.rendering import Rendered, render_email, render_sms


async def queue_email(
    session: AsyncSession,
    *,
    to: str,
    template: str,
    context: dict[str, Any],
    locale: str,
    account_id: str | None = None,
    subject_kind: str | None = None,
    subject_id: str | None = None,
) -> Notification:
    """Render an email in `locale` and queue it; it is sent only if this transaction commits."""
    rendered = render_email(template, context, locale)
    return await _queue(session, Channel.EMAIL, to=to, template=template, rendered=rendered,
                        account_id=account_id, subject_kind=subject_kind, subject_id=subject_id)


async def queue_sms(
    session: AsyncSession,
    *,
    to: str,
    template: str,
    context: dict[str, Any],
    locale: str,
    account_id: str | None = None,
    subject_kind: str | None = None,
    subject_id: str | None = None,
) -> Notification:
    """Render an SMS in `locale` and queue it; it is sent only if this transaction commits."""
    rendered = render_sms(template, context, locale)
    return await _queue(session, Channel.SMS, to=to, template=template, rendered=rendered,
                        account_id=account_id, subject_kind=subject_kind, subject_id=subject_id)


async def _queue(
    session: AsyncSession,
    channel: Channel,
    *,
    to: str,
    template: str,
    rendered: Rendered,
    account_id: str | None,
    subject_kind: str | None,
    subject_id: str | None,
) -> Notification:
    """Store the rendered message and its delivery job together."""
    recipient = to.strip()
    if not recipient:
        raise ValueError("a notification needs a recipient")
    notification = Notification(
        id=new_id(), channel=channel.value, recipient=recipient, locale=rendered.locale,
        template=template, subject=rendered.subject[:1000], body=rendered.body,
        status=Status.QUEUED.value, attempts=0,
        account_id=account_id, subject_kind=subject_kind, subject_id=subject_id,
    )
    session.add(notification)
    # Flush now, so a bad row (an unknown account) fails in the caller's code, not at commit.
    await session.flush()
    enqueue(session, "notify.deliver", notification_id=notification.id)
    return notification
