"""Payment callbacks: the only way a bill becomes paid.

A provider (a bank, or the sandbox bank of the demo) posts a JSON notice signed with
HMAC-SHA256 over "<timestamp>.<body>" using the secret it shares with govhub, in the header
`X-Govhub-Signature: t=<unix seconds>,v1=<hex>`. govhub refuses a bad signature and a
timestamp outside the window, then records the notice's `event_id` once: the same notice
sent again (a retry, or an attacker replaying a captured one) is answered "duplicate" and
changes nothing. The bank's `transaction_id` is unique too, so two notices of one transfer
credit once.

Money is credited to a bill only when the bill is open, not past due, and the amount is
exact. Anything else that arrives is recorded as a held payment for a finance officer to
refund: it never pays a bill twice.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import time
from dataclasses import dataclass
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from govhub.config import get_settings
from govhub.db import dialect_insert
from govhub.kit.clock import utcnow
from govhub.kit.errors import AppError
from govhub.kit.i18n import N_
from govhub.kit.ids import new_id
from govhub.kit.observability import get_logger
from govhub.jobs import enqueue
from govhub.onestop import workflow
from govhub.onestop.models import Application
from govhub.payments.models import (
    AttemptStatus,
    Bill,
    BillStatus,
    CallbackReceipt,
    Payment,
    PaymentAttempt,
    PaymentStatus,
)

log = get_logger("govhub.payments")
SIGNATURE_HEADER = "X-Govhub-Signature"
PROVIDERS = ("bank", "sandbox")
RECEIPT_JOB = "documents.issue_receipt"
_TIMESTAMP = re.compile(r"\d{1,12}")


class CallbackRefused(AppError):
    """A callback that is not believed: bad signature, stale timestamp, unknown provider."""

    status_code = 401
    code = "callback_refused"


class MalformedNotice(AppError):
    """A signed callback whose body is not a payment notice."""

    status_code = 400
    code = "malformed_notice"


class Notice(BaseModel):
    """What a provider tells govhub about one transfer."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    event_id: str = Field(min_length=1, max_length=64)
    transaction_id: str = Field(min_length=1, max_length=64)
    status: Literal["paid", "rejected"]
    ref1: str = Field(min_length=1, max_length=20, pattern=r"^[0-9A-Z]+$")
    ref2: str = Field(default="", max_length=20, pattern=r"^[0-9A-Z]*$")
    amount_satang: int = Field(ge=0, le=999_999_999_999)
    # With its offset: a bank's local time without one would be ambiguous.
    paid_at: AwareDatetime
    attempt_id: str | None = Field(default=None, max_length=36)


@dataclass(frozen=True)
class Outcome:
    """What a callback did; `code` is stable and returned to the provider."""

    code: str  # credited | duplicate | unknown_bill | amount_mismatch | already_paid | bill_not_payable | rejected
    bill: Bill | None = None
    payment: Payment | None = None

    @property
    def credited(self) -> bool:
        """True if this callback paid its bill."""
        return self.code == "credited"


def provider_secret(provider: str) -> bytes:
    """The shared secret of a provider."""
    settings = get_settings()
    if provider == "bank":
        return settings.payment_bank_callback_secret.get_secret_value().encode()
    if provider == "sandbox" and settings.payment_sandbox_enabled:
        return settings.payment_sandbox_secret.get_secret_value().encode()
    raise CallbackRefused(N_("Unknown payment provider."))


