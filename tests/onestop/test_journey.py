"""Issue 4's acceptance journey over HTTP: a food-shop permit applied for, returned once, resubmitted and issued."""

from __future__ import annotations

import html
import re
from datetime import datetime, timedelta

import httpx
from sqlalchemy import func, select

from govhub.db import unit_of_work
from govhub.exchange.evidence import EvidenceRecord
from govhub.exchange.service import subject_hash
from govhub.identity.models import OfficerRole
from govhub.kit.clock import format_datetime
from govhub.notify.models import Notification
from govhub.onestop.models import Application, ApplicationDocument, ApplicationEvent
from tests import factories as f
from tests.onestop.conftest import SOMCHAI, SUDA, officer_of, sign_in_demo
from tests.onestop.test_application_pages import PDF, PREMISES

COMPANY_ID = "0105561012346"
COMPANY_NAME = "บริษัท ครัวสุดา จำกัด"
PURPOSE = "one-stop application: food-shop-permit"
DOPA_PERSON = "TH/GOV/DOPA/civil-registry/person"
DBD_COMPANY = "TH/GOV/DBD/company-registry/juristic-person"
# The form requires both the floor plan and the training certificate, so an application cannot
# reach the officer with a file left out. What happens at a municipality's counter is that a
# file is there but does not show what the ordinance asks for: here the floor plan has no scale
# and leaves out the kitchen, the washing-up point and the toilets. The officer lists that.
DEFICIENCIES = [
    "1. แผนผังสถานที่ไม่มีมาตราส่วนและขนาดของพื้นที่",
    "2. แผนผังไม่แสดงตำแหน่งห้องครัว จุดล้างภาชนะ และห้องน้ำ",
]
INSPECTION = "ตรวจสถานที่แล้ว ถูกสุขลักษณะ ระบายอากาศและแสงสว่างเพียงพอ"
# The applicant's timeline, in order: (what happened, the status it led to).
STEPS = [
    ("Application submitted", "Submitted"),
    ("Return as incomplete", "Returned for corrections"),
    ("Resubmit", "Submitted"),
    ("Accept as complete", "Site inspection"),
    ("Record the inspection", "Under review"),
    ("Approve", "Fee to pay"),
    ("Fee paid", "Permit issued"),
]
# A different, valid PDF: the corrected floor plan.
SCALED_PLAN = PDF.replace(b"endobj", b"endobj\n% drawn at 1:100 with kitchen, wash area and toilets\n", 1)


def _text(page: httpx.Response) -> str:
    """The page's text as a reader sees it: tags dropped, entities decoded, spaces collapsed."""
    without_tags = re.sub(r"<[^>]+>", " ", page.text)
    return re.sub(r"\s+", " ", html.unescape(without_tags))


async def _post(client: httpx.AsyncClient, url: str, data: dict[str, str], files: dict | None = None) -> httpx.Response:
    token = f.csrf_from((await client.get("/account")).text)
    return await client.post(url, data={**data, "csrf_token": token}, files=files)


async def _case(application_id: str) -> Application:
    async with unit_of_work() as session:
        application = await session.get(Application, application_id)
        assert application is not None
        return application


async def _evidence_seq() -> int:
    async with unit_of_work() as session:
        return int(await session.scalar(select(func.coalesce(func.max(EvidenceRecord.seq), -1))))


def _timeline(page: httpx.Response) -> list[tuple[str, str, str, str]]:
    """(label, ISO time, status line, comment) of each step on the applicant's tracking page."""
    listing = re.search(r'<ol class="timeline">(.*?)</ol>', page.text, re.S)
    assert listing, "the tracking page has no timeline"
    steps = []
    for item in re.findall(r"<li>(.*?)</li>", listing.group(1), re.S):
        label = re.search(r"<strong>(.*?)</strong>", item, re.S).group(1)
        at = re.search(r'<time datetime="([^"]+)">', item).group(1)
        status = re.search(r"<p>Status: (.*?)</p>", item, re.S)
        comment = re.search(r'<p class="comment">(.*?)</p>', item, re.S)
        steps.append((" ".join(label.split()), at, " ".join(status.group(1).split()) if status else "",
                      html.unescape(comment.group(1)) if comment else ""))
    return steps


