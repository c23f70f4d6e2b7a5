"""Queued messages are delivered once, after commit, by SMTP, the local outbox or the SMS log."""

from __future__ import annotations

import io
import logging
import secrets
from datetime import timedelta

import pytest
from sqlalchemy import select

from govhub.db import unit_of_work
from govhub.jobs.models import OutboxJob
from govhub.notify import delivery
from govhub.notify.models import Notification
from govhub.notify.service import queue_email, queue_sms
from tests.notify.test_rendering import CONTEXT


class Boom(Exception):
    pass


def _address() -> str:
    return f"applicant-{secrets.token_hex(4)}@example.go.th"


async def _row(notification_id: str) -> Notification:
    async with unit_of_work() as session:
        row = await session.get(Notification, notification_id)
        assert row is not None
        return row


async def test_email_is_sent_through_smtp_after_commit_and_only_once(smtp_server):
    to = _address()
    async with unit_of_work() as session:
        queued = await queue_email(session, to=to, template="application_received", context=CONTEXT,
                                   locale="en", subject_kind="application", subject_id="app-1")
        assert queued.status == "queued"
        assert smtp_server.to(to) == []  # nothing leaves before the commit
    [message] = smtp_server.to(to)
    assert message["To"] == to and message["Subject"] == f"We have received your application {CONTEXT['tracking_number']}"
    assert message["From"] == "no-reply@govhub.local"
    body = message.get_content()
    assert "Tracking number: " + CONTEXT["tracking_number"] in body and CONTEXT["service_title"] in body
    row = await _row(queued.id)
    assert (row.status, row.attempts, row.last_error) == ("sent", 1, None) and row.sent_at is not None
    # The outbox delivers jobs at least once: a second run finds the row sent and sends nothing.
    await delivery.deliver(notification_id=queued.id)
    assert len(smtp_server.to(to)) == 1 and (await _row(queued.id)).attempts == 1


async def test_thai_email_arrives_in_thai(smtp_server):
    to = _address()
    async with unit_of_work() as session:
        await queue_email(session, to=to, template="application_returned", context=CONTEXT, locale="th")
    [message] = smtp_server.to(to)
    assert message["Subject"] == f"คำขอเลขที่ {CONTEXT['tracking_number']} ต้องแก้ไขหรือยื่นเอกสารเพิ่มเติม"
    assert "รายการที่ต้องแก้ไขหรือยื่นเพิ่มเติม" in message.get_content()


async def test_rolled_back_message_is_neither_stored_nor_sent(smtp_server):
    to = _address()
    with pytest.raises(Boom):
        async with unit_of_work() as session:
            await queue_email(session, to=to, template="application_received", context=CONTEXT, locale="th")
            raise Boom()
    assert smtp_server.to(to) == []
    async with unit_of_work() as session:
        assert (await session.scalars(select(Notification).where(Notification.recipient == to))).all() == []


async def test_unknown_template_refused_before_anything_is_stored():
    async with unit_of_work() as session:
        with pytest.raises(ValueError):
            await queue_email(session, to=_address(), template="no_such_template", context={}, locale="th")
        assert not [o for o in session.new if isinstance(o, (Notification, OutboxJob))]


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
async def test_smtp_down_records_attempts_then_fails(smtp_down):
    to = _address()
    async with unit_of_work() as session:
        queued = await queue_email(session, to=to, template="application_received", context=CONTEXT, locale="th")
    # The first try ran after the commit and failed: the row waits for Huey's retry.
    row = await _row(queued.id)
    assert (row.status, row.attempts) == ("queued", 1) and row.sent_at is None
    assert row.last_error.startswith("ConnectionRefusedError") and to not in row.last_error
    for attempt in range(2, delivery.MAX_ATTEMPTS):
        with pytest.raises(OSError):
            await delivery.deliver(notification_id=queued.id)  # raising is what makes Huey retry
        assert (await _row(queued.id)).attempts == attempt
    await delivery.deliver(notification_id=queued.id)  # the last try records failure and stops
    row = await _row(queued.id)
    assert (row.status, row.attempts) == ("failed", delivery.MAX_ATTEMPTS) and row.last_error
    await delivery.deliver(notification_id=queued.id)
    assert (await _row(queued.id)).attempts == delivery.MAX_ATTEMPTS  # a failed row is not retried