def sign(secret: bytes, body: bytes, timestamp: int) -> str:
    """The signature header value for a body sent at `timestamp`."""
    digest = hmac.new(secret, f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def verify_signature(secret: bytes, body: bytes, header: str | None, *, now: float | None = None) -> None:
    """Refuse a missing or wrong signature, or one made outside the time window."""
    parts = dict(part.strip().split("=", 1) for part in (header or "").split(",") if "=" in part)
    given_time, given_mac = parts.get("t", ""), parts.get("v1", "")
    if not _TIMESTAMP.fullmatch(given_time):
        raise CallbackRefused(N_("The callback is not signed."))
    timestamp = int(given_time)
    expected = sign(secret, body, timestamp).split("v1=", 1)[1]
    # Bytes on both sides: a non-ASCII header value must be a refusal, not an error.
    if not hmac.compare_digest(expected.encode(), given_mac.encode("utf-8", "replace")):
        raise CallbackRefused(N_("The callback's signature is wrong."))
    window = get_settings().payment_callback_window_seconds
    if abs((now if now is not None else time.time()) - timestamp) > window:
        raise CallbackRefused(N_("The callback is too old or from the future."), code="callback_stale")


def parse_notice(body: bytes) -> Notice:
    """The notice in a verified body."""
    try:
        return Notice.model_validate(json.loads(body))
    except (ValueError, ValidationError) as error:
        raise MalformedNotice(N_("The callback's body is not a valid payment notice.")) from error


async def receive(session: AsyncSession, *, provider: str, body: bytes, signature: str | None) -> Outcome:
    """Check a callback's signature and apply its notice once."""
    verify_signature(provider_secret(provider), body, signature)
    notice = parse_notice(body)
    return await apply_notice(session, provider=provider, notice=notice,
                              body_sha256=hashlib.sha256(body).hexdigest())



async def _first_time(session: AsyncSession, *, provider: str, notice: Notice, body_sha256: str) -> str | None:
    """Record the notice's event id; None if it was seen before (a replay or a retry)."""
    statement = (
        dialect_insert(session)(CallbackReceipt)
        .values(id=new_id(), provider=provider, event_id=notice.event_id, body_sha256=body_sha256,
                received_at=utcnow(), outcome="received")
        .on_conflict_do_nothing(index_elements=["provider", "event_id"])
        .returning(CallbackReceipt.id)
    )
    return (await session.execute(statement)).scalar_one_or_none()


async def apply_notice(session: AsyncSession, *, provider: str, notice: Notice, body_sha256: str) -> Outcome:
    """Apply one verified notice: credit, hold, record a rejection, or do nothing."""
    receipt_id = await _first_time(session, provider=provider, notice=notice, body_sha256=body_sha256)
    if receipt_id is None:
        return Outcome("duplicate")
    bill = await session.scalar(select(Bill).where(Bill.ref1 == notice.ref1))
    outcome = await _settle(session, provider=provider, notice=notice, bill=bill)
    receipt = await session.get(CallbackReceipt, receipt_id)
    assert receipt is not None
    receipt.outcome = outcome.code
    receipt.bill_id = bill.id if bill else None
    receipt.payment_id = outcome.payment.id if outcome.payment else None
    receipt.notice = notice.model_dump(mode="json")
    log.info("payment callback", provider=provider, outcome=outcome.code, bill_id=receipt.bill_id)
    if outcome.credited:
        await _after_credit(session, outcome)
    return outcome


async def _after_credit(session: AsyncSession, outcome: Outcome) -> None:
    """A bill was paid: its e-receipt is issued, and its case moves on (and may be issued)."""
    assert outcome.bill is not None and outcome.payment is not None
    enqueue(session, RECEIPT_JOB, payment_id=outcome.payment.id)
    if outcome.bill.application_id:
        application = await session.get(Application, outcome.bill.application_id)
        if application is not None:
            await workflow.take_payment_action(session, application=application)


async def _settle(session: AsyncSession, *, provider: str, notice: Notice, bill: Bill | None) -> Outcome:
    if bill is None or (notice.ref2 and notice.ref2 != bill.ref2):
        return Outcome("unknown_bill")
    if notice.status == "rejected":
        await _finish_attempt(session, notice, bill, AttemptStatus.REJECTED)
        return Outcome("rejected", bill)
    if await session.scalar(select(Payment.id).where(
            Payment.provider == provider, Payment.transaction_id == notice.transaction_id)):
        return Outcome("duplicate", bill)
    held = _why_held(bill, notice)
    payment = Payment(
        provider=provider, transaction_id=notice.transaction_id, bill_id=bill.id,
        attempt_id=await _attempt_id(session, notice, bill), amount_satang=notice.amount_satang,
        paid_at=notice.paid_at, received_at=utcnow(),
        status=PaymentStatus.HELD if held else PaymentStatus.CREDITED, held_reason=held or "",
    )
    session.add(payment)
    if not held:
        # The bill's version column makes a concurrent second credit fail, not succeed.
        bill.status, bill.paid_at = BillStatus.PAID, notice.paid_at
        await _finish_attempt(session, notice, bill, AttemptStatus.CONFIRMED)
    await session.flush()
    return Outcome(held or "credited", bill, payment)


def _why_held(bill: Bill, notice: Notice) -> str | None:
    """Why money for this bill cannot pay it (None: it can)."""
    if bill.status == BillStatus.PAID:
        return "already_paid"
    if bill.status != BillStatus.OPEN or notice.paid_at > bill.due_at:
        return "bill_not_payable"
    if notice.amount_satang != bill.amount_satang:
        return "amount_mismatch"
    return None


async def _attempt_id(session: AsyncSession, notice: Notice, bill: Bill) -> str | None:
    if not notice.attempt_id:
        return None
    attempt = await session.get(PaymentAttempt, notice.attempt_id)
    return attempt.id if attempt is not None and attempt.bill_id == bill.id else None


async def _finish_attempt(session: AsyncSession, notice: Notice, bill: Bill, status: AttemptStatus) -> None:
    attempt_id = await _attempt_id(session, notice, bill)
    if attempt_id is None:
        return
    attempt = await session.get(PaymentAttempt, attempt_id)
    if attempt is not None and attempt.status == AttemptStatus.PENDING:
        attempt.status, attempt.finished_at = status, utcnow()
