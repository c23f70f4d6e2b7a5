"""Payment providers: how a payer pays, and how the money's arrival reaches govhub.

Every provider ends in the same place: a signed callback to `callbacks.receive`. The bank
provider is a real bank's: the payer scans the bill's Thai QR in a banking app, and the bank
posts the callback to `/payments/callbacks/bank`. The sandbox provider plays the bank for the
demo: a page where the payer confirms, rejects or lets the payment time out; its confirmation
is a callback signed with the sandbox's own secret and checked exactly like a bank's.
"""

from __future__ import annotations

import json
import re
import time
from typing import Literal, Protocol

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from govhub.config import get_settings
from govhub.identity.auth import Caller
from govhub.kit.clock import utcnow
from govhub.kit.errors import Conflict, NotFound, ValidationFailed
from govhub.kit.i18n import N_
from govhub.kit.ids import new_id
from govhub.payments import bills, callbacks
from govhub.payments.models import AttemptStatus, Bill, PaymentAttempt

IDEMPOTENCY_KEY = r"^[A-Za-z0-9_-]{8,64}$"
SandboxChoice = Literal["confirm", "reject", "timeout"]


class PaymentProvider(Protocol):
    """Where the payer goes to pay one attempt (None: they pay by scanning the QR)."""

    name: str

    def start_url(self, attempt: PaymentAttempt) -> str | None:
        """The page that takes the payer through paying, if the provider has one."""
        ...


class BankProvider:
    """A real bank: payment by Thai QR in the payer's banking app; the bank calls back."""

    name = "bank"

    def start_url(self, attempt: PaymentAttempt) -> str | None:
        """No page of ours: the payer's banking app takes over."""
        return None


class SandboxProvider:
    """The demo's bank: a page of govhub that plays the bank (off in production)."""

    name = "sandbox"

    def start_url(self, attempt: PaymentAttempt) -> str | None:
        """The sandbox bank's page for this attempt."""
        return f"/sandbox-bank/{attempt.id}"


def provider(name: str) -> PaymentProvider:
    """The provider of this name, if this installation offers it."""
    if name == "sandbox" and get_settings().payment_sandbox_enabled:
        return SandboxProvider()
    if name == "bank":
        return BankProvider()
    raise ValidationFailed(N_("This payment method is not offered."), field="provider")


async def start_payment(
    session: AsyncSession, *, bill: Bill, caller: Caller, idempotency_key: str, provider_name: str,
) -> PaymentAttempt:
    """Start paying a bill; the same key gives back the same attempt, so a retry never pays twice."""
    if not re.match(IDEMPOTENCY_KEY, idempotency_key or ""):
        raise ValidationFailed(N_("The payment request has no valid idempotency key."), field="idempotency_key")
    if not bills.is_payer(caller, bill):
        raise NotFound()
    existing = await session.scalar(select(PaymentAttempt).where(
        PaymentAttempt.payer_account_id == caller.account.id, PaymentAttempt.idempotency_key == idempotency_key))
    if existing is not None:
        if existing.bill_id != bill.id or existing.provider != provider_name:
            raise Conflict(N_("This idempotency key was already used for another payment."), code="idempotency_key_reused")
        return existing
    chosen = provider(provider_name)
    if not bills.is_payable(bill):
        raise Conflict(N_("This bill can no longer be paid."), code="bill_not_payable")
    attempt = PaymentAttempt(bill_id=bill.id, payer_account_id=caller.account.id, idempotency_key=idempotency_key,
                             provider=chosen.name, amount_satang=bill.amount_satang, created_at=utcnow())
    session.add(attempt)
    await session.flush()
    return attempt


def sandbox_choice(value: str) -> SandboxChoice:
    """What the payer chose on the sandbox bank's page."""
    if value not in ("confirm", "reject", "timeout"):
        raise ValidationFailed(N_("Choose what the bank does."), field="choice")
    return value  # type: ignore[return-value]


async def sandbox_attempt(session: AsyncSession, *, caller: Caller, attempt_id: str) -> tuple[PaymentAttempt, Bill]:
    """A sandbox attempt of the caller's, with its bill."""
    provider("sandbox")
    attempt = await session.get(PaymentAttempt, attempt_id)
    if attempt is None or attempt.provider != "sandbox" or attempt.payer_account_id != caller.account.id:
        raise NotFound()
    bill = await session.get(Bill, attempt.bill_id)
    assert bill is not None
    return attempt, bill


async def sandbox_answer(
    session: AsyncSession, *, caller: Caller, attempt_id: str, choice: SandboxChoice,
) -> callbacks.Outcome | None:
    """The sandbox bank answers: a signed callback for confirm or reject; nothing for a timeout."""
    attempt, bill = await sandbox_attempt(session, caller=caller, attempt_id=attempt_id)
    if attempt.status != AttemptStatus.PENDING:
        raise Conflict(N_("The bank has already answered this payment."), code="attempt_finished")
    if choice == "timeout":
        attempt.status, attempt.finished_at = AttemptStatus.TIMED_OUT, utcnow()
        return None
    body = json.dumps({
        "event_id": new_id(), "transaction_id": f"SBX{attempt.id.replace('-', '')[:28].upper()}",
        "status": "paid" if choice == "confirm" else "rejected", "ref1": bill.ref1, "ref2": bill.ref2,
        "amount_satang": attempt.amount_satang, "paid_at": utcnow().isoformat(), "attempt_id": attempt.id,
    }).encode()
    signature = callbacks.sign(callbacks.provider_secret("sandbox"), body, int(time.time()))
    return await callbacks.receive(session, provider="sandbox", body=body, signature=signature)