async def test_without_smtp_server_the_email_stays_in_the_local_outbox():
    async with unit_of_work() as session:
        queued = await queue_email(session, to=_address(), template="application_decided", context=CONTEXT, locale="en")
    row = await _row(queued.id)
    assert (row.status, row.attempts) == ("outbox", 1) and row.sent_at is not None
    assert row.subject.startswith("Decision on application") and "Reasons and details" in row.body


async def test_a_row_being_sent_by_another_worker_is_left_alone(smtp_server):
    to = _address()
    async with unit_of_work() as session:
        queued = await queue_email(session, to=to, template="application_received", context=CONTEXT, locale="th")
        queued.status = "sending"  # as if claimed in the same instant by another worker
        queued.claimed_at = delivery.utcnow()
    assert smtp_server.to(to) == []
    await delivery.deliver(notification_id=queued.id)
    assert smtp_server.to(to) == [] and (await _row(queued.id)).status == "sending"


async def test_sms_is_logged_with_the_number_masked(app):
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    root = logging.getLogger()
    handler.setFormatter(root.handlers[0].formatter)
    root.addHandler(handler)
    try:
        async with unit_of_work() as session:
            queued = await queue_sms(session, to="081-234-5678", template="application_state_changed",
                                     context=CONTEXT, locale="th")
    finally:
        root.removeHandler(handler)
    output = buffer.getvalue()
    assert "sms logged" in output and CONTEXT["tracking_number"] in output
    assert "*******678" in output
    assert "5678" not in output.replace("*******678", "") and "081-234-5678" not in output
    row = await _row(queued.id)
    assert (row.channel, row.status, row.subject, row.attempts) == ("sms", "logged", "", 1)


async def test_sms_sender_can_be_replaced():
    sent: list[tuple[str, str]] = []

    class Gateway:
        async def send(self, *, to: str, body: str) -> delivery.Status:
            sent.append((to, body))
            return delivery.Status.SENT

    delivery.set_sms_sender(Gateway())
    try:
        async with unit_of_work() as session:
            queued = await queue_sms(session, to="0812345678", template="application_received",
                                     context=CONTEXT, locale="en")
    finally:
        delivery.set_sms_sender(delivery.LoggingSmsSender())
    assert sent == [("0812345678", (await _row(queued.id)).body)]
    assert (await _row(queued.id)).status == "sent"


async def test_messages_whose_job_was_lost_are_queued_again():
    long_ago = delivery.utcnow() - timedelta(hours=2)
    rows = {
        # A worker died in the middle of sending; another one queued long ago never got its job.
        "died": Notification(channel="email", recipient=_address(), locale="th", template="application_received",
                             subject="s", body="b", status="sending", attempts=1, claimed_at=long_ago,
                             created_at=long_ago),
        "lost": Notification(channel="email", recipient=_address(), locale="th", template="application_received",
                             subject="s", body="b", status="queued", attempts=0, created_at=long_ago),
        "fresh": Notification(channel="email", recipient=_address(), locale="th", template="application_received",
                              subject="s", body="b", status="queued", attempts=0),
    }
    async with unit_of_work() as session:
        session.add_all(rows.values())
    assert await delivery.requeue_stale() >= 2
    assert (await _row(rows["died"].id)).status == "outbox" and (await _row(rows["died"].id)).attempts == 2
    assert (await _row(rows["lost"].id)).status == "outbox"
    assert (await _row(rows["fresh"].id)).status == "queued"  # its job may still be on its way


async def test_a_recipient_the_server_refuses_fails_at_once(smtp_server):
    async def refuse(server, session, envelope, address, options):  # type: ignore[no-untyped-def]
        return "550 5.1.1 No such mailbox here"

    smtp_server.handle_RCPT = refuse  # type: ignore[attr-defined]
    to = _address()
    async with unit_of_work() as session:
        queued = await queue_email(session, to=to, template="application_received", context=CONTEXT, locale="th")
    row = await _row(queued.id)
    assert (row.status, row.attempts) == ("failed", 1) and "SMTPRecipientsRefused" in row.last_error
    assert to not in row.last_error and smtp_server.to(to) == []
