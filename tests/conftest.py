"""Test harness: a fresh database (SQLite file or a new PostgreSQL database) per run.

GOVHUB_TEST_DATABASE=sqlite|postgresql picks the backend; `make test` runs both.
The environment is set here, before govhub is imported, because settings are read once.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

RUN_DIR = Path(tempfile.mkdtemp(prefix="govhub-test-"))
BACKEND = os.environ.get("GOVHUB_TEST_DATABASE", "sqlite")
POSTGRES_ADMIN_URL = os.environ.get(
    "GOVHUB_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
)
PG_DATABASE = f"govhub_test_{os.getpid()}_{secrets.token_hex(3)}"


def _postgres_url(database: str) -> str:
    base = POSTGRES_ADMIN_URL.rsplit("/", 1)[0]
    return f"{base}/{database}"


def _plain(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://")


async def _postgres_admin(statement: str) -> None:
    import asyncpg

    connection = await asyncpg.connect(_plain(POSTGRES_ADMIN_URL))
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


if BACKEND == "postgresql":
    asyncio.run(_postgres_admin(f'CREATE DATABASE "{PG_DATABASE}"'))
    DATABASE_URL = _postgres_url(PG_DATABASE)
else:
    DATABASE_URL = f"sqlite+aiosqlite:///{RUN_DIR / 'govhub.db'}"

TEST_ENV = {
    "GOVHUB_ENVIRONMENT": "test",
    "GOVHUB_DATABASE_URL": DATABASE_URL,
    "GOVHUB_JOB_BACKEND": "immediate",
    "GOVHUB_SECRET_KEY": secrets.token_urlsafe(32),
    "GOVHUB_PII_HASH_KEY": secrets.token_urlsafe(32),
    "GOVHUB_DATA_KEYS": "Zm9yLXRlc3RzLW9ubHktMzItYnl0ZXMta2V5LWFiY2Q=",
    # Cheaper argon2 in tests: the real cost is measured in bench/, not paid on every test.
    "GOVHUB_ARGON2_TIME_COST": "1",
    "GOVHUB_ARGON2_MEMORY_KIB": "8192",
    "GOVHUB_ARGON2_PARALLELISM": "1",
    "GOVHUB_SIGN_IN_RATE_PER_IP": "10000/minute",
    "GOVHUB_LOG_JSON": "true",
    # Pages show what the test just arranged, not figures cached by an earlier test.
    "GOVHUB_OPENDATA_QUALITY_CACHE_SECONDS": "0",
}
os.environ.update(TEST_ENV)

from govhub.migrations.runner import upgrade  # noqa: E402

upgrade(DATABASE_URL)


def pytest_report_header() -> str:
    """Say which database this run uses."""
    return f"govhub test database: {BACKEND} ({DATABASE_URL.split('@')[-1]})"


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Drop the PostgreSQL test database and remove this run's files."""
    import shutil

    shutil.rmtree(RUN_DIR, ignore_errors=True)
    if BACKEND == "postgresql":
        try:
            asyncio.run(_postgres_admin(f'DROP DATABASE IF EXISTS "{PG_DATABASE}" WITH (FORCE)'))
        except Exception as error:  # noqa: BLE001 - cleanup must not hide the test result
            print(f"could not drop {PG_DATABASE}: {error}", file=sys.stderr)


@pytest.fixture(scope="session")
def app():  # type: ignore[no-untyped-def]
    """The govhub ASGI application."""
    from govhub.app import create_app

    return create_app()


@pytest.fixture
async def client(app) -> AsyncIterator["httpx.AsyncClient"]:  # type: ignore[no-untyped-def] # noqa: F821
    """An HTTP client talking to the app in-process, with its own cookie jar."""
    import httpx

    from govhub.kit import ratelimit

    await ratelimit.reset()
    transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver", follow_redirects=False) as http:
        yield http


@pytest.fixture
async def session() -> AsyncIterator["AsyncSession"]:  # type: ignore[no-untyped-def] # noqa: F821
    """A database session for arranging and checking state directly (committed on success)."""
    from govhub.db import unit_of_work

    async with unit_of_work() as db:
        yield db


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def live_server() -> Iterator[str]:
    """govhub served by uvicorn in a real subprocess on loopback; yields its base URL."""
    port = _free_port()
    env = {**os.environ, "GOVHUB_PORT": str(port), "GOVHUB_BASE_URL": f"http://127.0.0.1:{port}"}
    log_path = RUN_DIR / "live-server.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "govhub.cli", "serve", "--port", str(port)],
            env=env, stdout=log, stderr=subprocess.STDOUT,
        )
        base_url = f"http://127.0.0.1:{port}"
        try:
            _wait_until_up(base_url, process, log_path)
            yield base_url
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()


def _wait_until_up(base_url: str, process: subprocess.Popen[bytes], log_path: Path) -> None:
    import httpx

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"live server exited:\n{log_path.read_text()}")
        try:
            if httpx.get(f"{base_url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.2)
    raise RuntimeError(f"live server did not start:\n{log_path.read_text()}")
