"""Jobs reach the queue only after their transaction commits, and none is lost."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import timedelta

import pytest
from sqlalchemy import select

from govhub.db import unit_of_work
from govhub.jobs import enqueue, job, relay_outbox
from govhub.jobs.models import OutboxJob
from govhub.kit.clock import utcnow

RAN: list[str] = []

# A separate process queues a job the way the web app does (outbox, commit, dispatch) and
# exits: from then on the job lives only in the broker.
PRODUCER = """
import asyncio
from govhub.db import unit_of_work
from govhub.identity.jobs import send_security_notice_later

async def main():
    async with unit_of_work() as session:
        send_security_notice_later(session, account_id="no-such-account", action="totp.enabled")

asyncio.run(main())
"""


@job("tests.record")
async def record(*, marker: str) -> None:
    """Remember that the job ran."""
    RAN.append(marker)


class Boom(Exception):
    pass


async def test_job_runs_after_commit_only():
    with pytest.raises(Boom):
        async with unit_of_work() as session:
            enqueue(session, "tests.record", marker="rolled-back")
            raise Boom()
    async with unit_of_work() as session:
        row = enqueue(session, "tests.record", marker="committed")
        assert "committed" not in RAN  # not before the commit
    assert "committed" in RAN and "rolled-back" not in RAN
    async with unit_of_work() as session:
        stored = await session.get(OutboxJob, row.id)
        assert stored.dispatched_at is not None
        payloads = (await session.scalars(select(OutboxJob.payload).where(OutboxJob.name == "tests.record"))).all()
        assert {"marker": "rolled-back"} not in payloads  # the rolled-back row never existed


async def test_relay_dispatches_jobs_left_behind_by_a_crash():
    async with unit_of_work() as session:
        # As if the process died between the commit and the dispatch.
        session.add(OutboxJob(name="tests.record", payload={"marker": "orphan"},
                              created_at=utcnow() - timedelta(minutes=5)))
    sent = await relay_outbox()
    assert sent >= 1 and "orphan" in RAN
    assert await relay_outbox() == 0  # dispatched once, not again


async def test_durable_sqlite_queue_survives_until_a_worker_runs_it(tmp_path):
    """With the embedded backend, a queued job waits on disk until `govhub worker` runs it."""
    from huey import SqliteHuey

    queue_file = tmp_path / "jobs.db"
    env = {**os.environ, "GOVHUB_JOB_BACKEND": "sqlite", "GOVHUB_JOB_SQLITE_PATH": str(queue_file)}
    subprocess.run([sys.executable, "-c", PRODUCER], env=env, check=True, timeout=60)
    assert len(SqliteHuey("govhub", filename=str(queue_file))) == 1
    output = _run_worker_until_drained(env, lambda: len(SqliteHuey("govhub", filename=str(queue_file))))
    assert "Executing" in output and "send_security_notice" in output, output


def _run_worker_until_drained(env: dict[str, str], remaining) -> str:  # type: ignore[no-untyped-def]
    """Run `govhub worker` until remaining() is 0 (or 30 s pass); return its output."""
    worker = subprocess.Popen([sys.executable, "-m", "govhub.cli", "worker", "--threads", "1"], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and remaining():
            time.sleep(0.5)
        assert remaining() == 0, "the worker did not take the job"
    finally:
        worker.terminate()
        output = worker.communicate(timeout=15)[0].decode()
    return output


async def test_redis_broker_carries_jobs_to_the_worker():
    """With GOVHUB_JOB_BACKEND=redis, a job queued by one process is run by `govhub worker`."""
    import redis

    from tests.services import redis_server

    with redis_server() as url:
        client = redis.Redis.from_url(url)
        client.flushdb()
        env = {**os.environ, "GOVHUB_JOB_BACKEND": "redis", "GOVHUB_JOB_REDIS_URL": url}
        subprocess.run([sys.executable, "-c", PRODUCER], env=env, check=True, timeout=60)
        queue_keys = [key for key in client.keys("*") if b"govhub" in key]
        assert queue_keys and sum(client.llen(k) for k in queue_keys if client.type(k) == b"list") == 1
        output = _run_worker_until_drained(
            env, lambda: sum(client.llen(k) for k in queue_keys if client.type(k) == b"list")
        )
        client.flushdb()
    assert "Executing" in output and "send_security_notice" in output, output
