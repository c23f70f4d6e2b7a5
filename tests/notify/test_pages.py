"""My messages shows only my own; the notifications log is for administrators."""

from __future__ import annotations

from sqlalchemy import select

from govhub.db import unit_of_work
from govhub.identity.models import Account
from govhub.notify.models import Notification
from govhub.notify.service import queue_email
from tests import factories as f
from tests.identity.test_admin import make_staff, sign_in_staff_with_totp
from tests.notify.test_rendering import CONTEXT


async def _account(email: str) -> Account:
    async with unit_of_work() as session:
        return (await session.scalars(select(Account).where(Account.email == email))).one()


async def test_outbox_messages_show_to_their_account_only(client, app):
    owner = await f.register_citizen(client)
    account = await _account(owner["email"])
    number = "OSS-PAGE-" + f.national_id()[:6]
    async with unit_of_work() as session:
        queued = await queue_email(
            session, to=owner["email"], template="application_received",
            context={**CONTEXT, "tracking_number": number}, locale="en",
            account_id=account.id, subject_kind="application", subject_id="app-page",
        )
    page = await client.get("/account/messages?lang=en")
    assert page.status_code == 200 and number in page.text
    assert f'id="message-{queued.id}"' in page.text and "Kept in the local outbox" in page.text
    assert "<caption" in page.text and '<th scope="col">' in page.text
    assert 'href="/account/messages"' in (await client.get("/account")).text

    await f.sign_out(client)
    await f.register_citizen(client)
    other = await client.get("/account/messages?lang=en")
    assert other.status_code == 200 and number not in other.text and "No messages" in other.text


async def test_my_messages_needs_sign_in(client):
    response = await client.get("/account/messages", headers={"accept": "text/html"})
    assert response.status_code == 303 and response.headers["location"].startswith("/sign-in")


async def test_security_notice_goes_through_notify(client):
    person = await f.register_citizen(client)
    await f.enrol_totp(client)
    account = await _account(person["email"])
    async with unit_of_work() as session:
        rows = (await session.scalars(select(Notification).where(Notification.account_id == account.id))).all()
    [notice] = [row for row in rows if row.template == "security_notice"]
    assert (notice.status, notice.recipient, notice.channel) == ("outbox", person["email"], "email")
    assert notice.subject in ("การแจ้งเตือนด้านความปลอดภัยจาก govhub", "govhub security notice")
    page = await client.get("/account/messages")
    assert f'id="message-{notice.id}"' in page.text


async def test_notifications_log_is_for_administrators(client, session):
    await f.register_citizen(client)
    refused = await client.get("/admin/notifications", headers={"accept": "text/html"})
    assert refused.status_code == 403
    await f.sign_out(client)

    admin = await make_staff(session)
    await sign_in_staff_with_totp(client, admin)
    assert 'href="/admin/notifications"' in (await client.get("/admin")).text
    to = f.email()
    async with unit_of_work() as db:
        queued = await queue_email(db, to=to, template="application_decided", context=CONTEXT, locale="th")
    page = await client.get("/admin/notifications?status=outbox&lang=en")
    assert page.status_code == 200 and f'id="notification-{queued.id}"' in page.text
    assert to not in page.text and to[0] + "***@example.go.th" in page.text  # recipients masked
    assert "application_decided" in page.text and "<caption" in page.text
    failed_only = await client.get("/admin/notifications?status=failed&lang=en")
    assert f'id="notification-{queued.id}"' not in failed_only.text
    odd = await client.get("/admin/notifications?status=nonsense&lang=en")
    assert odd.status_code == 200  # an unknown status is ignored, not an error
