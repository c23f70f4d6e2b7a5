"""Bank callbacks over HTTP: forged, stale, replayed, unknown, wrong amount, paid twice, expired.

Each case gets a clear answer and none ever credits a bill twice. The bills are opened for
Suda by NBM with the real `open_bill`; callbacks are signed with the bank's shared secret.
"""

from __future__ import annotations

import json
import time
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from govhub.config import get_settings
from govhub.db import unit_of_work
from govhub.identity import repository as identity_repository
from govhub.kit.clock import utcnow
from govhub.kit.ids import new_id
from govhub.payments import bills, callbacks
from govhub.payments.jobs import expire_bills
from govhub.payments.models import Bill, BillStatus, CallbackReceipt, Payment, PaymentStatus
from tests.onestop.conftest import SUDA

CALLBACK = "/payments/callbacks/bank"


async def open_bill_for_suda(amount_satang: int = 150_000, *, due_in: timedelta | None = None) -> Bill:
    """A bill of NBM's for Suda, opened as the workflow opens one."""
    async with unit_of_work() as session:
        suda = await identity_repository.account_by_identifier(session, SUDA)
        agency = await identity_repository.agency_by_code(session, "NBM")
        assert suda is not None and agency is not None
        bill = await bills.open_bill(
            session, agency_id=agency.id, payer_account_id=suda.id, payer_name="สุดา ทดสอบ",
            fees=[bills.Fee("ค่าธรรมเนียม", "Fee", amount_satang)], description_th="ทดสอบ", description_en="Test",
            ref2="NBM2569TEST")
        if due_in is not None:
            bill.due_at = utcnow() + due_in
        return bill


def notice(bill: Bill, **changes: Any) -> dict[str, Any]:
    """A bank's notice that the bill was paid in full, now."""
    return {"event_id": new_id(), "transaction_id": f"TXN{new_id()[:20].replace('-', '')}", "status": "paid",
            "ref1": bill.ref1, "ref2": bill.ref2, "amount_satang": bill.amount_satang,
            "paid_at": utcnow().isoformat(), **changes}


def signed(body: dict[str, Any] | bytes, *, secret: bytes | None = None, at: int | None = None) -> tuple[bytes, dict[str, str]]:
    """The body and the headers a bank sends."""
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    secret = secret if secret is not None else get_settings().payment_bank_callback_secret.get_secret_value().encode()
    return raw, {"content-type": "application/json",
                 callbacks.SIGNATURE_HEADER: callbacks.sign(secret, raw, at if at is not None else int(time.time()))}


async def post(client: httpx.AsyncClient, body: dict[str, Any] | bytes, **signing: Any) -> httpx.Response:
    """Send a signed callback without cookies, as a bank's server does."""
    raw, headers = signed(body, **signing)
    async with httpx.AsyncClient(transport=client._transport, base_url="http://testserver") as bank:
        return await bank.post(CALLBACK, content=raw, headers=headers)


async def state_of(bill_id: str) -> tuple[str, list[tuple[str, int, str]]]:
    """The bill's status and its payments (status, amount, why held)."""
    async with unit_of_work() as session:
        bill = await session.get(Bill, bill_id)
        payments = (await session.scalars(select(Payment).where(Payment.bill_id == bill_id)
                                          .order_by(Payment.received_at))).all()
        assert bill is not None
        return str(bill.status), [(str(p.status), p.amount_satang, p.held_reason) for p in payments]


async def test_a_signed_callback_credits_the_bill_once(client, onestop_demo):
    bill = await open_bill_for_suda()
    response = await post(client, notice(bill))
    assert response.status_code == 200 and response.json() == {"outcome": "credited", "billId": bill.id}
    assert await state_of(bill.id) == ("paid", [("credited", 150_000, "")])
    async with unit_of_work() as session:
        paid = await session.get(Bill, bill.id)
        assert paid is not None and paid.paid_at is not None


async def test_a_forged_callback_is_refused_and_changes_nothing(client, onestop_demo):
    bill = await open_bill_for_suda()
    forged = await post(client, notice(bill), secret=b"not-the-bank-secret")
    assert forged.status_code == 401 and forged.json()["error"]["code"] == "callback_refused"
    raw, headers = signed(notice(bill))
    tampered = raw.replace(b'"amount_satang": 150000', b'"amount_satang": 100')
    async with httpx.AsyncClient(transport=client._transport, base_url="http://testserver") as bank:
        assert (await bank.post(CALLBACK, content=tampered, headers=headers)).status_code == 401
        unsigned = await bank.post(CALLBACK, content=raw, headers={"content-type": "application/json"})
        assert unsigned.status_code == 401
        unknown_provider = await bank.post("/payments/callbacks/paypal", content=raw, headers=headers)
        assert unknown_provider.status_code == 401
    assert await state_of(bill.id) == ("open", [])


async def test_a_stale_or_future_callback_is_refused(client, onestop_demo):
    bill = await open_bill_for_suda()
    window = get_settings().payment_callback_window_seconds
    old = await post(client, notice(bill), at=int(time.time()) - window - 5)
    future = await post(client, notice(bill), at=int(time.time()) + window + 5)
    assert old.status_code == future.status_code == 401
    assert old.json()["error"]["code"] == "callback_stale"
    assert await state_of(bill.id) == ("open", [])


