"""Issue 4's journey in headless Chromium: a food-shop permit applied for, returned once, resubmitted,
approved, paid at the sandbox bank, issued as a signed e-license, verified, and revoked."""

# The applicant uses the portal in Thai (the browser's language); the officer, in a second
# browser, switches to English. Controls are found through their labels, roles and the
# manual's own wording (field and action labels come from the catalog in both languages),
# not through interface wording that translators may still change. Where the applicant's
# step needs the interface's own wording (the bill, the bank, the verification page), it is
# read from the Thai catalog the server uses (`th`): the test follows the translators, and
# an untranslated message is shown, and found, in English.

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import pyotp
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from govhub.identity.demo import DEMO_PASSWORD
from govhub.kit.i18n import translations_for
from tests.e2e.conftest import TIMEOUT_MS
from tests.e2e.test_browser_journeys import expect_language, labelled, open_in
from tests.factories import PASSWORD, email, national_id

pytestmark = pytest.mark.browser

T = TypeVar("T")
Shot = Callable[[Page, str], Path]
SUDA = "1103700012346"  # the demo business representative of บริษัท ครัวสุดา จำกัด
COMPANY_ID = "0105561012346"
SERVICE = "/services/food-shop-permit"
PDF = b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
SCALED_PLAN = PDF.replace(b"endobj", b"endobj\n% drawn at 1:100 with kitchen, wash area and toilets\n", 1)
# Both files are required by the form; the realistic return is a floor plan that does not show
# what the ordinance asks for (see tests/onestop/test_journey.py).
DEFICIENCIES = "1. แผนผังสถานที่ไม่มีมาตราส่วนและขนาดของพื้นที่\n2. แผนผังไม่แสดงตำแหน่งห้องครัว จุดล้างภาชนะ และห้องน้ำ"
INSPECTION = "ตรวจสถานที่แล้ว ถูกสุขลักษณะ ระบายอากาศและแสงสว่างเพียงพอ"
# The applicant's timeline in Thai: each step's status, as the manual names it, and its comment.
STEPS = [
    ("submit", "ยื่นคำขอแล้ว", ""),
    ("return_incomplete", "ส่งคืนให้แก้ไข", DEFICIENCIES),
    ("resubmit", "ยื่นคำขอแล้ว", ""),
    ("accept", "ตรวจสถานที่", ""),
    ("inspected", "พิจารณา", INSPECTION),
    ("approve", "รอชำระค่าธรรมเนียม", ""),
    ("fee_paid", "ออกใบอนุญาตแล้ว", ""),  # taken by govhub when the bank's callback credits the bill
]
# The manual's Thai labels of the actions (officers', hers, govhub's), as the applicant's timeline shows them.
ACTION_LABELS_TH = {"return_incomplete": "ส่งคืนเพื่อแก้ไขเอกสาร", "resubmit": "ส่งคำขออีกครั้ง", "accept": "รับคำขอ",
                    "inspected": "บันทึกผลตรวจสถานที่", "approve": "อนุญาต", "fee_paid": "ชำระค่าธรรมเนียมแล้ว"}
AWAITING_PAYMENT_TH, ISSUED_TH = "รอชำระค่าธรรมเนียม", "ออกใบอนุญาตแล้ว"  # the manual's "Fee to pay", "Permit issued"
OFFICER_NAME = "วิชัย ตรวจสอบ"
FEE_SATANG, FEE_SHOWN = 200_000, "2,000.00"
LICENSE_TITLE_TH = "ใบอนุญาตจัดตั้งสถานที่จำหน่ายอาหาร"  # the manual's document title (as its own title)
REVOCATION = "ตรวจพบว่าร้านย้ายที่ตั้งไปจากที่ได้รับอนุญาต ใบอนุญาตฉบับนี้จึงใช้ไม่ได้"
DOCUMENTS_WAIT_S = 10.0  # jobs run inline after the commit, in a thread: documents appear a moment later


def th(message: str, **params: Any) -> str:
    """An interface message as the server shows it in Thai (its English text while untranslated)."""
    text = translations_for("th").gettext(message)
    return text % params if params else text


# --- the live server's database, from the test process ------------------------------------------


def in_database(work: Callable[[Any], Awaitable[T]]) -> T:
    """Run work(session) in a unit of work on its own thread and event loop (the browser owns this one)."""

    async def run() -> T:
        from govhub.db import dispose_engine, unit_of_work

        try:
            async with unit_of_work() as session:
                return await work(session)
        finally:
            await dispose_engine()

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, run()).result()


