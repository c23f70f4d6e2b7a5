"""The payer's pages (the bill with its Thai QR, paying, the sandbox bank) and finance officers'
pages (a bill's payments, refunds, cancelling a bill).
"""

from __future__ import annotations

import io
from typing import Annotated, Any

import segno
from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select

from govhub.config import get_settings
from govhub.db import SessionDep
from govhub.identity.auth import SignedIn
from govhub.identity.repository import agency_by_id
from govhub.documents.models import IssuedDocument
from govhub.kit.errors import AppError, NotFound
from govhub.kit.i18n import N_, gettext
from govhub.kit.clock import utcnow
from govhub.kit.ids import new_id
from govhub.payments import bills, providers, refunds
from govhub.payments.models import Bill, BillStatus, Payment, PaymentAttempt, PaymentStatus, ReceivingAccount
from govhub.web.forms import form_error, see_other
from govhub.web.templating import render

router = APIRouter(include_in_schema=False)
STATUS_LABELS = {
    BillStatus.OPEN: N_("Open: to pay"), BillStatus.PAID: N_("Paid"), BillStatus.EXPIRED: N_("Expired"),
    BillStatus.CANCELLED: N_("Cancelled"), BillStatus.REFUNDED: N_("Refunded"),
}
PAYMENT_LABELS = {
    PaymentStatus.CREDITED: N_("Paid this bill"), PaymentStatus.HELD: N_("Held, to be refunded"),
    PaymentStatus.REFUNDED: N_("Refunded"),
}
HELD_LABELS = {
    "already_paid": N_("the bill was already paid"), "amount_mismatch": N_("not the bill's amount"),
    "bill_not_payable": N_("the bill could no longer be paid"),
}


def _labels(labels: dict[Any, str]) -> dict[str, str]:
    return {str(key): gettext(value) for key, value in labels.items()}


async def bill_context(session: SessionDep, caller: Any, bill: Bill) -> dict[str, Any]:
    """What the bill page shows: lines, account, QR payload, payments, refunds, who may do what."""
    account = await session.get(ReceivingAccount, bill.receiving_account_id)
    assert account is not None
    payable = bills.is_payable(bill)
    return {
        "bill": bill, "lines": await bills.lines_of(session, bill), "account": account,
        "agency": await agency_by_id(session, bill.agency_id),
        "qr_payload": bills.qr_payload(bill, account) if payable else None, "payable": payable,
        "is_payer": bills.is_payer(caller, bill), "is_finance": bills.is_finance(caller, bill),
        "payments": await refunds.payments_of(session, bill) if bills.is_agency_staff(caller, bill) else [],
        "refunds": await refunds.refunds_of(session, bill), "idempotency_key": new_id(),
        "sandbox": _sandbox_on(), "now": utcnow(), "receipts": await receipts_of(session, bill),
        "status_labels": _labels(STATUS_LABELS), "payment_labels": _labels(PAYMENT_LABELS),
        "held_labels": _labels(HELD_LABELS),
    }


async def receipts_of(session: SessionDep, bill: Bill) -> list[IssuedDocument]:
    """The e-receipts issued for the bill's payments."""
    return list((await session.scalars(
        select(IssuedDocument).where(
            IssuedDocument.kind == "receipt",
            IssuedDocument.payment_id.in_(select(Payment.id).where(Payment.bill_id == bill.id)),
        ).order_by(IssuedDocument.issued_at)
    )).all())


def _sandbox_on() -> bool:
    return get_settings().payment_sandbox_enabled


@router.get("/bills/{bill_id}")
async def bill_page(request: Request, bill_id: str, session: SessionDep, caller: SignedIn) -> HTMLResponse:
    """The bill: fees, references, due date, and the Thai QR to scan (printable)."""
    bill = await bills.for_reader(session, caller, bill_id)
    return render(request, "payments/bill.html", await bill_context(session, caller, bill))


@router.get("/bills/{bill_id}/qr.svg")
async def bill_qr(bill_id: str, session: SessionDep, caller: SignedIn) -> Response:
    """The bill's Thai QR as an SVG image (only while the bill can be paid)."""
    bill = await bills.for_reader(session, caller, bill_id)
    account = await session.get(ReceivingAccount, bill.receiving_account_id)
    if account is None or not bills.is_payable(bill):
        return Response(status_code=404)
    # A standalone SVG file needs its xmlns (svg_inline leaves it out: browsers then show nothing).
    svg = io.BytesIO()
    segno.make(bills.qr_payload(bill, account), error="m", micro=False).save(
        svg, kind="svg", scale=6, border=4, xmldecl=False)
    return Response(svg.getvalue(), media_type="image/svg+xml", headers={"Cache-Control": "no-store"})


