"""Identity background jobs: security notices, emailed through notify after the change commits."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from govhub.db import unit_of_work
from govhub.identity import repository
from govhub.jobs import enqueue, job
from govhub.kit.i18n import N_, current_locale, gettext
from govhub.notify.service import queue_email

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
            message = gettext(NOTICES[action])
        finally:
            current_locale.reset(token)
        # One mail path: notify stores the message, sends it after this commit, records the outcome.
        await queue_email(
            session, to=account.email, template="security_notice", context={"message": message},
            locale=account.preferred_locale, account_id=account.id,
            subject_kind="account", subject_id=account.id,
        )


def send_security_notice_later(session: AsyncSession, *, account_id: str, action: str) -> None:
    """Queue the notice; it is sent only if the change that caused it commits."""
    enqueue(session, "identity.send_security_notice", account_id=account_id, action=action)