@pytest.fixture(scope="module")
def suda(live_server: str) -> Any:
    """Demo data in the live server's database; Suda as the civil registry knows her, not yet verified (IAL1)."""
    from govhub.exchange.demo import load_demo_exchange
    from govhub.identity import repository
    from govhub.identity.demo import load_demo_identity
    from govhub.onestop.demo import load_demo_onestop
    from govhub.payments.demo import load_demo_payments

    in_database(load_demo_identity)
    people = in_database(lambda session: load_demo_exchange(session, persons=300, companies=60))
    in_database(load_demo_onestop)
    in_database(load_demo_payments)  # NBM's receiving account and signing key: the bill and the e-license need them

    async def unverify(session: Any) -> None:
        account = await repository.account_by_identifier(session, SUDA)
        account.ial, account.ial_verified_at, account.ial_verified_by = 1, None, None

    in_database(unverify)  # other tests may have verified her already; this journey does it in the browser
    return next(person for person in people if person.national_id == SUDA)


def new_officer(totp_secret: str) -> str:
    """A new officer of the municipality (reviewer, approver, finance) with TOTP on; returns the email."""
    from govhub.identity import repository, service
    from govhub.identity.models import AccountKind, OfficerRole
    from govhub.identity.totp import seal
    from govhub.kit.clock import utcnow

    address = email()

    async def create(session: Any) -> None:
        agency = await repository.agency_by_code(session, "NBM")
        officer = await service.create_staff_account(
            session, kind=AccountKind.OFFICER, email=address, full_name=OFFICER_NAME, national_id=national_id(),
            password=PASSWORD, agency_id=agency.id,
            roles=[OfficerRole.REVIEWER, OfficerRole.APPROVER, OfficerRole.FINANCE],
        )
        officer.totp_secret_encrypted = seal(totp_secret)
        officer.totp_enabled_at = utcnow()

    in_database(create)
    return address


def application_row(application_id: str) -> dict[str, Any]:
    """The application's state, data marks and history, as stored."""
    from sqlalchemy import select

    from govhub.onestop.models import Application, ApplicationEvent

    async def read(session: Any) -> dict[str, Any]:
        application = await session.get(Application, application_id)
        events = (await session.scalars(select(ApplicationEvent).where(
            ApplicationEvent.application_id == application_id).order_by(ApplicationEvent.seq))).all()
        return {"state": application.state, "tracking_number": application.tracking_number,
                "verified": dict(application.verified), "returned_count": application.returned_count,
                "events": [(event.action, event.at) for event in events],
                "actors": [(event.action, event.actor_role, event.actor_account_id) for event in events]}

    return in_database(read)


def bill_row(application_id: str) -> dict[str, Any]:
    """The case's one bill, as stored."""
    from sqlalchemy import select

    from govhub.payments.models import Bill

    async def read(session: Any) -> dict[str, Any]:
        (bill,) = (await session.scalars(select(Bill).where(Bill.application_id == application_id))).all()
        return {"id": bill.id, "number": bill.bill_number, "amount_satang": bill.amount_satang,
                "status": str(bill.status)}

    return in_database(read)


def issued_rows(application_id: str) -> dict[str, dict[str, Any]]:
    """The case's issued documents by kind (license, receipt), as stored."""
    from sqlalchemy import select

    from govhub.documents.models import IssuedDocument

    async def read(session: Any) -> dict[str, dict[str, Any]]:
        documents = (await session.scalars(select(IssuedDocument).where(
            IssuedDocument.application_id == application_id))).all()
        return {document.kind: {"id": document.id, "number": document.number, "status": str(document.status),
                                "reason": document.status_reason} for document in documents}

    return in_database(read)


@pytest.fixture
def officer_context(browser: Browser, live_server: str) -> Iterator[BrowserContext]:
    """The officer's own browser: another profile, same settings as the applicant's."""
    context = browser.new_context(base_url=live_server, locale="th-TH", timezone_id="Asia/Bangkok",
                                  viewport={"width": 1280, "height": 900})
    context.set_default_timeout(TIMEOUT_MS)
    yield context
    context.close()


# --- checks ----------------------------------------------------------------------------------


