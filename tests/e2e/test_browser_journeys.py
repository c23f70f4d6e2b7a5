"""Citizen journeys through the real pages in headless Chromium, in Thai and in English.

Thai is the default locale; English is reached by clicking the language link in the header.
Thai wording is still being translated, so Thai runs prove their language with
<html lang="th"> and find fields through their <label> (whatever its text), while English
runs also check the English wording.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path

import pyotp
import pytest
from playwright.sync_api import BrowserContext, Locator, Page, Response, expect

from tests.factories import PASSWORD, email, invalid_check_digit, national_id

pytestmark = pytest.mark.browser

TOTP_PERIOD = 30
Shot = Callable[[Page, str], Path]


# --- Helpers ---------------------------------------------------------------------------


def expect_language(page: Page, lang: str) -> None:
    """The page is served in `lang`, and the header offers the other language."""
    expect(page.locator("html")).to_have_attribute("lang", lang)
    switch = page.get_by_role("banner").locator("a.lang-switch")
    if lang == "th":
        expect(switch).to_have_text("English")
        expect(switch).to_have_attribute("lang", "en")
    else:
        expect(switch).to_have_text("ภาษาไทย")
        expect(switch).to_have_attribute("lang", "th")


def open_in(page: Page, lang: str, path: str = "/") -> None:
    """Open the home page (Thai by default) and, for English, click the header's link."""
    page.goto(path)
    expect_language(page, "th")
    if lang == "en":
        page.get_by_role("banner").get_by_role("link", name="English", exact=True).click()
        expect(page).to_have_url(re.compile(r"[?&]lang=en"))
        expect_language(page, "en")
        cookies = {cookie["name"]: cookie["value"] for cookie in page.context.cookies()}
        assert cookies.get("govhub_lang") == "en", cookies


def labelled(page: Page, name: str, english: str | None, lang: str) -> Locator:
    """The form control with id `name`, found through its visible label.

    Fails if the control has no label, or if the label does not name it for assistive
    technology; in English, the label must also read `english`.
    """
    label = page.locator(f'label[for="{name}"]')
    expect(label).to_have_count(1)
    text = label.inner_text().strip()
    assert text, f'<label for="{name}"> is empty'
    if lang == "en" and english is not None:
        assert text == english, f"label of {name!r} reads {text!r}, expected {english!r}"
    control = page.get_by_label(text, exact=True)
    expect(control).to_have_count(1)
    expect(control).to_have_attribute("id", name)
    return control


def form_button(page: Page, action: str, english: str, lang: str) -> Locator:
    """The submit button of the form posting to `action` (named `english` in English)."""
    if lang == "en":
        button = page.get_by_role("main").get_by_role("button", name=english, exact=True)
        expect(button).to_have_count(1)
        in_form = page.locator(f'main form[action="{action}"]').get_by_role("button")
        expect(in_form).to_have_accessible_name(english)
        return button
    button = page.locator(f'main form[action="{action}"]').get_by_role("button")
    expect(button).to_have_count(1)
    expect(button).not_to_have_accessible_name("")
    return button


def main_link(page: Page, href: str, english: str, lang: str) -> Locator:
    """A link in the main content, by its name in English, by its target in Thai."""
    if lang == "en":
        return page.get_by_role("main").get_by_role("link", name=english, exact=True)
    link = page.get_by_role("main").locator(f'a[href="{href}"]')
    expect(link).to_have_count(1)
    return link


def heading(page: Page, english: str, lang: str) -> Locator:
    """The page's h1, which must read `english` on English pages."""
    h1 = page.get_by_role("heading", level=1)
    expect(h1).to_have_count(1)
    if lang == "en":
        expect(h1).to_have_text(english)
    else:
        expect(h1).not_to_have_text("")
    return h1


def header_sign_out(page: Page, lang: str) -> Locator:
    """The header's sign-out button (the only button in the banner)."""
    button = page.get_by_role("banner").get_by_role("button")
    expect(button).to_have_count(1)
    if lang == "en":
        expect(button).to_have_accessible_name("Sign out")
    return button


