"""JSON API of e-Payment: bill inquiry, starting a payment, and the providers' callbacks.

`GET /payments/bills/{billId}` follows the GovStack Payments building block's bill inquiry:
camelCase fields, the amount as a decimal string with its currency, and the bill's status.
`POST /payments/bills/{billId}/payments` takes an `Idempotency-Key` header: a retry with the
same key returns the same payment instead of making a second one.
`POST /payments/callbacks/{provider}` is called by banks; see callbacks.py for the signature.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from govhub.db import SessionDep
from govhub.identity.auth import PublicCaller, SignedIn
from govhub.identity.repository import agency_by_id
from govhub.payments import bills, callbacks, providers
from govhub.payments.models import Bill, PaymentAttempt, ReceivingAccount
from govhub.web.templating import format_baht

router = APIRouter(tags=["payments"])
MAX_CALLBACK_BYTES = 16 * 1024


class BillLineOut(BaseModel):
    """One fee of a bill."""

    description: dict[str, str]
    amount: str
    amountSatang: int  # noqa: N815 (GovStack's field names are camelCase)


class BillOut(BaseModel):
    """A bill, as the bill inquiry returns it."""

    billId: str  # noqa: N815
    billNumber: str  # noqa: N815
    status: str
    currency: str
    amount: str
    amountSatang: int  # noqa: N815
    dueDate: str  # noqa: N815
    createdAt: str  # noqa: N815
    paidAt: str | None  # noqa: N815
    payerName: str  # noqa: N815
    billerAgency: str  # noqa: N815
    billerId: str  # noqa: N815
    ref1: str
    ref2: str
    description: dict[str, str]
    lines: list[BillLineOut]
    applicationId: str | None  # noqa: N815
    qrPayload: str | None  # noqa: N815


class PaymentStart(BaseModel):
    """Start paying a bill with a provider."""

    model_config = ConfigDict(extra="forbid")

    provider: str = Field(default="sandbox", max_length=16)


class PaymentStarted(BaseModel):
    """A payment attempt and where the payer goes next."""

    paymentId: str  # noqa: N815
    billId: str  # noqa: N815
    status: str
    amountSatang: int  # noqa: N815
    redirectUrl: str | None  # noqa: N815


async def bill_out(session: SessionDep, bill: Bill) -> BillOut:
    """The bill inquiry's answer for one bill."""
    account = await session.get(ReceivingAccount, bill.receiving_account_id)
    agency = await agency_by_id(session, bill.agency_id)
    assert account is not None
    lines = await bills.lines_of(session, bill)
    return BillOut(
        billId=bill.id, billNumber=bill.bill_number, status=str(bill.status), currency=bill.currency,
        amount=format_baht(bill.amount_satang).replace(",", ""), amountSatang=bill.amount_satang,
        dueDate=bill.due_at.isoformat(), createdAt=bill.created_at.isoformat(),
        paidAt=bill.paid_at.isoformat() if bill.paid_at else None, payerName=bill.payer_name,
        billerAgency=agency.code if agency else "", billerId=account.biller_id, ref1=bill.ref1, ref2=bill.ref2,
        description={"th": bill.description_th, "en": bill.description_en},
        lines=[BillLineOut(description={"th": line.label_th, "en": line.label_en},
                           amount=format_baht(line.amount_satang).replace(",", ""), amountSatang=line.amount_satang)
               for line in lines],
        applicationId=bill.application_id,
        qrPayload=bills.qr_payload(bill, account) if bills.is_payable(bill) else None,
    )


@router.get("/payments/bills/{bill_id}", response_model=BillOut)
async def bill_inquiry(bill_id: str, session: SessionDep, caller: SignedIn) -> BillOut:
    """Bill inquiry: amount, references, due date and status (payer and billing agency only)."""
    return await bill_out(session, await bills.for_reader(session, caller, bill_id))


@router.post("/payments/bills/{bill_id}/payments", response_model=PaymentStarted, status_code=201)
async def start_payment(
    bill_id: str, body: PaymentStart, session: SessionDep, caller: SignedIn,
    idempotency_key: Annotated[str, Header(alias="Idempotency-Key", max_length=64)] = "",
) -> PaymentStarted:
    """Start paying a bill; the same Idempotency-Key returns the same payment."""
    bill = await bills.for_reader(session, caller, bill_id)
    attempt: PaymentAttempt = await providers.start_payment(
        session, bill=bill, caller=caller, idempotency_key=idempotency_key, provider_name=body.provider)
    return PaymentStarted(paymentId=attempt.id, billId=bill.id, status=str(attempt.status),
                          amountSatang=attempt.amount_satang,
                          redirectUrl=providers.provider(attempt.provider).start_url(attempt))


@router.post("/payments/callbacks/{provider}")
async def provider_callback(
    provider: str, request: Request, session: SessionDep, caller: PublicCaller,
    signature: Annotated[str | None, Header(alias=callbacks.SIGNATURE_HEADER, max_length=200)] = None,
) -> JSONResponse:
    """A bank's notice of a payment, signed with the shared secret (see callbacks.py)."""
    body = await request.body()
    if len(body) > MAX_CALLBACK_BYTES:
        raise callbacks.MalformedNotice()
    outcome = await callbacks.receive(session, provider=provider, body=body, signature=signature)
    payload: dict[str, Any] = {"outcome": outcome.code, "billId": outcome.bill.id if outcome.bill else None}
    return JSONResponse(payload)
