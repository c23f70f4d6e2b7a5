"""Kill test: SIGKILL the server while GDX calls are in flight; no answered call loses its evidence.

govhub runs as a real `python -m govhub.cli serve` subprocess on the test database. A few
asyncio clients send calls through it (allowed ones routed to the real remote provider, and
refused ones), each with its own X-Road-Id. Once enough answers have arrived, the server is
killed with SIGKILL while the other clients' calls are still in flight. The server is then
started again on the same database, and every call that got an answer must have its
evidence record, with the status the answer showed; the restarted server must keep logging;
and `govhub evidence checkpoint` then `govhub evidence verify` must find the log intact.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from sqlalchemy import func, select

from govhub.exchange.evidence import EvidenceLogHead, EvidenceRecord
from govhub.exchange.models import AccessPolicy
from tests.exchange.conftest import make_party, remote_service

KILL_AFTER = 40  # answers received before the kill; every other caller is mid-call then
# What each concurrent caller calls: allowed calls forwarded to the remote provider, calls
# refused for want of an access right, and one call the provider answers only after 3 s (so at
# least one call is certainly inside the server, waiting on the provider, when it is killed).
CALLERS = ("allowed", "allowed", "allowed", "allowed", "refused", "refused", "slow")
CLIENTS = len(CALLERS)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _descendants(pid: int) -> list[int]:
    """pid's child processes, recursively (from /proc/<pid>/task/*/children)."""
    found: list[int] = []
    queue = [pid]
    while queue:
        current = queue.pop()
        with contextlib.suppress(OSError):
            for task in Path(f"/proc/{current}/task").iterdir():
                with contextlib.suppress(OSError):
                    children = [int(c) for c in (task / "children").read_text().split()]
                    found.extend(children)
                    queue.extend(children)
    return found


class GovhubProcess:
    """`python -m govhub.cli serve --port P` (one uvicorn process, no supervisor) on the test database."""

    def __init__(self, port: int, log_path: Path) -> None:
        self.port = port
        self.base_url = f"http://127.0.0.1:{port}"
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None

    async def start(self) -> None:
        env = {**os.environ, "GOVHUB_PORT": str(self.port), "GOVHUB_BASE_URL": self.base_url}
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "govhub.cli", "serve", "--port", str(self.port)],
                env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )
        deadline = time.monotonic() + 30
        async with httpx.AsyncClient(timeout=1) as http:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    raise RuntimeError(f"govhub exited:\n{self.log_path.read_text()}")
                with contextlib.suppress(httpx.HTTPError):
                    if (await http.get(self.base_url + "/healthz")).status_code == 200:
                        return
                await asyncio.sleep(0.1)
        raise RuntimeError(f"govhub did not start:\n{self.log_path.read_text()}")

    def kill(self) -> int:
        """SIGKILL the uvicorn process itself (the one serving: with one worker, the one started)."""
        assert self.process is not None
        pid = self.process.pid
        others = _descendants(pid)
        os.kill(pid, signal.SIGKILL)
        for other in others:  # none expected with one worker; never leave one serving
            with contextlib.suppress(ProcessLookupError):
                os.kill(other, signal.SIGKILL)
        self.process.wait(timeout=10)
        return pid

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)


@dataclass
class Outcome:
    """What the callers saw: answered calls (X-Road-Id -> status) and calls cut off by the kill."""

    answered: dict[str, int] = field(default_factory=dict)
    cut_off: list[str] = field(default_factory=list)
    # Answers read after the kill: complete responses already on their way (in the socket).
    answered_after_kill: list[str] = field(default_factory=list)
    refused_codes: dict[str, str] = field(default_factory=dict)
    killed_pid: int | None = None


async def _token(base_url: str, party) -> str:  # type: ignore[no-untyped-def]
    async with httpx.AsyncClient(base_url=base_url, timeout=10) as http:
        return await party.token(http)


async def _load_and_kill(server: GovhubProcess, urls: list[str], token: str) -> Outcome:
    outcome = Outcome()
    killed = asyncio.Event()
    limits = httpx.Limits(max_connections=CLIENTS, max_keepalive_connections=CLIENTS)
    async with httpx.AsyncClient(base_url=server.base_url, timeout=10, limits=limits) as http:

        async def caller(index: int) -> None:
            url = urls[index]
            while not killed.is_set():
                request_id = f"kill-{index}-{uuid.uuid4().hex}"
                headers = {"authorization": f"Bearer {token}", "X-Road-Id": request_id}
                try:
                    response = await http.get(url, headers=headers)
                except httpx.TransportError:
                    outcome.cut_off.append(request_id)
                    if not killed.is_set():
                        raise
                    return
                assert response.headers.get("x-road-id") == request_id, response.text
                assert response.status_code in (200, 403), response.text
                outcome.answered[request_id] = response.status_code
                if killed.is_set():
                    outcome.answered_after_kill.append(request_id)
                if response.status_code == 403:
                    outcome.refused_codes[request_id] = response.json()["error"]["code"]
                if len(outcome.answered) == KILL_AFTER and not killed.is_set():
                    # Synchronously, right here: every other caller is awaiting its call now.
                    outcome.killed_pid = server.kill()
                    killed.set()

        await asyncio.wait_for(asyncio.gather(*(caller(i) for i in range(CLIENTS))), timeout=60)
    return outcome


