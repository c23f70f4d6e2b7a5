"""Builders for test data with valid, unique identifiers."""

from __future__ import annotations

import re
import secrets

import httpx
import pyotp

from govhub.kit.thai_ids import with_check_digit

PASSWORD = "correct horse battery staple"


def national_id() -> str:
    """A random national ID with a valid check digit (first digit 1-8)."""
    return with_check_digit(str(secrets.choice(range(1, 9))) + "".join(secrets.choice("0123456789") for _ in range(11)))


def juristic_id() -> str:
    """A random juristic-person number with a valid check digit (starts with 0)."""
    return with_check_digit("0105" + "".join(secrets.choice("0123456789") for _ in range(8)))


def invalid_check_digit(number: str) -> str:
    """The same number with a wrong check digit."""
    return number[:12] + str((int(number[12]) + 1) % 10)


def email() -> str:
    """A unique email address."""
    return f"user-{secrets.token_hex(5)}@example.go.th"


def csrf_from(html: str) -> str:
    """The CSRF token embedded in a page's form."""
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "page has no CSRF field"
    return match.group(1)


async def form_post(client: httpx.AsyncClient, get_url: str, post_url: str, data: dict[str, str]) -> httpx.Response:
    """GET a form page for its CSRF token, then POST data to post_url."""
    page = await client.get(get_url)
    return await client.post(post_url, data={"csrf_token": csrf_from(page.text), **data})


async def register_citizen(client: httpx.AsyncClient, **overrides: str) -> dict[str, str]:
    """Register a citizen through the page; return what was submitted."""
    data = {"full_name": "สมหญิง ทดสอบ", "email": email(), "password": PASSWORD, "national_id": national_id()}
    data.update(overrides)
    response = await form_post(client, "/register/citizen", "/register/citizen", data)
    assert response.status_code == 303, response.text
    return data


async def sign_in(client: httpx.AsyncClient, identifier: str, password: str = PASSWORD) -> httpx.Response:
    """Submit the sign-in form."""
    return await form_post(client, "/sign-in", "/sign-in", {"identifier": identifier, "password": password})


async def enrol_totp(client: httpx.AsyncClient) -> str:
    """Enrol TOTP through the setup page; return the secret."""
    page = await client.get("/account/two-factor/setup")
    secret = re.search(r'id="totp-secret">([A-Z2-7 ]+)<', page.text).group(1).replace(" ", "")  # type: ignore[union-attr]
    sealed = re.search(r'name="sealed_secret" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    response = await client.post(
        "/account/two-factor/setup",
        data={"csrf_token": csrf_from(page.text), "sealed_secret": sealed, "code": pyotp.TOTP(secret).now()},
    )
    assert response.status_code == 200 and "recovery-codes" in response.text, response.text
    return secret


def replace_cookie(client: httpx.AsyncClient, name: str, value: str) -> None:
    """Put value in the client's jar as the only cookie called name."""
    for cookie in list(client.cookies.jar):
        if cookie.name == name:
            client.cookies.jar.clear(cookie.domain, cookie.path, cookie.name)
    client.cookies.set(name, value, domain="testserver.local", path="/")


async def sign_out(client: httpx.AsyncClient) -> None:
    """Press the sign-out button."""
    page = await client.get("/")
    response = await client.post("/sign-out", data={"csrf_token": csrf_from(page.text)})
    assert response.status_code == 303


def html_unescape(text: str) -> str:
    """Text as the browser would show it (entities decoded)."""
    import html

    return html.unescape(text)
