"""Background jobs: Huey as the queue, fed from a transactional outbox after commit.

Why an outbox: a job sent to the broker before the commit could run against data that then
rolls back; a job sent after the commit could be lost if the process dies in between. The
job row is written in the same transaction, dispatched right after the commit, and a relay
in the worker re-dispatches any row left behind. Jobs may so run twice: they are idempotent.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from huey import Huey, MemoryHuey, RedisHuey, SqliteHuey, crontab
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from govhub.config import Settings, get_settings
from govhub.db import after_commit, dispose_engine, unit_of_work
from govhub.jobs.models import OutboxJob
from govhub.kit.clock import utcnow
from govhub.kit.observability import get_logger

JobFunction = Callable[..., Awaitable[None]]
log = get_logger("govhub.jobs")
RELAY_GRACE = timedelta(seconds=30)


def make_huey(settings: Settings) -> Huey:
    """Build the Huey instance for the configured backend."""
    if settings.job_backend == "redis":
        return RedisHuey("govhub", url=settings.job_redis_url)
    if settings.job_backend == "immediate":
        return MemoryHuey("govhub", immediate=True)
    Path(settings.job_sqlite_path).parent.mkdir(parents=True, exist_ok=True)
    return SqliteHuey("govhub", filename=settings.job_sqlite_path)


huey: Huey = make_huey(get_settings())
_registry: dict[str, Any] = {}
_loop_local = threading.local()


def _run_async(coroutine: Awaitable[None]) -> None:
    """Run a job's coroutine on this worker thread's own long-lived event loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        pass
    else:
        # Immediate mode (tests) calls jobs from inside the web loop: use a fresh thread,
        # which gets its own loop and its own database engine.
        thread = threading.Thread(target=_run_async, args=(coroutine,))
        thread.start()
        thread.join()
        return
    loop: asyncio.AbstractEventLoop | None = getattr(_loop_local, "loop", None)
    if loop is None or loop.is_closed():
        loop = asyncio.new_event_loop()
        _loop_local.loop = loop
    loop.run_until_complete(coroutine)


def job(name: str, *, retries: int = 5, retry_delay: int = 30) -> Callable[[JobFunction], JobFunction]:
    """Register an async function as the background job `name` (e.g. 'identity.notify')."""

    def register(function: JobFunction) -> JobFunction:
        def run(**payload: Any) -> None:
            _run_async(function(**payload))

        run.__name__ = name.replace(".", "_")
        _registry[name] = huey.task(retries=retries, retry_delay=retry_delay, name=name)(run)
        return function

    return register


def enqueue(session: AsyncSession, name: str, **payload: Any) -> OutboxJob:
    """Record job `name` in this transaction; it reaches the broker once the commit succeeds."""
    if name not in _registry:
        raise KeyError(f"unknown job {name!r}")
    row = OutboxJob(name=name, payload=payload)
    session.add(row)

    async def dispatch() -> None:
        await _dispatch_rows([row.id])

    after_commit(session, dispatch)
    return row


async def _dispatch_rows(row_ids: list[str]) -> int:
    """Send outbox rows to the broker and mark them dispatched; returns how many were sent."""
    sent = 0
    async with unit_of_work() as session:
        rows = (
            await session.scalars(
                select(OutboxJob).where(OutboxJob.id.in_(row_ids), OutboxJob.dispatched_at.is_(None))
            )
        ).all()
        for row in rows:
            # Claim first: two relays racing must not both send the same row.
            claimed = await session.execute(
                update(OutboxJob)
                .where(OutboxJob.id == row.id, OutboxJob.dispatched_at.is_(None))
                .values(dispatched_at=utcnow(), attempts=OutboxJob.attempts + 1)
            )
            if claimed.rowcount != 1:  # type: ignore[attr-defined]
                continue
            if huey.immediate:
                # Immediate mode runs the job here and now: only once this claim has committed,
                # or a job that writes would wait on this transaction's lock (SQLite).
                after_commit(session, _run_now(row.name, dict(row.payload)))
            else:
                _registry[row.name](**row.payload)
            sent += 1
    return sent


def _run_now(name: str, payload: dict[str, Any]) -> Callable[[], Awaitable[None]]:
    """An after-commit callback that runs job `name` inline (immediate mode)."""

    async def run() -> None:
        _registry[name](**payload)

    return run


async def relay_outbox(older_than: timedelta = RELAY_GRACE) -> int:
    """Dispatch rows whose after-commit send never happened (the process died in between)."""
    async with unit_of_work() as session:
        stale = (
            await session.scalars(
                select(OutboxJob.id).where(
                    OutboxJob.dispatched_at.is_(None), OutboxJob.created_at < utcnow() - older_than
                )
            )
        ).all()
    if not stale:
        return 0
    sent = await _dispatch_rows(list(stale))
    log.info("outbox relayed", count=sent)
    return sent


@huey.periodic_task(crontab(minute="*"), name="jobs.relay_outbox")
def _periodic_relay() -> None:
    _run_async(relay_outbox())


def registered_jobs() -> list[str]:
    """Names of every registered job (for `govhub worker` and the docs)."""
    return sorted(_registry)


async def shutdown_worker_thread() -> None:
    """Close this thread's database pool (worker shutdown)."""
    await dispose_engine()