def wait_for_step_after(step: int) -> None:
    """Sleep until the TOTP time step is later than `step` (a used code never works again)."""
    while int(time.time() // TOTP_PERIOD) <= step:
        time.sleep(0.2)


def fill_citizen_form(page: Page, lang: str, *, name: str, number: str, address: str) -> None:
    """Fill the citizen registration form through its labels."""
    labelled(page, "full_name", "Full name", lang).fill(name)
    labelled(page, "national_id", "National ID number", lang).fill(number)
    labelled(page, "email", "Email address", lang).fill(address)
    labelled(page, "password", "Password", lang).fill(PASSWORD)


def open_citizen_form(page: Page, lang: str) -> None:
    """/register, then the citizen choice."""
    page.goto("/register")
    expect_language(page, lang)
    heading(page, "Create an account", lang)
    main_link(page, "/register/citizen", "Register as a citizen", lang).click()
    expect(page).to_have_url(re.compile(r"/register/citizen$"))
    expect_language(page, lang)
    heading(page, "Register as a Thai citizen", lang)


def expect_sarabun_thai_loaded(page: Page) -> None:
    """The Sarabun face for the Thai script was downloaded and is in use (not a fallback)."""
    loaded = page.evaluate(
        """async () => {
            await document.fonts.ready;
            return [...document.fonts]
                .filter(f => f.family.replace(/["']/g, '') === 'Sarabun' && f.status === 'loaded')
                .map(f => f.unicodeRange);
        }"""
    )
    assert any("E01" in ranges.upper() for ranges in loaded), f"Sarabun Thai face not loaded: {loaded}"


# --- Journeys --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("lang", "second_factor"), [("th", "totp"), ("en", "recovery")], ids=["th-totp", "en-recovery"]
)
def test_citizen_registers_enrols_totp_and_signs_in_at_aal2(
    page: Page,
    context: BrowserContext,
    shot: Shot,
    accounts_with: Callable[..., int],
    lang: str,
    second_factor: str,
) -> None:
    """Register, turn on TOTP, sign out, sign in with national ID, password and a second factor."""
    citizen_id, address, full_name = national_id(), email(), "สมหญิง ทดสอบ"
    open_in(page, lang)
    shot(page, "01-home")

    # Register as a citizen.
    open_citizen_form(page, lang)
    fill_citizen_form(page, lang, name=full_name, number=citizen_id, address=address)
    shot(page, "02-register-filled")
    form_button(page, "/register/citizen", "Create account", lang).click()

    # Signed in at AAL1 on the account page, two-factor off.
    expect(page).to_have_url(re.compile(r"/account\?welcome=1$"))
    expect_language(page, lang)
    heading(page, "My account", lang)
    expect(page.get_by_role("main").get_by_role("status")).to_be_visible()
    expect(page.get_by_role("heading", level=2, name=full_name)).to_be_visible()
    expect(page.locator("#aal")).to_contain_text("AAL1")
    expect(page.locator("#ial")).to_contain_text("IAL1")
    expect(page.locator("#totp-status .tag-warn")).to_be_visible()
    if lang == "en":
        expect(page.get_by_role("status")).to_have_text("Your account has been created.")
        expect(page.locator("#totp-status")).to_contain_text("Off")
    expect(page.get_by_role("main")).to_contain_text("*********" + citizen_id[-4:])
    expect(page.get_by_role("main")).not_to_contain_text(citizen_id)
    header_sign_out(page, lang)
    expect_sarabun_thai_loaded(page)
    assert accounts_with(national_id=citizen_id, email=address) == 1
    shot(page, "03-account-registered")

    # Enrol TOTP: key from #totp-secret, code from pyotp.
    main_link(page, "/account/two-factor/setup", "Set up two-factor authentication", lang).click()
    expect(page).to_have_url(re.compile(r"/account/two-factor/setup$"))
    heading(page, "Set up two-factor authentication", lang)
    qr_code = page.get_by_role("main").locator('[role="img"]')  # the QR code, with its text alternative
    expect(qr_code).to_have_count(1)
    expect(qr_code.locator("svg")).to_be_visible()
    if lang == "en":
        expect(qr_code).to_have_accessible_name("QR code for your authenticator app")
    else:
        expect(qr_code).not_to_have_accessible_name("")
    secret = page.locator("#totp-secret").inner_text().replace(" ", "")
    assert re.fullmatch(r"[A-Z2-7]{32}", secret), secret
    shot(page, "04-totp-setup")
    authenticator = pyotp.TOTP(secret, interval=TOTP_PERIOD)
    enrol_step = int(time.time() // TOTP_PERIOD)
    enrol_code = authenticator.at(enrol_step * TOTP_PERIOD)
    labelled(page, "code", "6-digit code", lang).fill(enrol_code)
    form_button(page, "/account/two-factor/setup", "Turn on two-factor authentication", lang).click()

    # Recovery codes, shown once.
    heading(page, "Your recovery codes", lang)
    codes = page.locator("#recovery-codes").get_by_role("listitem")
    expect(codes).to_have_count(10)
    recovery_codes = [text.strip() for text in codes.all_inner_texts()]
    assert all(re.fullmatch(r"[a-z2-9]{5}-[a-z2-9]{5}", code) for code in recovery_codes), recovery_codes
    if lang == "en":
        expect(page.get_by_role("status")).to_have_text("Two-factor authentication is on.")
    shot(page, "05-recovery-codes")
    main_link(page, "/account", "I have saved my recovery codes", lang).click()

    # Back on the account: two-factor on, and this session is now AAL2.
    expect(page).to_have_url(re.compile(r"/account$"))
    heading(page, "My account", lang)
    expect(page.locator("#totp-status .tag-ok")).to_be_visible()
    expect(page.locator("#totp-status")).to_have_attribute("data-recovery-left", "10")
    if lang == "en":
        expect(page.locator("#totp-status")).to_contain_text("On")
        expect(page.locator("#totp-status")).to_contain_text("10 recovery codes left.")
    expect(page.locator("#aal")).to_contain_text("AAL2")
    shot(page, "06-account-totp-on")

    # Sign out with the header button.
    header_sign_out(page, lang).click()
    expect(page).to_have_url(re.compile(r"/\?signed_out=1$"))
    expect_language(page, lang)
    banner = page.get_by_role("banner")
    expect(banner.get_by_role("button")).to_have_count(0)
    expect(banner.locator('a[href="/sign-in"]')).to_be_visible()
    if lang == "en":
        expect(banner.get_by_role("link", name="Sign in", exact=True)).to_be_visible()
    assert "govhub_session" not in {cookie["name"] for cookie in context.cookies()}
    shot(page, "07-signed-out")

    # Sign in with national ID and password: the second factor is asked for.
    banner.locator('a[href="/sign-in"]').click()
    expect(page).to_have_url(re.compile(r"/sign-in$"))
    heading(page, "Sign in with Digital ID", lang)
    labelled(page, "identifier", "National ID number, passport number or email", lang).fill(citizen_id)
    labelled(page, "password", "Password", lang).fill(PASSWORD)
    shot(page, "08-sign-in")
    form_button(page, "/sign-in", "Sign in", lang).click()
    expect(page).to_have_url(re.compile(r"/sign-in/second-factor\?next=%2Faccount$"))
    expect_language(page, lang)
    heading(page, "Enter your one-time code", lang)
    expect(page.get_by_role("alert")).to_have_count(0)
    code_field = labelled(page, "code", "6-digit code or recovery code", lang)
    expect(code_field).to_have_attribute("autocomplete", "one-time-code")
    shot(page, "09-second-factor")

    if second_factor == "totp":
        # The code used for enrolment is refused: a code never works twice.
        code_field.fill(enrol_code)
        form_button(page, "/sign-in/second-factor", "Continue", lang).click()
        expect(page).to_have_url(re.compile(r"/sign-in/second-factor$"))
        expect(page.get_by_role("alert")).to_be_visible()
        code_field = labelled(page, "code", "6-digit code or recovery code", lang)
        expect(code_field).to_have_attribute("aria-invalid", "true")
        shot(page, "10-second-factor-code-reused")
        wait_for_step_after(enrol_step)
        code_field.fill(authenticator.now())
    else:
        code_field.fill(recovery_codes[3])
    form_button(page, "/sign-in/second-factor", "Continue", lang).click()

    # Signed in at AAL2.
    expect(page).to_have_url(re.compile(r"/account$"))
    expect_language(page, lang)
    heading(page, "My account", lang)
    expect(page.locator("#aal")).to_contain_text("AAL2")
    left = 9 if second_factor == "recovery" else 10
    expect(page.locator("#totp-status")).to_have_attribute("data-recovery-left", str(left))
    if lang == "en":
        expect(page.locator("#totp-status")).to_contain_text(f"{left} recovery codes left.")
    header_sign_out(page, lang)
    shot(page, "11-account-aal2")


@pytest.mark.parametrize("lang", ["th", "en"])
def test_invalid_national_id_is_shown_beside_the_field_and_creates_nothing(
    page: Page, shot: Shot, accounts_with: Callable[..., int], lang: str
) -> None:
    """A wrong check digit: error summary (role=alert), message at the field, no account."""
    wrong_id, address, full_name = invalid_check_digit(national_id()), email(), "สมชาย ตัวอย่าง"
    open_in(page, lang)
    open_citizen_form(page, lang)
    fill_citizen_form(page, lang, name=full_name, number=wrong_id, address=address)
    def is_post(response: Response) -> bool:
        return response.request.method == "POST" and response.url.endswith("/register/citizen")

    with page.expect_response(is_post) as posted:
        form_button(page, "/register/citizen", "Create account", lang).click()
    assert posted.value.status == 422, posted.value.status

    # Still on the form, in the same language, with the problem explained twice.
    expect(page).to_have_url(re.compile(r"/register/citizen$"))
    expect_language(page, lang)
    heading(page, "Register as a Thai citizen", lang)
    summary = page.get_by_role("alert")
    expect(summary).to_have_count(1)
    expect(summary).to_be_visible()
    field = labelled(page, "national_id", "National ID number", lang)
    expect(field).to_have_attribute("aria-invalid", "true")
    message = page.locator(".field", has=page.locator("#national_id")).locator(".error-message")
    expect(message).to_have_count(1)
    expect(message).to_be_visible()
    expect(message).to_have_attribute("id", "national_id-error")
    expect(field).to_have_attribute("aria-describedby", re.compile(r"\bnational_id-error\b"))
    error_text = summary.locator("p").inner_text().strip()
    assert error_text, "the error summary gives no reason"
    expect(message).to_contain_text(error_text)
    expect(field).to_have_accessible_description(re.compile(re.escape(error_text)))
    if lang == "en":
        expect(summary.get_by_role("heading")).to_have_text("There is a problem")
        assert error_text == "The national ID number is not valid. Check the 13 digits on your ID card."
    # Only the national ID field is marked wrong; what was typed is kept, except the password.
    expect(page.locator('[aria-invalid="true"]')).to_have_count(1)
    expect(labelled(page, "full_name", "Full name", lang)).to_have_value(full_name)
    expect(labelled(page, "email", "Email address", lang)).to_have_value(address)
    expect(field).to_have_value(wrong_id)
    expect(labelled(page, "password", "Password", lang)).to_have_value("")
    # Nobody was signed in and nothing was stored.
    expect(page.get_by_role("banner").get_by_role("button")).to_have_count(0)
    assert accounts_with(national_id=wrong_id, email=address) == 0
    shot(page, "01-invalid-national-id")


@pytest.mark.parametrize("lang", ["th", "en"])
def test_skip_link_is_the_first_focusable_element(page: Page, shot: Shot, lang: str) -> None:
    """Tab on a fresh page lands on the visible skip link; Enter moves focus to <main>."""
    open_in(page, lang)
    if lang == "en":
        page.reload()  # a fresh page, no focus left over from clicking the language link
    page.keyboard.press("Tab")
    focused = page.evaluate(
        """() => {
            const el = document.activeElement, box = el.getBoundingClientRect();
            const style = getComputedStyle(el);
            return {href: el.getAttribute('href'), text: el.textContent.trim(),
                    left: box.left, top: box.top, width: box.width,
                    outline: style.outlineStyle, outlineWidth: style.outlineWidth};
        }"""
    )
    assert focused["href"] == "#main", focused
    assert focused["text"], focused
    if lang == "en":
        assert focused["text"] == "Skip to main content", focused
    # Visible on screen once focused, with the focus outline.
    assert focused["left"] >= 0 and focused["top"] >= 0 and focused["width"] > 0, focused
    assert focused["outline"] == "solid" and focused["outlineWidth"] == "3px", focused
    shot(page, "01-skip-link-focused")
    page.keyboard.press("Enter")
    expect(page.locator("main#main")).to_be_focused()


def test_totp_qr_code_is_shown_whole(page: Page, shot: Shot) -> None:
    """The QR code on the set-up page fits its box: none of it is cut off, so a phone can scan it."""
    open_in(page, "th")
    open_citizen_form(page, "th")
    fill_citizen_form(page, "th", name="สมศรี ทดสอบ", number=national_id(), address=email())
    form_button(page, "/register/citizen", "Create account", "th").click()
    expect(page).to_have_url(re.compile(r"/account\?welcome=1$"))
    page.goto("/account/two-factor/setup")
    qr_code = page.get_by_role("main").locator('[role="img"] svg')
    expect(qr_code).to_be_visible()
    geometry = qr_code.evaluate(
        """svg => {
            const box = svg.getBoundingClientRect(), c = svg.getBBox(), m = svg.getScreenCTM();
            return {box: [box.left, box.top, box.right, box.bottom],
                    drawn: [m.e + c.x * m.a, m.f + c.y * m.d,
                            m.e + (c.x + c.width) * m.a, m.f + (c.y + c.height) * m.d],
                    width: svg.getAttribute('width'), viewBox: svg.getAttribute('viewBox')};
        }"""
    )
    shot(page, "01-totp-qr-code")
    left, top, right, bottom = geometry["box"]
    drawn_left, drawn_top, drawn_right, drawn_bottom = geometry["drawn"]
    assert drawn_left >= left - 1 and drawn_top >= top - 1, geometry
    assert drawn_right <= right + 1 and drawn_bottom <= bottom + 1, f"QR code is cut off: {geometry}"
