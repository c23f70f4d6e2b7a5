"""Refunds: a finance officer records money given back, with the reason; it is never silent."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from govhub.identity.auth import Caller
from govhub.kit.clock import utcnow
from govhub.kit.errors import Conflict, NotFound
from govhub.kit.i18n import N_
from govhub.payments import bills
from govhub.payments.models import Bill, BillStatus, Payment, PaymentStatus, Refund


async def payment_for_finance(session: AsyncSession, *, caller: Caller, payment_id: str) -> tuple[Payment, Bill]:
    """A payment of a bill of the caller's agency, for its finance officers."""
    payment = await session.get(Payment, payment_id)
    bill = await session.get(Bill, payment.bill_id) if payment else None
    if payment is None or bill is None:
        raise NotFound()
    bills.require_finance(caller, bill)
    return payment, bill


async def record_refund(session: AsyncSession, *, caller: Caller, payment_id: str, reason: str) -> Refund:
    """Refund a payment in full: a held one (paid twice, wrong amount, late) or the bill's own."""
    payment, bill = await payment_for_finance(session, caller=caller, payment_id=payment_id)
    reason = bills.checked_reason(reason)
    if payment.status == PaymentStatus.REFUNDED or await session.scalar(
            select(Refund.id).where(Refund.payment_id == payment.id)):
        raise Conflict(N_("This payment has already been refunded."), code="already_refunded")
    refund = Refund(payment_id=payment.id, bill_id=bill.id, amount_satang=payment.amount_satang, reason=reason,
                    recorded_by=caller.account.id, recorded_at=utcnow())
    session.add(refund)
    if payment.status == PaymentStatus.CREDITED:
        # The fee itself goes back: the bill no longer stands paid, nor does its receipt.
        bill.status, bill.status_reason = BillStatus.REFUNDED, reason
        await _revoke_receipt(session, payment, caller, reason)
    payment.status = PaymentStatus.REFUNDED
    await session.flush()
    return refund


async def _revoke_receipt(session: AsyncSession, payment: Payment, caller: Caller, reason: str) -> None:
    from govhub.documents.models import DocumentStatus, IssuedDocument

    receipt = await session.get(IssuedDocument, payment.receipt_document_id) if payment.receipt_document_id else None
    if receipt is not None and receipt.status == DocumentStatus.VALID:
        receipt.status, receipt.status_reason = DocumentStatus.REVOKED, reason
        receipt.status_changed_at, receipt.status_changed_by = utcnow(), caller.account.id


async def refunds_of(session: AsyncSession, bill: Bill) -> list[Refund]:
    """The refunds recorded against a bill."""
    return list((await session.scalars(
        select(Refund).where(Refund.bill_id == bill.id).order_by(Refund.recorded_at))).all())


async def payments_of(session: AsyncSession, bill: Bill) -> list[Payment]:
    """Every payment received for a bill, the credited one and any held."""
    return list((await session.scalars(
        select(Payment).where(Payment.bill_id == bill.id).order_by(Payment.received_at))).all())
