"""Delivery: the `notify.deliver` job sends one stored message by SMTP or the SMS sender."""

from __future__ import annotations

import asyncio
import smtplib
import ssl
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import make_msgid
from typing import Protocol

from huey import crontab
from sqlalchemy import ColumnElement, and_, func, or_, select, update

from govhub.config import Settings, get_settings
from govhub.db import unit_of_work
from govhub.jobs import _run_async, enqueue, huey, job
from govhub.kit.clock import utcnow
from govhub.kit.observability import get_logger, mask_recipient
from govhub.notify.models import DELIVERED, Channel, Notification, Status

log = get_logger("govhub.notify")

DELIVERY_RETRIES = 6
RETRY_DELAY_SECONDS = 300
# Every try counts, the first and each retry: the last one marks the message failed.
MAX_ATTEMPTS = DELIVERY_RETRIES + 1
# A worker that died while sending leaves its claim; after this long another may take it.
CLAIM_LEASE = timedelta(minutes=10)
SMTP_TIMEOUT_SECONDS = 30
# A queued message untouched this long lost its job (a broker emptied, a worker killed).
STALE_QUEUED = timedelta(seconds=3 * RETRY_DELAY_SECONDS)


class SmsSender(Protocol):
    """Sends a text message to a phone number; raises if the gateway refuses it."""

    async def send(self, *, to: str, body: str) -> Status:
        """Send and return the resulting status (SENT, or LOGGED for the logging sender)."""
        ...


class LoggingSmsSender:
    """No SMS gateway: write the message to the log, with the phone number masked."""

    async def send(self, *, to: str, body: str) -> Status:
        """Log the message instead of sending it."""
        log.info("sms logged", to=mask_recipient(to), body=body)
        return Status.LOGGED


_sms_sender: SmsSender = LoggingSmsSender()


def set_sms_sender(sender: SmsSender) -> None:
    """Install the SMS gateway (a deployment with one installs it at startup)."""
    global _sms_sender
    _sms_sender = sender


@dataclass(frozen=True)
class Claimed:
    """The parts of a claimed row that sending needs, read once after the claim."""

    id: str
    channel: str
    recipient: str
    subject: str
    body: str
    attempts: int


@job("notify.deliver", retries=DELIVERY_RETRIES, retry_delay=RETRY_DELAY_SECONDS)
async def deliver(*, notification_id: str) -> None:
    """Send one queued message; a message already delivered, or being sent, is left alone."""
    claimed = await _claim(notification_id)
    if claimed is None:
        return
    try:
        status = await _send(claimed)
    except Exception as error:  # noqa: BLE001 - any failure is recorded, then retried
        final = claimed.attempts >= MAX_ATTEMPTS or _refused_for_good(error)
        await _record_failure(claimed, error, final=final)
        log.warning("notification not delivered", notification_id=claimed.id,
                    attempts=claimed.attempts, error_type=type(error).__name__, final=final)
        if not final:
            raise  # Huey retries after RETRY_DELAY_SECONDS
        return
    await _finish(claimed.id, status=status, error=None)


async def _claim(notification_id: str) -> Claimed | None:
    """Mark the row as being sent, in its own commit, unless it is done or another worker has it."""
    now = utcnow()
    async with unit_of_work() as session:
        # A conditional UPDATE, so two runs of this job (the outbox delivers at least once)
        # cannot both send: only one sees its row count at 1.
        result = await session.execute(
            update(Notification)
            .where(
                Notification.id == notification_id,
                or_(Notification.status == Status.QUEUED.value, _abandoned(now)),
            )
            .values(status=Status.SENDING.value, claimed_at=now, attempts=Notification.attempts + 1)
        )
        if result.rowcount != 1:  # type: ignore[attr-defined]
            return None
        row = await session.get(Notification, notification_id, populate_existing=True)
        assert row is not None
        return Claimed(id=row.id, channel=row.channel, recipient=row.recipient,
                       subject=row.subject, body=row.body, attempts=row.attempts)


