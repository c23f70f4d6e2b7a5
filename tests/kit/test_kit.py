"""Plumbing: Thai ID check digits, Buddhist-era dates, log masking, metrics, headers."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

import pytest

from govhub.kit.clock import format_datetime
from govhub.kit.observability import mask_personal_data
from govhub.kit.thai_ids import (
    has_valid_check_digit,
    is_valid_juristic_id,
    is_valid_national_id,
    with_check_digit,
)


@pytest.mark.parametrize("number", ["1101700230708", "3100600123450", "1-1017-00230-70-8"])
def test_valid_national_ids(number):
    assert is_valid_national_id(number)


@pytest.mark.parametrize("number", ["1101700230709", "110170023070", "11017002307080", "0105561012346", "abcdefghijklm", ""])
def test_invalid_national_ids(number):
    assert not is_valid_national_id(number)


def test_check_digit_matches_the_published_rule():
    # 1101700230708: sum of digit*weight (13..2) over the first 12 is 146; (11 - 146 % 11) % 10 = 8.
    digits = "110170023070"
    total = sum(int(d) * w for d, w in zip(digits, range(13, 1, -1)))
    assert total == 146 and with_check_digit(digits)[-1] == "8"
    for prefix in ("310060012345", "010556101234", "999999999999"):
        assert has_valid_check_digit(with_check_digit(prefix))


def test_juristic_ids_start_with_zero():
    assert is_valid_juristic_id("0105561012346")
    assert not is_valid_juristic_id("0105561012347")
    assert not is_valid_juristic_id("1101700230708")


def test_thai_dates_use_buddhist_era_and_bangkok_time():
    moment = datetime(2026, 11, 23, 20, 30, tzinfo=UTC)  # 03:30 next day in Bangkok
    assert format_datetime(moment, "th") == "24 พ.ย. 2569 03:30"
    assert format_datetime(moment, "en") == "24 Nov 2026 03:30"


def test_log_processor_masks_ids_emails_and_secrets():
    event = {
        "event": "lookup of 1101700230708 by somchai@example.go.th",
        "password": "hunter2-hunter2",
        "session_token": "abc",
    }
    masked = mask_personal_data(None, "info", dict(event))
    assert "1101700230708" not in masked["event"] and "somchai@" not in masked["event"]
    assert masked["event"].startswith("lookup of 1*********08 by s***@example.go.th")
    assert masked["password"] == "[redacted]" and masked["session_token"] == "[redacted]"


async def test_request_logs_are_json_with_request_id(client):
    import io

    root = logging.getLogger()
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.setFormatter(root.handlers[0].formatter)  # the JSON formatter the app installed
    root.addHandler(handler)
    try:
        await _two_requests(client)
    finally:
        root.removeHandler(handler)
    lines = [json.loads(line) for line in buffer.getvalue().splitlines() if line.startswith("{")]
    request_lines = [line for line in lines if line.get("event") == "request" and line.get("route") == "/readyz"]
    assert request_lines and request_lines[-1]["request_id"] == "test-request-0002"
    assert request_lines[-1]["status"] == 200
    assert all("1101700230708" not in json.dumps(line) for line in lines)


async def _two_requests(client) -> None:
    response = await client.get("/healthz?nid=1101700230708", headers={"x-request-id": "test-request-0001"})
    assert response.headers["x-request-id"] == "test-request-0001"
    await client.get("/readyz", headers={"x-request-id": "test-request-0002"})


async def test_metrics_count_requests_by_route_template(client):
    await client.get("/register/citizen")
    await client.get("/register/business")
    body = (await client.get("/metrics")).text
    assert 'govhub_http_requests_total{method="GET",route="/register/{kind}",status="200"}' in body
    assert "govhub_http_request_duration_seconds_bucket" in body
    assert 'route="/register/citizen"' not in body  # templates, never raw paths


async def test_api_docs_served_without_a_cdn(client):
    page = await client.get("/docs")
    assert page.status_code == 200 and "/static/swagger/swagger-ui-bundle.js" in page.text
    assert "cdn" not in page.text.lower()
    assert (await client.get("/static/swagger/swagger-ui-bundle.js")).status_code == 200
    spec = (await client.get("/openapi.json")).json()
    assert "/api/v1/identity/me" in spec["paths"]


async def test_hsts_and_secure_cookies_under_https(app, monkeypatch):
    import httpx

    from govhub.config import get_settings

    monkeypatch.setattr(get_settings(), "https", True)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as https_client:
        response = await https_client.get("/sign-in")
    assert "max-age=31536000" in response.headers["strict-transport-security"]
    assert "Secure" in response.headers["set-cookie"]


async def test_readyz_reports_an_unreachable_database(client, monkeypatch):
    from sqlalchemy.ext.asyncio import create_async_engine

    from govhub.web import system

    unreachable = create_async_engine("postgresql+asyncpg://nobody@127.0.0.1:1/none")
    monkeypatch.setattr(system, "get_engine", lambda: unreachable)
    response = await client.get("/readyz")
    assert response.status_code == 503 and response.json()["database"] == "unreachable"
    assert (await client.get("/healthz")).status_code == 200  # alive, just not ready


def test_password_policy():
    from govhub.identity.passwords import check_password_policy
    from govhub.kit.errors import ValidationFailed

    check_password_policy("correct horse battery staple")
    check_password_policy("ช้างเผือกกินกล้วยหอมทุกวัน")  # Thai passphrases are fine
    for weak in ("short", "password1234", "qwertyuiop123", "aaaaaaaaaaaaaaa", "รหัสผ่าน1234"):
        with pytest.raises(ValidationFailed):
            check_password_policy(weak)
    with pytest.raises(ValidationFailed):
        check_password_policy("my id is 1101700230708", context=("1101700230708",))


def test_production_refuses_machine_local_secrets(monkeypatch):
    from pydantic import ValidationError

    from govhub.config import Settings

    for name in ("GOVHUB_SECRET_KEY", "GOVHUB_PII_HASH_KEY", "GOVHUB_DATA_KEYS", "GOVHUB_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(ValidationError, match="production requires"):
        Settings(environment="production")


async def test_malformed_cookie_header_is_ignored_not_an_error(client):
    response = await client.get("/", headers={"cookie": 'govhub_lang="en; bad\\"cookie=;;'})
    assert response.status_code == 200


async def test_rate_limits_shared_through_redis(monkeypatch):
    """With a redis:// storage, limits count in Redis (what several web workers share)."""
    import secrets

    import redis

    from govhub.config import get_settings
    from govhub.kit import ratelimit
    from govhub.kit.errors import TooManyRequests
    from tests.services import redis_server

    with redis_server() as url:
        monkeypatch.setattr(get_settings(), "rate_limit_storage_url", url)
        ratelimit._limiter.cache_clear()
        try:
            key = secrets.token_hex(4)
            await ratelimit.hit("2/minute", "test", key)
            await ratelimit.hit("2/minute", "test", key)
            with pytest.raises(TooManyRequests):
                await ratelimit.hit("2/minute", "test", key)
            assert any(key.encode() in k for k in redis.Redis.from_url(url).keys("*"))
        finally:
            ratelimit._limiter.cache_clear()


def test_days_are_shown_in_bangkok_with_buddhist_era_years():
    from datetime import date

    from govhub.kit.clock import format_day

    assert format_day(date(2026, 11, 24), "th") == "24 พ.ย. 2569"
    assert format_day("2026-11-24", "en") == "24 Nov 2026"
    # 20:00 UTC is already the next day in Bangkok.
    assert format_day("2026-11-24T20:00:00+00:00", "th") == "25 พ.ย. 2569"
    assert format_day(None, "th") == ""