async def test_food_shop_permit_applied_returned_once_resubmitted_and_issued(app, client, onestop_demo):
    """Suda applies with consent, is returned once, resubmits; the officer approves; timeline and access log agree."""
    evidence_before = await _evidence_seq()
    await sign_in_demo(client, SUDA)

    # The service manual leads to the application, which says what will be fetched from whom.
    manual = await client.get("/services/food-shop-permit?lang=en")
    assert manual.status_code == 200 and 'href="/services/food-shop-permit/apply"' in manual.text
    apply_page = await client.get("/services/food-shop-permit/apply?lang=en")
    assert "TH/GOV/DOPA/civil-registry" in apply_page.text and "TH/GOV/DBD/company-registry" in apply_page.text
    assert 'id="consent-yes" name="consent" value="yes"' in apply_page.text
    fields = [" ".join(cell.split()) for cell in re.findall(r"<td>([^<]*)</td></tr>", apply_page.text)]
    assert fields == ["National ID number, Full name", "Juristic person number (if any), Company name"]
    started = await _post(client, "/services/food-shop-permit/apply", {"consent": "yes"})
    assert started.status_code == 303
    application_id = re.fullmatch(r"/applications/([^/]+)/form/0", started.headers["location"]).group(1)

    # Page 1 comes from both registries, marked verified and read-only.
    applicant = await client.get(f"/applications/{application_id}/form/0?lang=en")
    assert applicant.status_code == 200
    for name, value, source in (("applicant_national_id", SUDA, DOPA_PERSON), ("applicant_name", "นางสุดา ค้าขาย", DOPA_PERSON),
                                ("juristic_id", COMPANY_ID, DBD_COMPANY), ("company_name", COMPANY_NAME, DBD_COMPANY)):
        assert re.search(rf'<input id="{name}" name="{name}" type="text"\s+value="{value}" readonly', applicant.text), name
        mark = re.search(rf'<span id="{name}-verified">(.*?)</span>\s*</span>', applicant.text, re.S)
        assert mark and f"Verified: fetched from {source}" in mark.group(1), name
    assert (await _post(client, f"/applications/{application_id}/form/0", {"intent": "next"})).headers["location"] \
        == f"/applications/{application_id}/form/1"
    premises = await _post(client, f"/applications/{application_id}/form/1", {**PREMISES, "intent": "next"})
    assert premises.headers["location"] == f"/applications/{application_id}/form/2"
    uploaded = await _post(client, f"/applications/{application_id}/form/2", {"intent": "next"}, files={
        "floor_plan": ("plan.pdf", PDF, "application/pdf"),
        "hygiene_certificate": ("training.pdf", PDF, "application/pdf"),
    })
    assert uploaded.status_code == 303, _text(uploaded)[:3000]
    assert uploaded.headers["location"] == f"/applications/{application_id}/review"

    review = await client.get(f"/applications/{application_id}/review?lang=en")
    assert "error-summary" not in review.text and "Submit the application" in review.text
    assert "plan.pdf (1 KB)" in review.text and "training.pdf (1 KB)" in review.text  # a small file is not "0 KB"
    assert PREMISES["shop_name"] in review.text
    submitted = await _post(client, f"/applications/{application_id}/submit", {})
    assert submitted.headers["location"] == f"/applications/{application_id}/submitted"
    acknowledgement = await client.get(f"/applications/{application_id}/submitted?lang=en")
    number = re.search(r'class="tracking-number">(NBM-\d{4}-\d{6}-[0-9A-Z])<', acknowledgement.text).group(1)
    first = await _case(application_id)
    assert first.state == "submitted" and first.tracking_number == number

    # The officer finds the floor plan unusable and returns the application, saying why.
    officer = await officer_of(app, "NBM", OfficerRole.REVIEWER, OfficerRole.APPROVER, OfficerRole.FINANCE)
    actions = f"/backoffice/applications/{application_id}/actions"
    assert (await officer.get(f"/backoffice/applications/{application_id}")).status_code == 200
    returned = await _post(officer, f"{actions}/return_incomplete", {"comment": "\n".join(DEFICIENCIES)})
    assert returned.status_code == 303, returned.text
    after_return = await _case(application_id)
    assert after_return.state == "returned" and after_return.returned_count == 1
    assert after_return.due_at - after_return.state_entered_at == timedelta(days=7)

    # Suda sees it returned, with the officer's list and the date to resubmit by, and has an email.
    tracking = await client.get(f"/applications/{application_id}?lang=en")
    shown = _text(tracking)
    assert "Status Returned for corrections" in shown and "Your application was returned to you" in shown
    assert all(line in shown for line in DEFICIENCIES)
    assert f"resubmit before {format_datetime(after_return.due_at, 'en')}" in shown
    assert f'href="/applications/{application_id}/form/0">Correct the application</a>' in tracking.text
    async with unit_of_work() as session:
        email = await session.scalar(select(Notification).where(
            Notification.subject_id == application_id, Notification.template == "application_returned"))
    assert email is not None and email.account_id == first.applicant_account_id and email.channel == "email"
    messages = await client.get("/account/messages?lang=en")
    row = re.search(rf'<tr id="message-{email.id}" data-status="(\w+)">(.*?)</tr>', messages.text, re.S)
    assert row and row.group(1) in ("outbox", "sent"), row and row.group(1)
    assert number in html.unescape(row.group(2)) and all(line in html.unescape(row.group(2)) for line in DEFICIENCIES)

    # She replaces the floor plan (the form page takes her to the review) and resubmits.
    corrected = await _post(client, f"/applications/{application_id}/form/2", {"intent": "next"},
                            files={"floor_plan": ("plan-scaled.pdf", SCALED_PLAN, "application/pdf")})
    assert corrected.headers["location"] == f"/applications/{application_id}/review"
    review = await client.get(f"/applications/{application_id}/review?lang=en")
    assert "Resubmit the application" in review.text and "plan-scaled.pdf" in review.text
    assert "plan.pdf" not in review.text and "training.pdf" in review.text
    resubmitted = await _post(client, f"/applications/{application_id}/submit", {})
    assert resubmitted.headers["location"] == f"/applications/{application_id}"
    after_resubmit = await _case(application_id)
    assert after_resubmit.state == "submitted" and after_resubmit.decision_due_at > first.decision_due_at

    # A second return is refused (the Act allows one); so is a step out of order.
    again = await _post(officer, f"{actions}/return_incomplete?lang=en", {"comment": "ขอเอกสารเพิ่มอีก"})
    assert again.status_code == 409 and "can be returned for incompleteness only once" in _text(again)
    early = await _post(officer, f"{actions}/approve?lang=en", {})
    assert early.status_code == 409 and "not possible in the application's current state" in _text(early)
    assert (await _case(application_id)).state == "submitted"

    # Accepted, inspected, approved: a bill for the fee is opened.
    for action, comment in (("accept", ""), ("inspected", INSPECTION), ("approve", "")):
        done = await _post(officer, f"{actions}/{action}", {"comment": comment})
        assert done.status_code == 303, (action, done.text)
    assert (await _case(application_id)).state == "awaiting_payment"
    # No officer can mark the fee paid, not even a finance officer: only the bank's callback can.
    refused = await _post(officer, f"{actions}/fee_paid?lang=en", {})
    assert refused.status_code == 403 and (await _case(application_id)).state == "awaiting_payment"
    await pay_the_bill_in_the_sandbox(client, application_id)
    issued = await _case(application_id)
    assert issued.state == "issued" and issued.is_final and issued.decided_at is not None
    await officer.aclose()

    # The timeline shows every step in order, with its time and the officers' words.
    async with unit_of_work() as session:
        events = (await session.scalars(select(ApplicationEvent).where(
            ApplicationEvent.application_id == application_id).order_by(ApplicationEvent.seq))).all()
        documents = (await session.scalars(select(ApplicationDocument).where(
            ApplicationDocument.application_id == application_id, ApplicationDocument.replaced_at.is_(None)))).all()
    tracking = await client.get(f"/applications/{application_id}?lang=en")
    steps = _timeline(tracking)
    assert [(label, status) for label, _at, status, _comment in steps] == STEPS
    times = [datetime.fromisoformat(at) for _label, at, _status, _comment in steps]
    assert times == sorted(times) and times == [event.at for event in events]
    assert steps[1][3] == "\n".join(DEFICIENCIES) and steps[4][3] == INSPECTION
    assert [comment for *_, comment in steps if comment] == [steps[1][3], INSPECTION]
    assert "Status Permit issued" in _text(tracking) and "Decision due by" not in tracking.text
    assert sorted(d.filename for d in documents) == ["plan-scaled.pdf", "training.pdf"]

    # The access log shows exactly this application's two registry reads, one per registry.
    async with unit_of_work() as session:
        reads = (await session.scalars(select(EvidenceRecord).where(
            EvidenceRecord.seq > evidence_before).order_by(EvidenceRecord.seq))).all()
    assert sorted((r.provider, r.service_code) for r in reads) == [
        ("TH/GOV/DBD/company-registry", "juristic-person"), ("TH/GOV/DOPA/civil-registry", "person")]
    for read in reads:
        assert read.consumer == "TH/GOV/NBM/one-stop" and read.purpose == PURPOSE and read.status == "allowed"
        assert read.user_id == issued.applicant_account_id
    # The civil registry's person record needs the consent she gave; the company record is open to government.
    assert {r.service_code: r.consent_id for r in reads} == {"person": issued.consent_ids[0], "juristic-person": None}
    assert {r.subject_hash for r in reads} == {subject_hash(SUDA), subject_hash(COMPANY_ID)}
    assert {r.request_id for r in reads} == {mark["request_id"] for mark in issued.verified.values()}
    usage = await client.get("/account/data-usage?lang=en")
    listed = dict(re.findall(r'<tr data-request-id="([^"]+)">(.*?)</tr>', usage.text, re.S))
    async with unit_of_work() as session:
        listed_rows = (await session.scalars(select(EvidenceRecord).where(
            EvidenceRecord.request_id.in_(listed)))).all()
    assert {r.request_id for r in listed_rows if r.seq > evidence_before} == {r.request_id for r in reads}
    for read in reads:
        cells = html.unescape(listed[read.request_id])
        assert PURPOSE in cells and f"<code>{read.service_code}</code>" in cells and "Data sent" in cells

    # Anyone with the tracking number and her ID sees the outcome and nothing personal.
    async with httpx.AsyncClient(transport=client._transport, base_url="http://testserver") as stranger:
        token = f.csrf_from((await stranger.get("/status?lang=en")).text)
        public = await stranger.post("/status?lang=en", data={"tracking_number": number, "id_number": SUDA, "csrf_token": token})
    assert public.status_code == 200
    shown = _text(public)
    assert "Status Permit issued" in shown and number in shown
    for personal in (SUDA, COMPANY_ID, "สุดา", COMPANY_NAME, PREMISES["shop_name"], PREMISES["shop_address"],
                     DEFICIENCIES[0], INSPECTION, "plan-scaled.pdf"):
        assert personal not in shown, personal


