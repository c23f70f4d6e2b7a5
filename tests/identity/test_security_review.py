"""Security review of Digital ID: one test per finding, and properties verified to hold.

The tests named `test_finding_*` demonstrate defects found in the review (they fail until the
fix is applied); the others pin security properties that hold today and were not tested yet.
"""

from __future__ import annotations

import asyncio
import html
import re
import time
from urllib.parse import urlencode, urlsplit

import httpx
import pyotp
import pytest
from sqlalchemy import func, select

from govhub.identity.models import Account, Agency, UserSession
from govhub.identity.sessions import SESSION_COOKIE
from govhub.web.forms import safe_next
from tests import factories as f
from tests.identity.test_clients import signed_in_admin
from tests.identity.test_oidc import (
    REDIRECT,
    authorize_url,
    citizen,
    code_for,
    consent,
    exchange,
    query_of,
    relying_party,
    sign_in_and_authorize,
)

# --- Helpers -------------------------------------------------------------------------------


def wrong_code(secret: str) -> str:
    """A 6-digit code that is valid for none of the steps the server accepts now."""
    totp = pyotp.TOTP(secret)
    now = time.time()
    valid = {totp.at(now + delta) for delta in (-60, -30, 0, 30, 60)}
    return next(c for c in ("000000", "111111", "222222", "333333", "444444", "555555", "666666") if c not in valid)


async def enrol_with_recovery_codes(client: httpx.AsyncClient) -> tuple[str, list[str]]:
    """Enrol TOTP through the setup page; return the secret and the recovery codes shown."""
    page = await client.get("/account/two-factor/setup")
    secret = re.search(r'id="totp-secret">([A-Z2-7 ]+)<', page.text).group(1).replace(" ", "")  # type: ignore[union-attr]
    sealed = re.search(r'name="sealed_secret" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    response = await client.post(
        "/account/two-factor/setup",
        data={"csrf_token": f.csrf_from(page.text), "sealed_secret": sealed, "code": pyotp.TOTP(secret).now()},
    )
    assert response.status_code == 200, response.text
    codes = re.findall(r"<li><code>([a-z0-9]{5}-[a-z0-9]{5})</code></li>", response.text)
    assert len(codes) == 10
    return secret, codes


async def account_by_email(session, email: str) -> Account:
    session.expire_all()
    return await session.scalar(select(Account).where(Account.email == email))


def new_browser(app) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=("198.51.100.9", 40000))
    return httpx.AsyncClient(transport=transport, base_url="http://testserver", follow_redirects=False)


# --- Findings (fail until fixed) ---------------------------------------------------------------


async def test_finding_second_factor_guesses_are_not_reset_by_the_password_step(client, session):
    """Whoever knows the password must not get unlimited TOTP guesses.

    A correct password sets failed_sign_ins back to 0 (service.authenticate_password), and the
    second factor counts its failures in that same counter: 4 guesses, password again, 4 more...
    """
    data = await f.register_citizen(client)
    secret = await f.enrol_totp(client)
    await f.sign_out(client)
    bad = wrong_code(secret)
    wrong_guesses = 0
    for _round in range(3):
        signed_in = await f.sign_in(client, data["email"])
        if signed_in.status_code != 303:
            break  # locked: what should happen
        assert signed_in.headers["location"].startswith("/sign-in/second-factor")
        for _ in range(4):
            refused = await f.form_post(client, "/sign-in/second-factor", "/sign-in/second-factor", {"code": bad})
            assert refused.status_code in (401, 429)
            wrong_guesses += 1
    account = await account_by_email(session, data["email"])
    assert wrong_guesses > 5
    # 12 wrong one-time codes, more than twice the threshold of 5: the account must be locked.
    assert account.locked_until is not None, "TOTP guesses were never locked out"
    assert (await f.sign_in(client, data["email"])).status_code == 429