def _abandoned(now: datetime) -> ColumnElement[bool]:
    """SQL: claimed by a worker that has not finished within the lease (it died)."""
    claimed_long_ago = Notification.claimed_at < now - CLAIM_LEASE
    return and_(Notification.status == Status.SENDING.value, claimed_long_ago)


async def _send(claimed: Claimed) -> Status:
    """Hand the message to SMTP, the local outbox or the SMS sender; return the new status."""
    if claimed.channel == Channel.SMS.value:
        return await _sms_sender.send(to=claimed.recipient, body=claimed.body)
    settings = get_settings()
    if not settings.smtp_host:
        return Status.OUTBOX
    # smtplib blocks: a slow mail server must not stall the worker's event loop.
    await asyncio.to_thread(_smtp_send, _email_message(claimed, settings), settings)
    return Status.SENT


def _email_message(claimed: Claimed, settings: Settings) -> EmailMessage:
    """The MIME message: UTF-8 text, with a Message-ID derived from the row id."""
    message = EmailMessage()
    message["From"] = settings.mail_from
    message["To"] = claimed.recipient
    message["Subject"] = claimed.subject
    domain = settings.mail_from.rpartition("@")[2] or None
    message["Message-ID"] = make_msgid(idstring=claimed.id, domain=domain)
    message.set_content(claimed.body)
    return message


def _smtp_send(message: EmailMessage, settings: Settings) -> None:
    """Send through the configured server (STARTTLS and login when configured)."""
    with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=SMTP_TIMEOUT_SECONDS) as smtp:
        if settings.smtp_starttls:
            smtp.starttls(context=ssl.create_default_context())
        if settings.smtp_username:
            smtp.login(settings.smtp_username, settings.smtp_password.get_secret_value())
        smtp.send_message(message)


async def _record_failure(claimed: Claimed, error: Exception, *, final: bool) -> None:
    """Release the claim for the next retry, or mark the message failed after the last one."""
    status = Status.FAILED if final else Status.QUEUED
    await _finish(claimed.id, status=status, error=_short_error(error, claimed.recipient))


async def _finish(notification_id: str, *, status: Status, error: str | None) -> None:
    """Record the outcome of this worker's claim."""
    values: dict[str, object] = {"status": status.value}
    if status in DELIVERED:
        values["sent_at"] = utcnow()
    if error is not None:
        values["last_error"] = error
    async with unit_of_work() as session:
        await session.execute(
            update(Notification)
            .where(Notification.id == notification_id, Notification.status == Status.SENDING.value)
            .values(**values)
        )


def _refused_for_good(error: Exception) -> bool:
    """True when the server refused every recipient permanently (5xx): retrying cannot help."""
    if not isinstance(error, smtplib.SMTPRecipientsRefused) or not error.recipients:
        return False
    return all(code >= 500 for code, _ in error.recipients.values())


def _short_error(error: Exception, recipient: str) -> str:
    """The error's type and the start of its text, with the recipient masked (never a secret)."""
    text = f"{type(error).__name__}: {error}".replace(recipient, mask_recipient(recipient))
    return text[:300]


async def requeue_stale(now: datetime | None = None) -> int:
    """Queue delivery again for messages whose job was lost; returns how many."""
    now = now or utcnow()
    stale = or_(
        _abandoned(now),
        and_(
            Notification.status == Status.QUEUED.value,
            func.coalesce(Notification.claimed_at, Notification.created_at) < now - STALE_QUEUED,
        ),
    )
    async with unit_of_work() as session:
        ids = (await session.scalars(select(Notification.id).where(stale).limit(500))).all()
        # A message whose job is in fact still waiting is safe too: the claim lets one send.
        for notification_id in ids:
            enqueue(session, "notify.deliver", notification_id=notification_id)
    if ids:
        log.info("notifications queued again", count=len(ids))
    return len(ids)


@huey.periodic_task(crontab(minute="*/10"), name="notify.requeue_stale")
def _periodic_requeue() -> None:
    _run_async(requeue_stale())
