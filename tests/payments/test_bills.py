"""Bills: the inquiry API and who may read it, idempotent payment start, the sandbox bank's
reject and timeout, finance officers' refunds and cancellations, and the bill's references.
"""

from __future__ import annotations

import re

import httpx
from sqlalchemy import select
from stdnum import luhn

from govhub.db import unit_of_work
from govhub.identity.models import OfficerRole
from govhub.payments import bills
from govhub.payments.models import AttemptStatus, Bill, PaymentAttempt, Refund
from tests.onestop.conftest import SOMCHAI, SUDA, officer_of, sign_in_demo
from tests.onestop.test_journey import _post
from tests.payments.test_callbacks import notice, open_bill_for_suda, post, state_of


def test_ref1_is_year_running_number_and_a_luhn_digit():
    ref1 = bills.format_ref1(2569, 123)
    assert len(ref1) == 13 and ref1.startswith("256900000123") and luhn.is_valid(ref1)
    assert bills.bill_number(ref1) == f"2569-00000123-{ref1[-1]}"
    assert bills.as_reference("NBM-2569-000123-J") == "NBM2569000123J" and bills.as_reference("") == "0"


async def _json(client: httpx.AsyncClient, method: str, url: str, **kwargs) -> httpx.Response:
    return await client.request(method, url, headers={"accept": "application/json", **kwargs.pop("headers", {})}, **kwargs)


async def test_the_bill_inquiry_is_for_the_payer_and_the_agency_only(app, client, onestop_demo):
    bill = await open_bill_for_suda(123_45)
    await sign_in_demo(client, SUDA)
    answer = (await _json(client, "GET", f"/payments/bills/{bill.id}")).json()
    assert answer["billId"] == bill.id and answer["amount"] == "123.45" and answer["amountSatang"] == 12_345
    assert answer["status"] == "open" and answer["ref1"] == bill.ref1 and answer["billerAgency"] == "NBM"
    assert answer["lines"] == [{"description": {"th": "ค่าธรรมเนียม", "en": "Fee"}, "amount": "123.45", "amountSatang": 12345}]
    assert answer["qrPayload"].startswith("000201010212")
    async with httpx.AsyncClient(transport=client._transport, base_url="http://testserver") as somchai:
        await sign_in_demo(somchai, SOMCHAI)
        assert (await _json(somchai, "GET", f"/payments/bills/{bill.id}")).status_code == 404
        assert (await somchai.get(f"/bills/{bill.id}")).status_code == 404
    outsider = await officer_of(app, "DOPA", OfficerRole.FINANCE)
    assert (await _json(outsider, "GET", f"/payments/bills/{bill.id}")).status_code == 404
    staff = await officer_of(app, "NBM", OfficerRole.REVIEWER)
    assert (await _json(staff, "GET", f"/payments/bills/{bill.id}")).status_code == 200
    async with httpx.AsyncClient(transport=client._transport, base_url="http://testserver") as anonymous:
        assert (await _json(anonymous, "GET", f"/payments/bills/{bill.id}")).status_code == 401
    await outsider.aclose()
    await staff.aclose()


async def test_the_same_idempotency_key_starts_one_payment(client, onestop_demo):
    bill = await open_bill_for_suda()
    other = await open_bill_for_suda()
    await sign_in_demo(client, SUDA)
    token = re.search(r'name="csrf_token" value="([^"]+)"', (await client.get("/account")).text).group(1)  # type: ignore[union-attr]
    start = {"headers": {"Idempotency-Key": "key-0123456789", "X-CSRF-Token": token}, "json": {"provider": "sandbox"}}
    first = await _json(client, "POST", f"/payments/bills/{bill.id}/payments", **start)
    again = await _json(client, "POST", f"/payments/bills/{bill.id}/payments", **start)
    assert first.status_code == again.status_code == 201 and first.json() == again.json()
    assert first.json()["redirectUrl"] == f"/sandbox-bank/{first.json()['paymentId']}"
    reused = await _json(client, "POST", f"/payments/bills/{other.id}/payments", **start)
    assert reused.status_code == 409 and reused.json()["error"]["code"] == "idempotency_key_reused"
    missing = await _json(client, "POST", f"/payments/bills/{bill.id}/payments",
                          headers={"X-CSRF-Token": token}, json={"provider": "sandbox"})
    assert missing.status_code == 422
    async with unit_of_work() as session:
        attempts = (await session.scalars(select(PaymentAttempt).where(PaymentAttempt.bill_id == bill.id))).all()
    assert len(attempts) == 1