async def test_a_replayed_callback_is_a_duplicate_that_changes_nothing(client, onestop_demo):
    bill = await open_bill_for_suda()
    body = notice(bill)
    first, again = await post(client, body), await post(client, body)
    assert first.json()["outcome"] == "credited" and again.json()["outcome"] == "duplicate"
    # The same transfer notified again under a new event id is the same payment, not a second one.
    renotified = await post(client, {**body, "event_id": new_id()})
    assert renotified.json()["outcome"] == "duplicate"
    assert await state_of(bill.id) == ("paid", [("credited", 150_000, "")])
    async with unit_of_work() as session:
        receipts = (await session.scalars(select(CallbackReceipt.outcome).where(
            CallbackReceipt.bill_id == bill.id).order_by(CallbackReceipt.received_at))).all()
    assert list(receipts) == ["credited", "duplicate"]


async def test_a_callback_for_an_unknown_bill_credits_nothing(client, onestop_demo):
    bill = await open_bill_for_suda()
    unknown = await post(client, notice(bill, ref1="2569999999999"))
    assert unknown.status_code == 200 and unknown.json() == {"outcome": "unknown_bill", "billId": None}
    wrong_ref2 = await post(client, notice(bill, ref2="SOMEONEELSE"))
    assert wrong_ref2.json()["outcome"] == "unknown_bill"
    assert await state_of(bill.id) == ("open", [])
    async with unit_of_work() as session:
        assert await session.scalar(select(func.count()).select_from(Payment).where(Payment.bill_id == bill.id)) == 0


async def test_a_wrong_amount_is_held_and_the_bill_stays_open(client, onestop_demo):
    bill = await open_bill_for_suda()
    short = await post(client, notice(bill, amount_satang=100_000))
    assert short.json()["outcome"] == "amount_mismatch"
    assert await state_of(bill.id) == ("open", [("held", 100_000, "amount_mismatch")])
    # The right amount afterwards pays it.
    assert (await post(client, notice(bill))).json()["outcome"] == "credited"
    assert (await state_of(bill.id))[0] == "paid"


async def test_a_second_payment_of_a_paid_bill_is_held_for_refund_never_credited(client, onestop_demo):
    bill = await open_bill_for_suda()
    assert (await post(client, notice(bill))).json()["outcome"] == "credited"
    twice = await post(client, notice(bill))
    assert twice.json()["outcome"] == "already_paid"
    status, payments = await state_of(bill.id)
    assert status == "paid" and payments == [("credited", 150_000, ""), ("held", 150_000, "already_paid")]


async def test_an_expired_bill_cannot_be_paid(client, onestop_demo):
    bill = await open_bill_for_suda(due_in=timedelta(minutes=-1))
    assert await expire_bills() >= 1
    late = await post(client, notice(bill))
    assert late.json()["outcome"] == "bill_not_payable"
    assert await state_of(bill.id) == ("expired", [("held", 150_000, "bill_not_payable")])


async def test_a_payment_dated_after_the_due_time_is_not_credited(client, onestop_demo):
    bill = await open_bill_for_suda()
    after_due = await post(client, notice(bill, paid_at=(bill.due_at + timedelta(seconds=1)).isoformat()))
    assert after_due.json()["outcome"] == "bill_not_payable" and (await state_of(bill.id))[0] == "open"


@pytest.mark.parametrize("body", [b"not json", b"{}", json.dumps({"event_id": "x"}).encode(),
                                  json.dumps({"event_id": "e", "transaction_id": "t", "status": "paid", "ref1": "1",
                                              "amount_satang": -5, "paid_at": "2026-01-01T00:00:00+07:00"}).encode()])
async def test_a_signed_but_malformed_notice_is_refused(client, onestop_demo, body):
    response = await post(client, body)
    assert response.status_code == 400 and response.json()["error"]["code"] == "malformed_notice"


async def test_two_simultaneous_credits_of_one_bill_credit_once(client, onestop_demo, monkeypatch):
    """Two transfers arriving at the same moment: the bill's version makes the second wait or fail."""
    import asyncio

    # The tests run jobs inline on the event loop's thread; a receipt rendered there while the
    # other request holds SQLite's write lock would wait for it in vain. Receipts are not the point here.
    queued: list[str] = []
    monkeypatch.setattr(callbacks, "enqueue", lambda session, name, **payload: queued.append(name))
    bill = await open_bill_for_suda()
    results = await asyncio.gather(post(client, notice(bill)), post(client, notice(bill)), return_exceptions=True)
    outcomes = sorted(r.json().get("outcome", str(r.status_code)) if r.status_code == 200 else str(r.status_code)
                      for r in results if isinstance(r, httpx.Response))
    status, payments = await state_of(bill.id)
    assert status == "paid" and [p[0] for p in payments].count("credited") == 1
    assert outcomes[0] in ("409", "already_paid", "credited") and "credited" in outcomes
    assert queued == ["documents.issue_receipt"]


async def test_odd_signature_headers_and_naive_times_are_refused_not_errors(client, onestop_demo):
    bill = await open_bill_for_suda()
    raw = json.dumps(notice(bill)).encode()
    async with httpx.AsyncClient(transport=client._transport, base_url="http://testserver") as bank:
        for header in (f"t={int(time.time())},v1=\u00e9", "t= +12,v1=00", "t=99999999999999999999,v1=00", "v1=00", ""):
            refused = await bank.post(CALLBACK, content=raw, headers={
                "content-type": "application/json", callbacks.SIGNATURE_HEADER: header.encode("latin-1")})
            assert refused.status_code == 401, header
    # A bank's local time without its offset is ambiguous: refused, not guessed.
    naive = await post(client, notice(bill, paid_at="2026-11-24T10:00:00"))
    assert naive.status_code == 400 and (await state_of(bill.id)) == ("open", [])
