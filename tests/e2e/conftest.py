"""Playwright fixtures: one headless Debian Chromium per run, a fresh context per test.

The browser is the system's /usr/bin/chromium (Playwright never downloads its own) and it
only ever talks to the `live_server` on loopback. Screenshots of each step are written to
test-artifacts/screenshots/<backend>/<test-name>-<step>.png at the repository root, and a
"-failure" screenshot is taken when a test fails.
"""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import Callable, Generator, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, expect, sync_playwright

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
BACKEND = os.environ.get("GOVHUB_TEST_DATABASE", "sqlite")
REPO_ROOT = Path(__file__).resolve().parents[2]
SCREENSHOT_DIR = REPO_ROOT / "test-artifacts" / "screenshots" / BACKEND
TIMEOUT_MS = 15_000

expect.set_options(timeout=TIMEOUT_MS)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Keep each phase's report on the test item so fixtures can tell a failed test."""
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


# Module scope, not session: while the sync API is alive it marks its own event loop as
# running in the main thread, and pytest-asyncio cannot run the async tests of the other
# modules until it has stopped.
@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    """The Playwright driver (sync API: the browser tests are plain functions)."""
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    """Debian's headless Chromium, shared by the browser tests of a module."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: install it with `apt-get install -y chromium`")
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
    yield browser
    browser.close()


@pytest.fixture
def context(browser: Browser, live_server: str) -> Iterator[BrowserContext]:
    """A fresh profile (no cookies) of a browser set to Thai, as most visitors' are."""
    context = browser.new_context(
        base_url=live_server,
        locale="th-TH",
        timezone_id="Asia/Bangkok",
        viewport={"width": 1280, "height": 900},
    )
    context.set_default_timeout(TIMEOUT_MS)
    yield context
    context.close()


def _test_slug(item: pytest.Item) -> str:
    return re.sub(r"[^\w.-]+", "-", item.name).strip("-")


@pytest.fixture
def page(context: BrowserContext, request: pytest.FixtureRequest) -> Iterator[Page]:
    """A tab in the fresh context; screenshotted if the test fails."""
    failure_shot = SCREENSHOT_DIR / f"{_test_slug(request.node)}-failure.png"
    failure_shot.unlink(missing_ok=True)  # from an earlier run
    page = context.new_page()
    yield page
    report = getattr(request.node, "report_call", None)
    if report is not None and report.failed and not page.is_closed():
        SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(failure_shot), full_page=True)


@pytest.fixture
def shot(request: pytest.FixtureRequest) -> Callable[[Page, str], Path]:
    """shot(page, "03-account") saves a full-page screenshot for this test and step."""
    SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
    slug = _test_slug(request.node)

    def take(page: Page, step: str) -> Path:
        path = SCREENSHOT_DIR / f"{slug}-{step}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take


def count_accounts(*, national_id: str, email: str) -> int:
    """Accounts in the live server's database with this national ID or email.

    Runs on its own event loop in a worker thread, with its own engine, so that it touches
    neither pytest-asyncio's loop nor the per-thread engine in govhub.db.
    """
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine

    async def query() -> int:
        engine = create_async_engine(os.environ["GOVHUB_DATABASE_URL"])
        try:
            async with engine.connect() as connection:
                statement = "SELECT count(*) FROM accounts WHERE national_id = :nid OR email = :email"
                result = await connection.execute(
                    text(statement), {"nid": national_id, "email": email.lower()}
                )
                return int(result.scalar_one())
        finally:
            await engine.dispose()

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, query()).result()


@pytest.fixture
def accounts_with() -> Callable[..., int]:
    """count_accounts as a fixture, for tests to check what reached the database."""
    return count_accounts