async def pay_the_bill_in_the_sandbox(client: httpx.AsyncClient, application_id: str) -> str:
    """The applicant opens the bill from her tracking page and pays it at the sandbox bank; returns the bill id."""
    tracking = await client.get(f"/applications/{application_id}?lang=en")
    bill_id = re.search(r'href="/bills/([0-9a-f-]{36})"', tracking.text).group(1)  # type: ignore[union-attr]
    bill_page = await client.get(f"/bills/{bill_id}?lang=en")
    assert "2,000.00" in bill_page.text and f"/bills/{bill_id}/qr.svg" in bill_page.text
    key = re.search(r'name="idempotency_key" value="([^"]+)"', bill_page.text).group(1)  # type: ignore[union-attr]
    started = await _post(client, f"/bills/{bill_id}/pay", {"idempotency_key": key, "provider": "sandbox"})
    assert started.status_code == 303 and started.headers["location"].startswith("/sandbox-bank/")
    confirmed = await _post(client, started.headers["location"], {"choice": "confirm"})
    assert confirmed.headers["location"] == f"/bills/{bill_id}?result=credited"
    return bill_id


async def _submitted_by_suda(client: httpx.AsyncClient) -> str:
    """Suda's application for a food-shop permit, submitted through her pages; returns its id."""
    await sign_in_demo(client, SUDA)
    started = await _post(client, "/services/food-shop-permit/apply", {"consent": "yes"})
    application_id = started.headers["location"].split("/")[2]
    await _post(client, f"/applications/{application_id}/form/1", {**PREMISES, "intent": "save"})
    await _post(client, f"/applications/{application_id}/form/2", {"intent": "save"}, files={
        "floor_plan": ("plan.pdf", PDF, "application/pdf"), "hygiene_certificate": ("training.pdf", PDF, "application/pdf")})
    submitted = await _post(client, f"/applications/{application_id}/submit", {})
    assert submitted.headers["location"] == f"/applications/{application_id}/submitted"
    return application_id