@router.post("/bills/{bill_id}/pay")
async def pay(
    request: Request, bill_id: str, session: SessionDep, caller: SignedIn,
    idempotency_key: Annotated[str, Form(max_length=64)] = "", provider: Annotated[str, Form(max_length=16)] = "sandbox",
) -> Response:
    """Start paying: the same form sent twice (a double click, a retry) is one payment."""
    bill = await bills.for_reader(session, caller, bill_id)
    try:
        attempt = await providers.start_payment(session, bill=bill, caller=caller, idempotency_key=idempotency_key,
                                                provider_name=provider)
    except AppError as error:
        return await form_error(request, session, "payments/bill.html", error,
                                lambda: _fresh_context(session, caller, bill_id))
    url = providers.provider(attempt.provider).start_url(attempt)
    return see_other(url or f"/bills/{bill.id}")


@router.get("/sandbox-bank/{attempt_id}")
async def sandbox_page(request: Request, attempt_id: str, session: SessionDep, caller: SignedIn) -> HTMLResponse:
    """The sandbox bank: confirm, reject, or let the payment time out."""
    attempt, bill = await providers.sandbox_attempt(session, caller=caller, attempt_id=attempt_id)
    return render(request, "payments/sandbox.html", {"attempt": attempt, "bill": bill})


@router.post("/sandbox-bank/{attempt_id}")
async def sandbox_answer(
    request: Request, attempt_id: str, session: SessionDep, caller: SignedIn,
    choice: Annotated[str, Form(max_length=16)] = "",
) -> Response:
    """The sandbox bank answers, through the same signed callback a bank sends."""
    try:
        outcome = await providers.sandbox_answer(session, caller=caller, attempt_id=attempt_id,
                                                 choice=providers.sandbox_choice(choice))
    except AppError as error:
        async def context() -> dict[str, Any]:
            await session.refresh(caller.account)
            attempt, bill = await providers.sandbox_attempt(session, caller=caller, attempt_id=attempt_id)
            return {"attempt": attempt, "bill": bill}
        return await form_error(request, session, "payments/sandbox.html", error, context)
    attempt = await session.get(PaymentAttempt, attempt_id)
    assert attempt is not None
    return see_other(f"/bills/{attempt.bill_id}?result={outcome.code if outcome else 'timed_out'}")


@router.post("/bills/{bill_id}/cancel")
async def cancel_bill(
    request: Request, bill_id: str, session: SessionDep, caller: SignedIn,
    reason: Annotated[str, Form(max_length=4000)] = "",
) -> Response:
    """A finance officer cancels an open bill, with the reason."""
    bill = await bills.for_reader(session, caller, bill_id)
    try:
        await bills.cancel(session, bill=bill, caller=caller, reason=reason)
    except AppError as error:
        return await form_error(request, session, "payments/bill.html", error,
                                lambda: _fresh_context(session, caller, bill_id))
    return see_other(f"/bills/{bill_id}")


@router.post("/bills/{bill_id}/refunds")
async def refund(
    request: Request, bill_id: str, session: SessionDep, caller: SignedIn,
    payment_id: Annotated[str, Form(max_length=36)] = "", reason: Annotated[str, Form(max_length=4000)] = "",
) -> Response:
    """A finance officer records a refund of one of the bill's payments, with the reason."""
    bill = await bills.for_reader(session, caller, bill_id)
    try:
        payment, owner = await refunds.payment_for_finance(session, caller=caller, payment_id=payment_id)
        if owner.id != bill.id:
            raise NotFound()
        await refunds.record_refund(session, caller=caller, payment_id=payment.id, reason=reason)
    except AppError as error:
        return await form_error(request, session, "payments/bill.html", error,
                                lambda: _fresh_context(session, caller, bill_id))
    return see_other(f"/bills/{bill_id}")


async def _fresh_context(session: SessionDep, caller: Any, bill_id: str) -> dict[str, Any]:
    """The bill page's context after form_error's rollback, which expired the caller's account too."""
    await session.refresh(caller.account)
    bill = await bills.for_reader(session, caller, bill_id)
    return await bill_context(session, caller, bill)