def check_accessibility(page: Page) -> None:
    """Smoke check: language, one h1 and main, named controls, no broken ARIA or label references."""
    expect(page.locator("html")).to_have_attribute("lang", re.compile(r"^(th|en)$"))
    expect(page.get_by_role("heading", level=1)).to_have_count(1)
    expect(page.get_by_role("main")).to_have_count(1)
    problems = page.evaluate(
        """() => {
            const problems = [], seen = new Map();
            for (const el of document.querySelectorAll('[id]')) seen.set(el.id, (seen.get(el.id) || 0) + 1);
            for (const [id, count] of seen) if (count > 1) problems.push(`id "${id}" is used ${count} times`);
            for (const el of document.querySelectorAll('[aria-describedby], [aria-labelledby]'))
                for (const attr of ['aria-describedby', 'aria-labelledby'])
                    for (const ref of (el.getAttribute(attr) || '').split(/\\s+/).filter(Boolean))
                        if (!document.getElementById(ref)) problems.push(`${attr} of #${el.id} names a missing #${ref}`);
            for (const label of document.querySelectorAll('label[for]'))
                if (!document.getElementById(label.htmlFor)) problems.push(`label for a missing #${label.htmlFor}`);
            for (const img of document.querySelectorAll('img:not([alt])')) problems.push(`image without alt: ${img.src}`);
            for (const el of document.querySelectorAll('[aria-invalid="true"]'))
                if (!(el.getAttribute('aria-describedby') || '').includes('-error')) problems.push(`#${el.id} is invalid, not why`);
            let level = 1;
            for (const h of document.querySelectorAll('main h1, main h2, main h3, main h4')) {
                const next = Number(h.tagName[1]);
                if (next > level + 1) problems.push(`heading skips from h${level} to h${next}: ${h.textContent.trim()}`);
                level = next;
            }
            return problems;
        }"""
    )
    assert problems == [], problems
    # Buttons big enough to hit (WCAG 2.2 target size, 24 px) and lettered in the page's own font.
    buttons = page.evaluate(
        """() => [...document.querySelectorAll('main button, main a.button')].filter(b => b.checkVisibility()).map(b => {
            const box = b.getBoundingClientRect();
            return {text: b.textContent.trim(), width: box.width, height: box.height,
                    font: getComputedStyle(b).fontFamily, page: getComputedStyle(document.body).fontFamily};
        })"""
    )
    for button in buttons:
        assert button["width"] >= 24 and button["height"] >= 24, button
        assert button["font"] == button["page"], button
    # What is shown: a control inside a closed <details> has no box and no accessible name yet.
    controls = page.get_by_role("main").locator("input:not([type=hidden]), select, textarea, button, a[href]").filter(visible=True)
    for index in range(controls.count()):
        expect(controls.nth(index)).not_to_have_accessible_name("")


def form_of(page: Page, action: str) -> Any:
    """The form posting to `action` (exactly one)."""
    form = page.locator(f'main form[action="{action}"]')
    expect(form).to_have_count(1)
    return form


def continue_button(page: Page, application_id: str, form_page: int) -> Any:
    """The e-form page's "Save and continue" (the button with intent=next)."""
    button = form_of(page, f"/applications/{application_id}/form/{form_page}").locator('button[name="intent"][value="next"]')
    expect(button).to_have_count(1)
    expect(button).not_to_have_accessible_name("")
    return button


def expect_on_form_page(page: Page, application_id: str, form_page: int, title_th: str) -> None:
    """The e-form page `form_page`, in Thai, titled as the manual says, marked current in the steps."""
    expect(page).to_have_url(re.compile(rf"/applications/{application_id}/form/{form_page}$"))
    expect_language(page, "th")
    expect(page.get_by_role("heading", level=1)).to_have_text(title_th)
    steps = page.get_by_role("navigation").locator('[aria-current="step"]')
    expect(steps).to_have_text(title_th)


def reload_until(page: Page, locator: Any, seconds: float = DOCUMENTS_WAIT_S) -> None:
    """Reload the page until `locator` shows (a background job's result), for at most `seconds`."""
    deadline = time.monotonic() + seconds
    while locator.count() == 0 and time.monotonic() < deadline:
        page.wait_for_timeout(500)
        page.reload()
    expect(locator.first).to_be_visible(timeout=1_000)


def officer_acts(page: Page, application_id: str, action: str, label: str, comment: str = "") -> None:
    """Write the comment (if any) in the action's form and press its button; the case moves on."""
    form = page.locator(f"form#action-{action}")
    expect(form).to_have_attribute("action", f"/backoffice/applications/{application_id}/actions/{action}")
    if comment:
        # Scoped to the form: in some states two actions' boxes share the label "Reasons (required; ...)".
        box = form.get_by_label(re.compile(r"^Reasons \(required"))
        expect(box).to_have_attribute("id", f"action-{action}-comment")
        box.fill(comment)
    form.get_by_role("button", name=label, exact=True).click()
    expect(page).to_have_url(re.compile(rf"/backoffice/applications/{application_id}\?done=action$"))
    expect(page.get_by_role("main").get_by_role("status")).to_have_text("The action was recorded.")


# --- the journey -----------------------------------------------------------------------------------