async def _sandbox(client: httpx.AsyncClient, bill: Bill, choice: str) -> httpx.Response:
    page = await client.get(f"/bills/{bill.id}?lang=en")
    key = re.search(r'name="idempotency_key" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    started = await _post(client, f"/bills/{bill.id}/pay", {"idempotency_key": key, "provider": "sandbox"})
    return await _post(client, started.headers["location"], {"choice": choice})


async def test_the_sandbox_bank_rejecting_or_timing_out_leaves_the_bill_open(client, onestop_demo):
    bill = await open_bill_for_suda()
    await sign_in_demo(client, SUDA)
    rejected = await _sandbox(client, bill, "reject")
    assert rejected.headers["location"] == f"/bills/{bill.id}?result=rejected"
    timed_out = await _sandbox(client, bill, "timeout")
    assert timed_out.headers["location"] == f"/bills/{bill.id}?result=timed_out"
    page = await client.get(timed_out.headers["location"] + "&lang=en")
    assert "do not pay twice" in page.text and "Pay online" in page.text
    assert await state_of(bill.id) == ("open", [])
    async with unit_of_work() as session:
        statuses = sorted(str(a.status) for a in (await session.scalars(
            select(PaymentAttempt).where(PaymentAttempt.bill_id == bill.id))).all())
    assert statuses == [AttemptStatus.REJECTED, AttemptStatus.TIMED_OUT]
    # A bank answer cannot be given twice for one attempt.
    attempt_url = f"/sandbox-bank/{(await _latest_attempt(bill.id)).id}"
    assert (await _post(client, f"{attempt_url}?lang=en", {"choice": "confirm"})).status_code == 409


async def _latest_attempt(bill_id: str) -> PaymentAttempt:
    async with unit_of_work() as session:
        attempt = await session.scalar(select(PaymentAttempt).where(PaymentAttempt.bill_id == bill_id)
                                       .order_by(PaymentAttempt.created_at.desc()).limit(1))
        assert attempt is not None
        return attempt


async def test_finance_refunds_a_held_payment_with_a_reason_once(app, client, onestop_demo):
    bill = await open_bill_for_suda()
    await post(client, notice(bill))
    await post(client, notice(bill))  # paid twice: the second is held
    _status, payments = await state_of(bill.id)
    assert [p[0] for p in payments] == ["credited", "held"]
    async with unit_of_work() as session:
        from govhub.payments.models import Payment

        held = await session.scalar(select(Payment).where(Payment.bill_id == bill.id, Payment.status == "held"))
        assert held is not None
    reviewer = await officer_of(app, "NBM", OfficerRole.REVIEWER)
    refused = await _post(reviewer, f"/bills/{bill.id}/refunds?lang=en", {"payment_id": held.id, "reason": "x"})
    assert refused.status_code == 403 and "finance officers" in refused.text
    finance = await officer_of(app, "NBM", OfficerRole.FINANCE)
    page = await finance.get(f"/bills/{bill.id}?lang=en")
    assert "Held, to be refunded" in page.text and "Record refund" in page.text
    no_reason = await _post(finance, f"/bills/{bill.id}/refunds?lang=en", {"payment_id": held.id, "reason": ""})
    assert no_reason.status_code == 422
    done = await _post(finance, f"/bills/{bill.id}/refunds", {"payment_id": held.id, "reason": "ชำระซ้ำ โอนคืนแล้ว"})
    assert done.status_code == 303
    twice = await _post(finance, f"/bills/{bill.id}/refunds?lang=en", {"payment_id": held.id, "reason": "อีกครั้ง"})
    assert twice.status_code == 409
    assert await state_of(bill.id) == ("paid", [("credited", 150_000, ""), ("refunded", 150_000, "already_paid")])
    async with unit_of_work() as session:
        refunds = (await session.scalars(select(Refund).where(Refund.bill_id == bill.id))).all()
    assert [(r.amount_satang, r.reason) for r in refunds] == [(150_000, "ชำระซ้ำ โอนคืนแล้ว")]
    await reviewer.aclose()
    await finance.aclose()


async def test_finance_cancels_an_open_bill_and_it_can_no_longer_be_paid(app, client, onestop_demo):
    bill = await open_bill_for_suda()
    finance = await officer_of(app, "NBM", OfficerRole.FINANCE)
    assert (await _post(finance, f"/bills/{bill.id}/cancel?lang=en", {"reason": ""})).status_code == 422
    assert (await _post(finance, f"/bills/{bill.id}/cancel", {"reason": "ออกใบแจ้งผิดจำนวน"})).status_code == 303
    assert (await state_of(bill.id))[0] == "cancelled"
    late = await post(client, notice(bill))
    assert late.json()["outcome"] == "bill_not_payable" and (await state_of(bill.id))[0] == "cancelled"
    await sign_in_demo(client, SUDA)
    page = await client.get(f"/bills/{bill.id}?lang=en")
    assert "Cancelled" in page.text and "ออกใบแจ้งผิดจำนวน" in page.text and "qr.svg" not in page.text
    assert (await client.get(f"/bills/{bill.id}/qr.svg")).status_code == 404
    await finance.aclose()


async def test_the_qr_image_is_a_standalone_svg_of_the_payload(client, onestop_demo):
    """Served as a file, the SVG needs its namespace or browsers draw nothing."""
    bill = await open_bill_for_suda()
    await sign_in_demo(client, SUDA)
    image = await client.get(f"/bills/{bill.id}/qr.svg")
    assert image.status_code == 200 and image.headers["content-type"].startswith("image/svg+xml")
    assert 'xmlns="http://www.w3.org/2000/svg"' in image.text and image.text.lstrip().startswith("<svg")
