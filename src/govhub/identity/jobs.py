"""Identity background jobs: security notices sent by email after the change commits."""

from __future__ import annotations

import smtplib
from email.message import EmailMessage

from govhub.config import get_settings
from govhub.db import unit_of_work
from govhub.identity import repository
from sqlalchemy.ext.asyncio import AsyncSession

from govhub.jobs import enqueue, job
from govhub.kit.i18n import N_, current_locale, gettext
from govhub.kit.observability import get_logger

log = get_logger("govhub.identity.jobs")

NOTICES = {
    "totp.enabled": N_("Two-factor authentication was turned on for your govhub account."),
    "totp.disabled": N_("Two-factor authentication was turned off for your govhub account."),
    "password.changed": N_("The password of your govhub account was changed."),
    "signed_out.everywhere": N_("Your govhub account was signed out on every device."),
    "account.locked": N_("Your govhub account was locked after several failed sign-in attempts."),
}


@job("identity.send_security_notice")
async def send_security_notice(*, account_id: str, action: str) -> None:
    """Email the account holder that a security-relevant change happened."""
    async with unit_of_work() as session:
        account = await repository.account_by_id(session, account_id)
    if account is None or action not in NOTICES:
        return
    token = current_locale.set(account.preferred_locale)
    try:
        body = gettext(NOTICES[action]) + "\n\n" + gettext(
            N_("If this was not you, sign in and choose 'Sign out everywhere', then change your password.")
        )
        subject = gettext(N_("govhub security notice"))
    finally:
        current_locale.reset(token)
    settings = get_settings()
    if not settings.smtp_host:
        # One machine, no mail server: record that the notice would have gone out.
        log.info("security notice not emailed (no SMTP configured)", action=action, account_id=account_id)
        return
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = settings.mail_from, account.email, subject
    message.set_content(body)
    with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=30) as smtp:
        smtp.starttls()
        smtp.send_message(message)


def send_security_notice_later(session: AsyncSession, *, account_id: str, action: str) -> None:
    """Queue the notice; it is sent only if the change that caused it commits."""
    enqueue(session, "identity.send_security_notice", account_id=account_id, action=action)
