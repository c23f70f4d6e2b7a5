"""The platform skeleton: health, readiness, security headers, errors, language."""

from __future__ import annotations


async def test_healthz_and_readyz(client):
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    ready = await client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["database"] == "ok"


async def test_security_headers_on_pages(client):
    response = await client.get("/")
    csp = response.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "strict-transport-security" not in response.headers  # plain HTTP here
    assert response.headers["x-request-id"]


async def test_api_errors_are_json(client):
    response = await client.get("/api/v1/identity/me")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"


async def test_unknown_page_is_readable_page_in_thai_then_english(client):
    thai = await client.get("/no-such-page", headers={"accept": "text/html"})
    assert thai.status_code == 404 and "ไม่พบ" in thai.text
    english = await client.get("/no-such-page?lang=en", headers={"accept": "text/html"})
    assert "not found" in english.text.lower()