async def test_an_applicant_cannot_act_as_the_officer_nor_reach_the_back_office(client, onestop_demo):
    """Suda can neither accept her own application (applicant's route) nor open the back office."""
    application_id = await _submitted_by_suda(client)
    own_route = await _post(client, f"/applications/{application_id}/actions/accept?lang=en", {})
    assert own_route.status_code == 403 and "Your role does not allow this action." in own_route.text
    assert (await client.get("/backoffice/applications", headers={"accept": "text/html"})).status_code == 403
    assert (await client.get(f"/backoffice/applications/{application_id}", headers={"accept": "text/html"})).status_code == 403
    back_office = await _post(client, f"/backoffice/applications/{application_id}/actions/accept", {})
    assert back_office.status_code == 403
    assert (await _case(application_id)).state == "submitted"


async def test_another_applicant_cannot_see_or_touch_a_submitted_application(client, onestop_demo):
    """Somchai gets 'not found' for Suda's submitted application: tracking, changes, withdrawal, resubmission."""
    application_id = await _submitted_by_suda(client)
    async with httpx.AsyncClient(transport=client._transport, base_url="http://testserver") as somchai:
        await sign_in_demo(somchai, SOMCHAI)
        for url in (f"/applications/{application_id}", f"/applications/{application_id}/submitted",
                    f"/applications/{application_id}/review"):
            assert (await somchai.get(url)).status_code == 404, url
        for url in (f"/applications/{application_id}/actions/withdraw", f"/applications/{application_id}/submit",
                    f"/applications/{application_id}/form/1"):
            assert (await _post(somchai, url, {"shop_name": "ร้านของคนอื่น"})).status_code == 404, url
        listing = await somchai.get("/applications")
        assert application_id not in listing.text
    application = await _case(application_id)
    assert application.state == "submitted" and application.data["shop_name"] == PREMISES["shop_name"]