def test_food_shop_permit_applied_returned_once_resubmitted_and_issued(
    page: Page, officer_context: BrowserContext, shot: Shot, suda: Any,
) -> None:
    """Suda applies with consent, is returned once, corrects and resubmits; the officer approves; she pays at the
    sandbox bank, downloads the signed e-license and verifies it; the officer revokes it and the verification page says so."""
    # The manual page's "Apply online" asks her to sign in first, then brings her back.
    page.goto(SERVICE)
    expect_language(page, "th")
    expect(page.get_by_role("heading", level=1)).to_have_text("ใบอนุญาตจัดตั้งสถานที่จำหน่ายอาหาร")
    shot(page, "01-manual")
    page.get_by_role("main").locator(f'a[href="{SERVICE}/apply"]').click()
    expect(page).to_have_url(re.compile(r"/sign-in\?next=%2Fservices%2Ffood-shop-permit%2Fapply$"))
    labelled(page, "identifier", None, "th").fill(SUDA)
    labelled(page, "password", None, "th").fill(DEMO_PASSWORD)
    form_of(page, "/sign-in").get_by_role("button").click()

    # Prefill needs her identity verified: the apply page says so and links to it, and brings her back.
    expect(page).to_have_url(re.compile(rf"{SERVICE}/apply$"))
    expect(page.get_by_role("main").get_by_role("table")).to_have_count(0)
    shot(page, "02-apply-unverified")
    page.get_by_role("main").locator(f'a[href="/account/verify-identity?next={SERVICE}/apply"]').click()
    expect(page).to_have_url(re.compile(r"/account/verify-identity\?next="))
    labelled(page, "laser_code", None, "th").fill(suda.laser_code)
    labelled(page, "birth_date", None, "th").fill(suda.birth_date_be)
    form_of(page, "/account/verify-identity").get_by_role("button").click()

    # The apply page now says what is fetched from whom; she consents (already chosen) and starts.
    expect(page).to_have_url(re.compile(rf"{SERVICE}/apply$"))
    sources = page.get_by_role("main").get_by_role("table").locator("tbody tr")
    expect(sources).to_have_count(2)
    expect(sources.nth(0)).to_contain_text("TH/GOV/DOPA/civil-registry")
    expect(sources.nth(0).locator("td").nth(2)).to_have_text("เลขประจำตัวประชาชน, ชื่อ-นามสกุล")
    expect(sources.nth(1)).to_contain_text("TH/GOV/DBD/company-registry")
    expect(sources.nth(1).locator("td").nth(2)).to_have_text("เลขทะเบียนนิติบุคคล (ถ้ามี), ชื่อนิติบุคคล")
    page.locator('label[for="consent-yes"]').click()
    expect(labelled(page, "consent-yes", None, "th")).to_be_checked()
    expect(labelled(page, "consent-no", None, "th")).not_to_be_checked()
    check_accessibility(page)
    shot(page, "03-apply-consent")
    form_of(page, f"{SERVICE}/apply").get_by_role("button").click()

    # Page 1: every value came from the two registries, marked verified and read-only.
    expect(page).to_have_url(re.compile(r"/applications/[0-9a-f-]+/form/0$"))
    application_id = re.search(r"/applications/([0-9a-f-]+)/form/0$", page.url).group(1)
    expect_on_form_page(page, application_id, 0, "ผู้ขออนุญาต")
    for name, value, source in (
        ("applicant_national_id", SUDA, "TH/GOV/DOPA/civil-registry/person"),
        ("applicant_name", "นางสุดา ค้าขาย", "TH/GOV/DOPA/civil-registry/person"),
        ("juristic_id", COMPANY_ID, "TH/GOV/DBD/company-registry/juristic-person"),
        ("company_name", "บริษัท ครัวสุดา จำกัด", "TH/GOV/DBD/company-registry/juristic-person"),
    ):
        field = labelled(page, name, None, "th")
        expect(field).to_have_value(value)
        expect(field).to_have_attribute("readonly", "")
        mark = page.locator(f"#{name}-verified .tag-verified")
        expect(mark).to_be_visible()
        expect(mark).to_contain_text(source)
        expect(field).to_have_accessible_description(re.compile(re.escape(source)))
    check_accessibility(page)
    shot(page, "04-form-prefilled")
    continue_button(page, application_id, 0).click()

    # Page 2 by keyboard: type, Tab to the next field, and Enter to go on.
    expect_on_form_page(page, application_id, 1, "สถานที่จำหน่ายอาหาร")
    labelled(page, "shop_name", None, "th").click()
    page.keyboard.type("ครัวสุดา สาขางามวงศ์วาน")
    page.keyboard.press("Tab")
    expect(labelled(page, "shop_address", None, "th")).to_be_focused()
    page.keyboard.type("99 ถนนงามวงศ์วาน อำเภอเมืองนนทบุรี")
    page.keyboard.press("Tab")
    expect(labelled(page, "area_sqm", None, "th")).to_be_focused()
    page.keyboard.type("250")
    page.keyboard.press("Tab")
    page.keyboard.type("60")
    expect(labelled(page, "seats", None, "th")).to_be_focused()
    check_accessibility(page)
    shot(page, "05-form-premises")
    page.keyboard.press("Enter")  # submits with the form's default button: "Save and continue"

    # Page 3: both files chosen and uploaded with one press.
    expect_on_form_page(page, application_id, 2, "เอกสารประกอบ")
    labelled(page, "floor_plan", None, "th").set_input_files(
        {"name": "plan.pdf", "mimeType": "application/pdf", "buffer": PDF})
    labelled(page, "hygiene_certificate", None, "th").set_input_files(
        {"name": "training.pdf", "mimeType": "application/pdf", "buffer": PDF})
    check_accessibility(page)
    shot(page, "06-form-documents")
    continue_button(page, application_id, 2).click()

    # Check the answers: verified marks, what she typed, her files; then submit.
    expect(page).to_have_url(re.compile(rf"/applications/{application_id}/review$"))
    expect(page.get_by_role("alert")).to_have_count(0)
    answers = page.get_by_role("main")
    expect(answers.locator(".tag-verified")).to_have_count(4)
    for shown in ("บริษัท ครัวสุดา จำกัด", "ครัวสุดา สาขางามวงศ์วาน", "250", "60", "plan.pdf", "training.pdf"):
        expect(answers).to_contain_text(shown)
    check_accessibility(page)
    shot(page, "07-review")
    form_of(page, f"/applications/{application_id}/submit").get_by_role("button").click()

    # The acknowledgement gives the tracking number.
    expect(page).to_have_url(re.compile(rf"/applications/{application_id}/submitted$"))
    confirmation = page.get_by_role("main").get_by_role("status")
    number = confirmation.locator(".tracking-number").inner_text().strip()
    assert re.fullmatch(r"NBM-\d{4}-\d{6}-[0-9A-Z]", number), number
    assert application_row(application_id)["tracking_number"] == number
    check_accessibility(page)
    shot(page, "08-acknowledgement")

    # The officer signs in with password and TOTP, in English, and finds the case in the queue.
    secret = pyotp.random_base32()
    officer_email = new_officer(secret)
    officer = officer_context.new_page()
    open_in(officer, "en")
    officer.goto("/backoffice/applications")
    expect(officer).to_have_url(re.compile(r"/sign-in\?next=%2Fbackoffice%2Fapplications$"))
    expect_language(officer, "en")
    labelled(officer, "identifier", "National ID number, passport number or email", "en").fill(officer_email)
    labelled(officer, "password", "Password", "en").fill(PASSWORD)
    officer.get_by_role("main").get_by_role("button", name="Sign in", exact=True).click()
    expect(officer).to_have_url(re.compile(r"/sign-in/second-factor\?next=%2Fbackoffice%2Fapplications$"))
    labelled(officer, "code", "6-digit code or recovery code", "en").fill(pyotp.TOTP(secret).now())
    officer.get_by_role("main").get_by_role("button", name="Continue", exact=True).click()
    expect(officer).to_have_url(re.compile(r"/backoffice/applications$"))
    labelled(officer, "q", "Tracking number", "en").fill(number)
    officer.get_by_role("main").get_by_role("button", name="Show", exact=True).click()
    officer.locator("#queue").get_by_role("link", name=number, exact=True).click()
    expect(officer).to_have_url(re.compile(rf"/backoffice/applications/{application_id}$"))
    expect(officer.locator("#case-state")).to_have_attribute("data-state", "submitted")
    expect(officer.locator("#documents")).to_contain_text("plan.pdf")
    shot(officer, "09-officer-case")

    # She returns it once, listing what is wrong with the floor plan.
    officer_acts(officer, application_id, "return_incomplete", "Return as incomplete", DEFICIENCIES)
    expect(officer.locator("#case-state")).to_have_attribute("data-state", "returned")
    expect(officer.locator("form#action-return_incomplete")).to_have_count(0)
    shot(officer, "10-officer-returned")

    # Suda finds it among her applications: returned, with the officer's list and the date to resubmit by.
    page.goto("/applications")
    page.get_by_role("main").locator(f'a[href="/applications/{application_id}"]').click()
    expect(page).to_have_url(re.compile(rf"/applications/{application_id}$"))
    notice = page.get_by_role("main").get_by_role("status")
    expect(notice).to_be_visible()
    timeline = page.locator("ol.timeline > li")
    expect(timeline).to_have_count(2)
    expect(timeline.nth(1).locator(".comment")).to_have_text(DEFICIENCIES)
    expect(page.locator("dd", has_text="ส่งคืนให้แก้ไข")).to_be_visible()
    check_accessibility(page)
    shot(page, "11-tracking-returned")

    # She corrects it: through the pages again, a new floor plan, and resubmits.
    notice.locator(f'a[href="/applications/{application_id}/form/0"]').click()
    expect_on_form_page(page, application_id, 0, "ผู้ขออนุญาต")
    continue_button(page, application_id, 0).click()
    expect_on_form_page(page, application_id, 1, "สถานที่จำหน่ายอาหาร")
    expect(labelled(page, "shop_name", None, "th")).to_have_value("ครัวสุดา สาขางามวงศ์วาน")
    continue_button(page, application_id, 1).click()
    expect_on_form_page(page, application_id, 2, "เอกสารประกอบ")
    expect(page.locator(".current-file")).to_have_count(2)
    labelled(page, "floor_plan", None, "th").set_input_files(
        {"name": "plan-scaled.pdf", "mimeType": "application/pdf", "buffer": SCALED_PLAN})
    continue_button(page, application_id, 2).click()
    expect(page).to_have_url(re.compile(rf"/applications/{application_id}/review$"))
    expect(page.get_by_role("main")).to_contain_text("plan-scaled.pdf")
    expect(page.get_by_role("main")).not_to_contain_text("plan.pdf")
    shot(page, "12-review-resubmit")
    form_of(page, f"/applications/{application_id}/submit").get_by_role("button").click()
    expect(page).to_have_url(re.compile(rf"/applications/{application_id}$"))
    expect(page.locator("ol.timeline > li")).to_have_count(3)

    # The officer may not return it again; accepts, records the inspection and approves: a bill for the fee opens.
    officer.reload()
    expect(officer.locator("#case-state")).to_have_attribute("data-state", "submitted")
    expect(officer.locator("form#action-return_incomplete")).to_have_count(0)
    expect(officer.locator("#documents")).to_contain_text("plan-scaled.pdf")
    officer_acts(officer, application_id, "accept", "Accept as complete")
    officer_acts(officer, application_id, "inspected", "Record the inspection", INSPECTION)
    officer_acts(officer, application_id, "approve", "Approve")
    expect(officer.locator("#case-state")).to_have_attribute("data-state", "awaiting_payment")
    bill = bill_row(application_id)
    assert bill["amount_satang"] == FEE_SATANG and bill["status"] == "open", bill
    bill_url = f"/bills/{bill['id']}"
    expect(officer.get_by_role("main").get_by_role("link", name=f"Bill {bill['number']}", exact=True)).to_have_attribute(
        "href", bill_url)
    # Only the bank's callback marks the fee paid: no officer, not even one in finance, is offered it or may post it.
    expect(officer.locator("form#action-fee_paid")).to_have_count(0)
    expect(officer.locator("#actions form")).to_have_count(0)
    expect(officer.get_by_role("main").get_by_role("link", name="Pay the fee", exact=True)).to_have_count(0)
    token = officer.locator('#comment-form input[name="csrf_token"]').input_value()
    refused = officer.request.post(f"/backoffice/applications/{application_id}/actions/fee_paid",
                                   form={"csrf_token": token}, headers={"accept": "text/html"}, max_redirects=0)
    assert refused.status == 403 and "Your role does not allow this action." in refused.text(), refused.status
    assert application_row(application_id)["state"] == "awaiting_payment"
    shot(officer, "13-officer-awaiting-payment")

    # Her tracking page: the fee to pay, with its bill; she opens the bill.
    page.reload()
    main = page.get_by_role("main")
    expect(page.locator("dd strong", has_text=AWAITING_PAYMENT_TH)).to_be_visible()
    expect(main.get_by_role("heading", name=th("Fees"), exact=True)).to_be_visible()
    bill_link = main.get_by_role("link", name=th("Bill %(number)s", number=bill["number"]), exact=True)
    pay_link = main.get_by_role("link", name=th("Pay the fee"), exact=True)
    expect(bill_link).to_have_attribute("href", bill_url)
    expect(pay_link).to_have_attribute("href", bill_url)
    check_accessibility(page)
    shot(page, "14-tracking-fee-to-pay")
    bill_link.click()

    # The bill: the fee, the Thai QR (shown, loaded, not cut off), printable, and "Pay online".
    expect(page).to_have_url(re.compile(rf"{bill_url}$"))
    expect_language(page, "th")
    main = page.get_by_role("main")
    expect(main.get_by_role("heading", level=1)).to_have_text(th("Bill for fees"))
    expect(main.locator(".bill")).to_contain_text(bill["number"])
    expect(main.get_by_role("table").locator("tfoot")).to_contain_text(FEE_SHOWN)
    qr = main.get_by_role("img", name=th("Thai QR code for bill %(number)s, %(amount)s baht",
                                         number=bill["number"], amount=FEE_SHOWN), exact=True)
    expect(qr).to_have_attribute("src", f"{bill_url}/qr.svg")
    expect(qr).to_be_visible()
    natural_width = qr.evaluate("async img => { try { await img.decode(); } catch { } return img.naturalWidth; }")
    assert natural_width > 0, "the bill's Thai QR image did not load: the browser could not decode it"
    box = qr.bounding_box()
    assert box is not None and box["width"] >= 200 and box["height"] >= 200, box
    assert box["x"] >= 0 and box["x"] + box["width"] <= page.viewport_size["width"], box
    qr_svg = page.request.get(f"{bill_url}/qr.svg")
    assert qr_svg.ok and qr_svg.headers["content-type"].startswith("image/svg+xml"), qr_svg.headers
    expect(main.get_by_role("button", name=th("Print this bill"), exact=True)).to_be_visible()
    check_accessibility(page)
    shot(page, "15-bill-qr")
    main.get_by_role("button", name=th("Pay online"), exact=True).click()

    # The sandbox bank (playing the bank) shows the amount and both references; she confirms.
    expect(page).to_have_url(re.compile(r"/sandbox-bank/[0-9a-f-]+$"))
    main = page.get_by_role("main")
    expect(main.get_by_role("heading", level=1)).to_have_text(th("Sandbox bank"))
    expect(main).to_contain_text(bill["number"])
    expect(main).to_contain_text(FEE_SHOWN)
    check_accessibility(page)
    shot(page, "16-sandbox-bank")
    main.get_by_role("button", name=th("Confirm the payment"), exact=True).click()

    # Back on the bill: "Payment received", the bill paid, and soon her e-receipt.
    expect(page).to_have_url(re.compile(rf"{bill_url}\?result=credited$"))
    received = page.get_by_role("main").get_by_role("status")
    expect(received.get_by_role("heading", name=th("Payment received"), exact=True)).to_be_visible()
    expect(page.get_by_role("main").locator(".bill-status-paid")).to_have_text(th("Paid"))
    expect(page.get_by_role("main").get_by_role("button", name=th("Pay online"), exact=True)).to_have_count(0)
    expect(page.get_by_role("main").get_by_role("img")).to_have_count(0)  # a paid bill shows no QR to pay again
    reload_until(page, page.get_by_role("main").get_by_role("heading", name=th("Receipts"), exact=True))
    expect(received.get_by_role("heading", name=th("Payment received"), exact=True)).to_be_visible()
    assert bill_row(application_id)["status"] == "paid"
    receipt = issued_rows(application_id)["receipt"]
    receipt_link = page.get_by_role("main").get_by_role(
        "link", name=th("e-Receipt %(number)s (PDF)", number=receipt["number"]), exact=True)
    expect(receipt_link).to_have_attribute("href", f"/documents/{receipt['id']}/pdf")
    expect(page.get_by_role("main").get_by_role("link", name=th("Verify"), exact=True)).to_have_attribute(
        "href", f"/verify/{receipt['id']}")
    shot(page, "17-payment-received")

    # Her tracking page: the permit is issued, each step in order with its time, and the e-license is there.
    page.get_by_role("main").get_by_role("link", name=th("Back to the application"), exact=True).click()
    expect(page).to_have_url(re.compile(rf"/applications/{application_id}$"))
    license_item = page.get_by_role("main").get_by_role("listitem").filter(
        has=page.get_by_role("link", name=th("Download (PDF)"), exact=True)).filter(has_text=LICENSE_TITLE_TH)
    reload_until(page, license_item)
    stored = application_row(application_id)
    assert stored["state"] == "issued" and stored["returned_count"] == 1
    assert [action for action, _at in stored["events"]] == [action for action, _state, _comment in STEPS]
    # govhub took the last step itself, on the bank's word: no account, the role no person holds.
    assert stored["actors"][-1] == ("fee_paid", "payment", None), stored["actors"][-1]
    expect(page.locator("ol.timeline > li")).to_have_count(len(STEPS))
    expect(page.get_by_role("main").get_by_role("status")).to_have_count(0)
    for index, ((action, state, comment), (_stored_action, at)) in enumerate(zip(STEPS, stored["events"], strict=True)):
        step = page.locator("ol.timeline > li").nth(index)
        if action in ACTION_LABELS_TH:
            expect(step.locator("strong")).to_have_text(ACTION_LABELS_TH[action])
        expect(step).to_contain_text(state)
        expect(step.locator(".comment")).to_have_count(1 if comment else 0)
        if comment:
            expect(step.locator(".comment")).to_have_text(comment)
        shown_at = datetime.fromisoformat(step.locator("time").get_attribute("datetime"))
        assert shown_at == at, (action, shown_at, at)
    expect(page.locator("dd strong", has_text=ISSUED_TH)).to_be_visible()
    expect(page.get_by_role("main").get_by_role("heading", name=th("Issued documents"), exact=True)).to_be_visible()
    expect(page.get_by_role("main").get_by_role("link", name=th("Pay the fee"), exact=True)).to_have_count(0)
    license = issued_rows(application_id)["license"]
    assert license["status"] == "valid", license
    expect(license_item).to_have_count(1)
    expect(license_item).to_contain_text(license["number"])
    check_accessibility(page)
    shot(page, "18-tracking-issued")

    # She downloads the e-license: a PDF, signed (a signature dictionary has a /ByteRange).
    with page.expect_download() as download_info:
        license_item.get_by_role("link", name=th("Download (PDF)"), exact=True).click()
    download = download_info.value
    assert download.failure() is None, download.failure()
    assert download.suggested_filename == f"{license['number']}.pdf", download.suggested_filename
    pdf = Path(download.path()).read_bytes()
    assert pdf.startswith(b"%PDF-") and b"/ByteRange" in pdf, pdf[:64]

    # Its verification page says it is valid.
    license_item.get_by_role("link", name=th("Verification page"), exact=True).click()
    verify_url = f"/verify/{license['id']}"
    expect(page).to_have_url(re.compile(rf"{verify_url}$"))
    verdict = page.get_by_role("main").get_by_role("status")
    expect(verdict.get_by_role("heading", level=1)).to_have_text(th("Valid"))
    expect(page.get_by_role("main").locator(".summary")).to_contain_text(license["number"])
    expect(page.get_by_role("main").get_by_role("alert")).to_have_count(0)
    check_accessibility(page)
    shot(page, "19-verify-valid")

    # The officer sees the case issued (govhub, not he, took the last step) and revokes the e-license, in Thai.
    officer.reload()
    expect(officer.locator("#case-state")).to_have_attribute("data-state", "issued")
    expect(officer.locator("#actions form")).to_have_count(0)
    fee_paid = officer.locator('#history li[data-event="fee_paid"]')
    expect(fee_paid).to_have_count(1)
    expect(fee_paid.locator("strong").first).to_have_text("Fee paid")
    expect(fee_paid).not_to_contain_text(OFFICER_NAME)
    shot(officer, "20-officer-issued")
    issued_list = officer.get_by_role("region", name="Issued documents")
    officer_license = issued_list.get_by_role("listitem").filter(has_text=license["number"])
    expect(officer_license).to_have_count(1)
    officer_license.get_by_text("Revoke or reissue", exact=True).click()
    officer_license.get_by_label("Reason (shown on the verification page)", exact=True).fill(REVOCATION)
    officer_license.get_by_role("button", name="Revoke the document", exact=True).click()
    expect(officer).to_have_url(re.compile(rf"/backoffice/applications/{application_id}$"))
    officer_license = officer.get_by_role("region", name="Issued documents").get_by_role("listitem").filter(
        has_text=license["number"])
    expect(officer_license.locator(".tag-warn")).to_have_text("Revoked")
    expect(officer_license.get_by_text("Revoke or reissue", exact=True)).to_have_count(0)
    revoked = issued_rows(application_id)
    assert revoked["license"]["status"] == "revoked" and revoked["license"]["reason"] == REVOCATION, revoked
    assert revoked["receipt"]["status"] == "valid", revoked  # the fee was paid all the same
    shot(officer, "21-officer-revoked")

    # She reloads the verification page: revoked, and why.
    page.reload()
    verdict = page.get_by_role("main").get_by_role("alert")
    expect(verdict.get_by_role("heading", level=1)).to_have_text(th("Revoked"))
    expect(verdict).to_contain_text(th("Reason: %(reason)s", reason=REVOCATION))
    expect(page.get_by_role("main").get_by_role("status")).to_have_count(0)
    check_accessibility(page)
    shot(page, "22-verify-revoked")

    # Her data-usage page lists the two registry reads this application made.
    page.goto("/account/data-usage")
    for mark in {mark["request_id"] for mark in stored["verified"].values()}:
        expect(page.locator(f'#data-usage tr[data-request-id="{mark}"]')).to_contain_text(
            "one-stop application: food-shop-permit")
    shot(page, "23-data-usage")