async def test_finding_totp_cannot_be_replaced_from_a_password_only_session(app, client, session):
    """A session opened with the password alone, before 2FA was turned on, must not swap the authenticator.

    POST /account/two-factor/setup (signed_in_any_level) never checks totp_enabled, so an old AAL1
    session sets its own secret, is raised to AAL2, and the owner's app stops working.
    """
    data = await f.register_citizen(client)
    async with new_browser(app) as attacker:
        # The attacker's session predates the owner's enrolment (stolen cookie, shared computer).
        assert (await f.sign_in(attacker, data["email"])).status_code == 303
        owner_secret = await f.enrol_totp(client)
        # Any setup page gives a (secret, sealed secret) pair: the sealed value is not bound to an account.
        async with new_browser(app) as scratch:
            await f.register_citizen(scratch)
            page = await scratch.get("/account/two-factor/setup")
        attacker_secret = re.search(r'id="totp-secret">([A-Z2-7 ]+)<', page.text).group(1).replace(" ", "")  # type: ignore[union-attr]
        sealed = re.search(r'name="sealed_secret" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
        home = await attacker.get("/register/citizen")  # any page with a form: a valid CSRF token
        swap = await attacker.post(
            "/account/two-factor/setup",
            data={"csrf_token": f.csrf_from(home.text), "sealed_secret": sealed,
                  "code": pyotp.TOTP(attacker_secret).at(time.time() + 30)},
        )
        me = await attacker.get("/api/v1/identity/me")
    assert 'id="recovery-codes"' not in swap.text, "an AAL1 session replaced the authenticator"
    assert not (me.status_code == 200 and me.json()["aal"] == 2), "an AAL1 session was raised to AAL2"
    # The owner's authenticator still works.
    await f.sign_out(client)
    assert (await f.sign_in(client, data["email"])).headers["location"].startswith("/sign-in/second-factor")
    ok = await f.form_post(client, "/sign-in/second-factor", "/sign-in/second-factor",
                           {"code": pyotp.TOTP(owner_secret).at(time.time() + 30)})
    assert ok.status_code == 303


async def test_finding_totp_setup_is_not_a_decryption_oracle(client, session):
    """The setup form decrypts whatever sealed_secret it is sent and shows the plaintext on error.

    Fernet ciphertexts of other accounts' TOTP seeds (all encrypted with the same data keys) are
    decrypted for any signed-in user: a database leak without the keys becomes every seed.
    """
    victim = await f.register_citizen(client)
    victim_secret = await f.enrol_totp(client)
    await f.sign_out(client)
    stored = (await account_by_email(session, victim["email"])).totp_secret_encrypted
    await f.register_citizen(client)  # the attacker's own, ordinary account
    page = await client.get("/account/two-factor/setup")
    response = await client.post(
        "/account/two-factor/setup",
        data={"csrf_token": f.csrf_from(page.text), "sealed_secret": stored, "code": "000000"},
    )
    shown = re.search(r'id="totp-secret">([^<]*)<', response.text)
    revealed = html.unescape(shown.group(1)).replace(" ", "") if shown else ""
    assert revealed != victim_secret, "another account's TOTP seed was decrypted and shown"
    assert victim_secret not in response.text.replace(" ", "")


@pytest.mark.parametrize("content_type", [
    "Application/x-www-form-urlencoded",
    "APPLICATION/X-WWW-FORM-URLENCODED; charset=utf-8",
])
async def test_finding_csrf_check_does_not_depend_on_content_type_case(client, session, content_type):
    """Media types are case-insensitive; the CSRF decision in _load_caller compares them case-sensitively.

    Starlette still parses the body as a form, so a cookie-less sign-in (login CSRF) or registration
    goes through without any token.
    """
    data = await f.register_citizen(client)
    await f.sign_out(client)
    body = urlencode({"identifier": data["email"], "password": f.PASSWORD})
    response = await client.post("/sign-in", content=body, headers={"content-type": content_type})
    assert response.status_code == 403, "a form post without a CSRF token signed someone in"
    assert SESSION_COOKIE not in response.headers.get("set-cookie", "")


@pytest.mark.parametrize("path", ["//evil.example/x", "/%2F/evil.example/x"])
async def test_finding_language_switch_link_stays_on_this_site(client, path):
    """The th/en link repeats the request path: //evil.example becomes a protocol-relative link."""
    page = await client.get(f"http://testserver{path}", headers={"accept": "text/html"})
    links = re.findall(r'class="lang-switch"|href="([^"]*lang=(?:en|th)[^"]*)"', page.text)
    hrefs = [html.unescape(h) for h in links if h]
    assert hrefs, page.text[:300]
    for href in hrefs:
        parts = urlsplit(href)
        assert not parts.netloc and not parts.scheme, f"language link leaves the site: {href}"
        assert not href.startswith("//") and not href.startswith("/\\")


async def test_finding_recovery_code_works_only_once_even_in_parallel(app, client, session):
    """Recovery codes are marked used with a plain ORM write, not a conditional UPDATE like TOTP steps."""
    data = await f.register_citizen(client)
    _secret, codes = await enrol_with_recovery_codes(client)
    await f.sign_out(client)
    browsers = [new_browser(app), new_browser(app)]
    try:
        forms = []
        for browser in browsers:
            assert (await f.sign_in(browser, data["email"])).status_code == 303
            page = await browser.get("/sign-in/second-factor")
            forms.append({"csrf_token": f.csrf_from(page.text), "code": codes[0]})
        results = await asyncio.gather(*(
            browser.post("/sign-in/second-factor", data=form) for browser, form in zip(browsers, forms, strict=True)
        ))
    finally:
        for browser in browsers:
            await browser.aclose()
    accepted = [r for r in results if r.status_code == 303]
    assert len(accepted) == 1, f"one recovery code opened {len(accepted)} sessions"


async def test_finding_wrong_current_password_counts_toward_lockout(client, session):
    """The change-password form checks the current password without counting failures.

    A stolen session can guess the password there without limit (no lockout, no audit event).
    """
    data = await f.register_citizen(client)
    for _ in range(8):
        page = await client.get("/account/password")
        response = await client.post(
            "/account/password",
            data={"csrf_token": f.csrf_from(page.text), "current_password": "not the password",
                  "new_password": "another long passphrase here"},
        )
        if response.status_code == 429:
            break
    account = await account_by_email(session, data["email"])
    assert response.status_code == 429 or account.locked_until is not None, (
        "eight wrong current passwords were neither limited nor counted"
    )


async def test_finding_prompt_login_forces_a_fresh_sign_in(client, session):
    """OIDC Core 3.1.2.1: prompt=login must re-authenticate, or fail with login_required.

    It is parsed but ignored: an existing session gets a code at once, with the old auth_time.
    """
    rp = await relying_party(session)
    person = await citizen(session)
    await code_for(client, session, rp, identifier=person.email)  # signed in, consent given
    again = await client.get(authorize_url(rp.client.client_id, prompt="login"))
    assert again.status_code == 303
    location = again.headers["location"]
    returned = query_of(location) if location.startswith(REDIRECT) else {}
    assert "code" not in returned, "prompt=login returned a code without signing in again"


async def test_finding_oversized_bodies_are_refused_before_parsing(client):
    """Nothing limits request bodies: the token endpoint parses any size of form before authenticating.

    (Starlette caps multipart parts, not url-encoded forms or JSON.)
    """
    big = "x" * (4 * 1024 * 1024)
    response = await client.post(
        "/oidc/token",
        content=urlencode({"grant_type": "client_credentials", "client_id": "gh-nobody", "client_assertion": big}),
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 413, f"a 4 MiB form was read and answered {response.status_code}"


# --- Properties verified to hold ------------------------------------------------------------


@pytest.mark.parametrize("value", [
    "//evil.example", "/\\evil.example", "\\\\evil.example", "https://evil.example/", "/\t/evil.example",
    "/\n/evil.example", "/\r\n/evil.example", "javascript:alert(1)", "evil.example", "", None,
])
def test_safe_next_refuses_off_site_targets(value):
    assert safe_next(value) == "/account"


async def test_sign_in_redirect_never_leaves_the_site(client):
    data = await f.register_citizen(client)
    await f.sign_out(client)
    page = await client.get("/sign-in")
    response = await client.post("/sign-in", data={
        "csrf_token": f.csrf_from(page.text), "identifier": data["email"], "password": f.PASSWORD,
        "next": "/\t/evil.example",
    })
    assert response.status_code == 303 and response.headers["location"] == "/account"


async def test_unknown_identifier_and_wrong_password_look_the_same(client):
    data = await f.register_citizen(client)
    await f.sign_out(client)
    unknown = await f.sign_in(client, f.email(), "some wrong password")
    wrong = await f.sign_in(client, data["email"], "some wrong password")
    assert unknown.status_code == wrong.status_code == 401

    def message(response: httpx.Response) -> str:
        return re.sub(r"\s+", " ", re.search(r'role="alert".*?</', response.text, re.S).group(0))  # type: ignore[union-attr]

    assert message(unknown) == message(wrong)


async def test_cookie_authenticated_json_write_needs_the_csrf_header(client, session):
    await signed_in_admin(client, session)
    code = "SR" + f.national_id()[:6]
    body = {"code": code, "name_th": "หน่วยงาน", "name_en": "Agency"}
    refused = await client.post("/api/v1/identity/agencies", json=body)
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "csrf_failed"
    plain = await client.post("/api/v1/identity/agencies", content=str(body), headers={"content-type": "text/plain"})
    assert plain.status_code == 403
    assert await session.scalar(select(func.count()).where(Agency.code == code)) == 0
    token = f.csrf_from((await client.get("/admin/agencies")).text)
    created = await client.post("/api/v1/identity/agencies", json=body, headers={"x-csrf-token": token})
    assert created.status_code == 201


async def test_csrf_token_of_another_browser_is_refused(app, client):
    await f.register_citizen(client)
    async with new_browser(app) as other:
        foreign = f.csrf_from((await other.get("/sign-in")).text)
    response = await client.post("/account/sign-out-everywhere", data={"csrf_token": foreign})
    assert response.status_code == 403
    assert (await client.get("/api/v1/identity/me")).status_code == 200


async def test_password_change_signs_out_every_other_session(app, client, session):
    data = await f.register_citizen(client)
    async with new_browser(app) as other:
        assert (await f.sign_in(other, data["email"])).status_code == 303
        old_cookie = client.cookies.get(SESSION_COOKIE)
        page = await client.get("/account/password")
        changed = await client.post("/account/password", data={
            "csrf_token": f.csrf_from(page.text), "current_password": f.PASSWORD,
            "new_password": "a different long passphrase",
        })
        assert changed.status_code == 303
        assert (await other.get("/api/v1/identity/me")).status_code == 401
    assert client.cookies.get(SESSION_COOKIE) != old_cookie
    assert (await client.get("/api/v1/identity/me")).status_code == 200
    account = await account_by_email(session, data["email"])
    live = await session.scalar(
        select(func.count()).where(UserSession.account_id == account.id, UserSession.revoked_at.is_(None))
    )
    assert live == 1


async def test_half_signed_in_session_reaches_nothing_but_the_second_factor(client):
    data = await f.register_citizen(client)
    await f.enrol_totp(client)
    await f.sign_out(client)
    assert (await f.sign_in(client, data["email"])).headers["location"].startswith("/sign-in/second-factor")
    for path in ("/account", "/account/password", "/account/two-factor/setup", "/oidc/authorize"):
        response = await client.get(path, headers={"accept": "text/html"})
        assert response.status_code in (303, 400), path
        if response.status_code == 303:
            assert response.headers["location"].startswith("/sign-in"), path
    page = await client.get("/sign-in/second-factor")
    out = await client.post("/account/sign-out-everywhere", data={"csrf_token": f.csrf_from(page.text)})
    assert out.status_code in (401, 403)


async def test_disabling_totp_needs_the_second_factor_session(app, client):
    data = await f.register_citizen(client)
    async with new_browser(app) as old:
        assert (await f.sign_in(old, data["email"])).status_code == 303  # AAL1, before enrolment
        await f.enrol_totp(client)
        page = await old.get("/register/citizen")  # any page with a form: a valid CSRF token
        # Enrolment ended the old password-only session; either way it may not touch 2FA.
        response = await old.post("/account/two-factor/disable", data={"csrf_token": f.csrf_from(page.text)})
        assert response.status_code == 401
        regenerate = await old.post("/account/recovery-codes", data={"csrf_token": f.csrf_from(page.text)})
        assert regenerate.status_code == 401
    assert (await client.get("/api/v1/identity/me")).json()["totp_enabled"] is True


async def test_consent_page_escapes_client_and_agency_names(client, session):
    from govhub.identity import service

    agency = await service.create_agency(
        session, code="XSS" + f.national_id()[:5], name_th='<img src=x onerror="alert(1)">',
        name_en='<img src=x onerror="alert(1)">', actor_id=None,
    )
    rp = await relying_party(session, name='<script>alert("rp")</script>', agency_id=agency.id)
    person = await citizen(session)
    page = await sign_in_and_authorize(client, authorize_url(rp.client.client_id), person.email)
    assert page.status_code == 200
    assert "<script>alert" not in page.text and "<img src=x" not in page.text
    assert "&lt;script&gt;" in page.text
    csp = page.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp


async def test_authorize_state_is_returned_encoded_not_injected(client, session):
    rp = await relying_party(session)
    person = await citizen(session)
    await code_for(client, session, rp, identifier=person.email)
    state = "a&code=injected&iss=https://evil.example#frag"
    response = await client.get(authorize_url(rp.client.client_id, state=state))
    location = response.headers["location"]
    assert location.startswith(REDIRECT + "?") and "#" not in location
    returned = {}
    for key, value in [pair.split("=", 1) for pair in urlsplit(location).query.split("&")]:
        assert key not in returned, f"parameter {key} appears twice"
        returned[key] = value
    assert query_of(location)["state"] == state


async def test_code_cannot_be_redeemed_by_another_client(client, session):
    rp = await relying_party(session)
    other = await relying_party(session)
    code, verifier = await code_for(client, session, rp)
    stolen = await client.post("/oidc/token", data=exchange(code, verifier), auth=(other.client.client_id, other.secret))
    assert stolen.status_code == 400 and stolen.json()["error"] == "invalid_grant"


async def test_id_token_is_not_accepted_as_an_access_token(client, session):
    rp = await relying_party(session)
    code, verifier = await code_for(client, session, rp)
    tokens = (await client.post("/oidc/token", data=exchange(code, verifier),
                                auth=(rp.client.client_id, rp.secret))).json()
    as_bearer = await client.get("/oidc/userinfo", headers={"authorization": f"Bearer {tokens['id_token']}"})
    assert as_bearer.status_code == 401 and as_bearer.json()["error"] == "invalid_token"
    good = await client.get("/oidc/userinfo", headers={"authorization": f"Bearer {tokens['access_token']}"})
    assert good.status_code == 200


async def test_unsigned_or_hmac_access_tokens_are_refused(client):
    import base64
    import json

    def b64(value: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    from govhub.identity import keys

    claims = {"iss": keys.issuer(), "aud": keys.issuer(), "sub": "x", "scope": "openid", "exp": 9999999999}
    unsigned = f"{b64({'alg': 'none', 'typ': 'at+jwt'})}.{b64(claims)}."
    response = await client.get("/oidc/userinfo", headers={"authorization": f"Bearer {unsigned}"})
    assert response.status_code == 401
    public = await client.get("/oidc/jwks")
    kid = public.json()["keys"][0]["kid"]
    import hashlib
    import hmac

    header = b64({"alg": "HS256", "typ": "at+jwt", "kid": kid})
    body = b64(claims)
    signature = base64.urlsafe_b64encode(
        hmac.new(json.dumps(public.json()["keys"][0]).encode(), f"{header}.{body}".encode(), hashlib.sha256).digest()
    ).rstrip(b"=").decode()
    confused = await client.get("/oidc/userinfo", headers={"authorization": f"Bearer {header}.{body}.{signature}"})
    assert confused.status_code == 401


async def test_consent_cannot_widen_scopes_beyond_the_client_registration(client, session):
    rp = await relying_party(session, scopes=["openid", "profile"])
    person = await citizen(session)
    page = await sign_in_and_authorize(client, authorize_url(rp.client.client_id), person.email)
    fields = dict(re.findall(r'type="hidden" name="(\w+)" value="([^"]*)"', page.text))
    fields = {k: html.unescape(v) for k, v in fields.items()}
    response = await client.post("/sign-in/consent", data={**fields, "scope": "openid profile national_id",
                                                          "decision": "allow"})
    assert response.status_code == 303
    assert query_of(response.headers["location"])["error"] == "invalid_scope"
    ok = await consent(client, page)
    assert "code" in query_of(ok)