async def test_an_officer_cannot_act_for_the_applicant_nor_out_of_order(app, client, onestop_demo):
    """The agency's officer cannot resubmit or withdraw for Suda, nor approve what is not yet reviewed."""
    application_id = await _submitted_by_suda(client)
    officer = await officer_of(app, "NBM", OfficerRole.REVIEWER, OfficerRole.APPROVER, OfficerRole.FINANCE)
    try:
        actions = f"/backoffice/applications/{application_id}/actions"
        for action in ("withdraw", "resubmit", "fee_paid"):
            refused = await _post(officer, f"{actions}/{action}?lang=en", {})
            assert refused.status_code == 403 and "Your role does not allow this action." in refused.text, action
        assert (await _post(officer, f"/applications/{application_id}/actions/withdraw", {})).status_code == 404
        for action in ("approve", "inspected"):
            refused = await _post(officer, f"{actions}/{action}?lang=en", {"comment": "ผ่าน"})
            assert refused.status_code == 409 and "not possible in the application's current state" in _text(refused), action
        async with unit_of_work() as session:
            history = (await session.scalars(select(ApplicationEvent.action).where(
                ApplicationEvent.application_id == application_id))).all()
        assert history == ["submit"] and (await _case(application_id)).state == "submitted"
    finally:
        await officer.aclose()