async def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return await asyncio.to_thread(
        subprocess.run, [sys.executable, "-m", "govhub.cli", *args],
        env=dict(os.environ), capture_output=True, text=True, timeout=60, check=False,
    )


async def test_sigkill_under_load_loses_no_answered_call(session, remote_provider, tmp_path):
    provider, consumer = await make_party(session), await make_party(session)
    await remote_service(session, provider, remote_provider, access_policy=AccessPolicy.OPEN_TO_GOVERNMENT)
    await remote_service(session, provider, remote_provider, code="closed")  # approval required: refused
    await remote_service(session, provider, remote_provider, code="slow", returned_fields=[], timeout_ms=10_000,
                         access_policy=AccessPolicy.OPEN_TO_GOVERNMENT)
    base = f"/gdx/r1/{provider.subsystem.client_path}"
    paths = {"allowed": "taxpayer/taxpayers/0105561012346", "refused": "closed/taxpayers/0105561012346",
             "slow": "slow/slow"}
    urls = [f"{base}/{paths[kind]}" for kind in CALLERS]
    server = GovhubProcess(_free_port(), tmp_path / "govhub.log")
    try:
        await server.start()
        outcome = await _load_and_kill(server, urls, await _token(server.base_url, consumer))
        assert outcome.killed_pid is not None and server.process is not None
        assert not Path(f"/proc/{outcome.killed_pid}").exists()  # really gone, not just disconnected
        assert server.process.returncode == -signal.SIGKILL
        # The kill came while every other caller was waiting for an answer: each either read
        # an answer already sent, or was cut off (the slow call certainly was).
        assert len(outcome.answered) - KILL_AFTER == len(outcome.answered_after_kill)
        assert len(outcome.answered_after_kill) + len(outcome.cut_off) == CLIENTS - 1
        assert any(request_id.startswith(f"kill-{CALLERS.index('slow')}-") for request_id in outcome.cut_off)
        assert 200 in outcome.answered.values() and 403 in outcome.answered.values()

        await server.start()  # same database, same port
        token = await _token(server.base_url, consumer)
        after_id = f"after-restart-{uuid.uuid4().hex}"
        async with httpx.AsyncClient(base_url=server.base_url, timeout=10) as http:
            after = await http.get(urls[0], headers={"authorization": f"Bearer {token}", "X-Road-Id": after_id})
        assert after.status_code == 200 and after.headers["x-road-id"] == after_id

        await session.rollback()  # a fresh snapshot of what the server committed
        ids = [*outcome.answered, after_id]
        rows = (await session.execute(
            select(EvidenceRecord.request_id, EvidenceRecord.status, EvidenceRecord.error_code)
            .where(EvidenceRecord.request_id.in_(ids))
        )).all()
        logged = {row.request_id: row for row in rows}
        missing = sorted(set(ids) - set(logged))
        assert not missing, f"{len(missing)} answered call(s) have no evidence record: {missing[:5]}"
        assert len(rows) == len(ids)  # one record per call, none doubled
        for request_id, status in outcome.answered.items():
            record = logged[request_id]
            if status == 200:
                assert record.status == "allowed" and record.error_code is None
            else:
                assert record.status == "refused" and record.error_code == outcome.refused_codes[request_id]
        # The counter and the records agree: no index was lost or taken twice by the kill.
        size = await session.scalar(select(EvidenceLogHead.size))
        assert size == await session.scalar(select(func.count()).select_from(EvidenceRecord))
        # Cut-off calls may or may not have been logged (killed before or after the commit).
        cut_logged = await session.scalar(
            select(func.count()).select_from(EvidenceRecord).where(EvidenceRecord.request_id.in_(outcome.cut_off))
        )
        print(f"answered {len(outcome.answered)} ({len(outcome.answered_after_kill)} after the kill),"
              f" cut off {len(outcome.cut_off)} (of which logged {cut_logged}), log size {size}")
        await session.rollback()

        checkpoint = await _cli("evidence", "checkpoint")
        assert checkpoint.returncode == 0, checkpoint.stdout + checkpoint.stderr
        assert f"Checkpoint of {size:,} records" in checkpoint.stdout
        verify = await _cli("evidence", "verify")
        assert verify.returncode == 0, verify.stdout + verify.stderr
        assert "Evidence log intact." in verify.stdout
    finally:
        server.stop()
