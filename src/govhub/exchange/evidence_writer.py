"""Evidence appends in groups: one counter turn and one commit for every call waiting at that moment.

Each append takes the evidence counter's row lock (see evidence.py), and a lock held until
the request's own commit made every exchange call queue behind every other one: about 600
appends per second at most, half of a call's latency spent waiting under load. Here a
per-event-loop writer takes all the entries queued while its previous group was being
written, claims their indices with one `UPDATE ... SET size = size + n`, inserts them with
one statement, commits, and only then releases the callers: an answered call is a logged
call, as before, but the lock is held for two statements and one flush per group, with no
request work inside it. With no load a group is one entry and nothing waits for a timer.
"""

from __future__ import annotations

import asyncio
import weakref
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from govhub.db import get_engine
from govhub.exchange.evidence import INSERT_RECORD, EvidenceEntry, claim_indices, entry_values, numbered
from govhub.kit.observability import get_logger

log = get_logger(__name__)
# Enough to cover a burst at thousands of calls per second; a larger group only delays its first caller.
MAX_GROUP = 512
# An idle writer gives its connection back to the pool after this long.
IDLE_SECONDS = 10.0


@dataclass(slots=True)
class _Pending:
    values: dict[str, Any]
    done: asyncio.Future[int]


class EvidenceWriter:
    """Writes the evidence of one event loop's calls, a group at a time, on its own connection."""

    def __init__(self) -> None:
        self._queue: asyncio.Queue[_Pending] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        # Kept between groups: a pool checkout (and its pre-ping) per group would cost a
        # quarter of the append's round trips when calls arrive one at a time.
        self._connection: AsyncConnection | None = None
        self._engine: AsyncEngine | None = None

    async def append(self, entry: EvidenceEntry) -> int:
        """Queue an entry and return its index once its group has committed."""
        values = entry_values(entry)  # a bad entry fails here, alone, not its whole group
        pending = _Pending(values, asyncio.get_running_loop().create_future())
        self._queue.put_nowait(pending)
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="evidence-writer")
        # Shielded: a caller that goes away (client disconnect) must not cancel the write.
        return await asyncio.shield(pending.done)

    async def _run(self) -> None:
        try:
            while True:
                group = await self._next_group()
                try:
                    first = await self._write(group)
                except Exception as error:  # every caller of the group gets the failure
                    log.error("evidence_group_failed", size=len(group), error=type(error).__name__)
                    await self.close()  # the next group starts on a fresh connection
                    for pending in group:
                        if not pending.done.done():
                            pending.done.set_exception(error)
                    continue
                for offset, pending in enumerate(group):
                    if not pending.done.done():
                        pending.done.set_result(first + offset)
        finally:  # the loop is shutting down (its tasks are cancelled): give the connection back
            await self.close()

    async def _next_group(self) -> list[_Pending]:
        """Every entry waiting now (at least one); the connection is given back while idle."""
        while True:
            try:
                first = await asyncio.wait_for(self._queue.get(), IDLE_SECONDS)
                break
            except TimeoutError:
                await self.close()
        group = [first]
        while len(group) < MAX_GROUP and not self._queue.empty():
            group.append(self._queue.get_nowait())
        return group

    async def _write(self, group: list[_Pending]) -> int:
        connection = await self._connect()
        async with connection.begin():
            return await _write(connection, group)

    async def _connect(self) -> AsyncConnection:
        engine = get_engine()
        if self._connection is not None and (self._engine is not engine or self._connection.closed):
            await self.close()  # the engine was replaced (settings or database changed)
        if self._connection is None:
            self._connection, self._engine = await engine.connect(), engine
        return self._connection

    async def close(self) -> None:
        """Give the connection back (or drop it if it broke)."""
        connection, self._connection, self._engine = self._connection, None, None
        if connection is not None:
            try:
                await connection.close()
            except Exception:  # a broken connection: the pool discards it
                await connection.invalidate()


async def _write(connection: AsyncConnection, group: list[_Pending]) -> int:
    """Claim len(group) indices, insert the records (committed by the caller); the first index."""
    first = await claim_indices(connection, len(group))
    rows = [numbered(pending.values, first + offset) for offset, pending in enumerate(group)]
    await connection.execute(INSERT_RECORD, rows)
    return first


# One writer per event loop: its queue and futures belong to that loop (the web worker has
# one; tests and job threads make their own).
_writers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, EvidenceWriter] = weakref.WeakKeyDictionary()


async def append(entry: EvidenceEntry) -> int:
    """Append an entry to the evidence log in its own transaction; its index once committed."""
    loop = asyncio.get_running_loop()
    writer = _writers.get(loop)
    if writer is None:
        writer = _writers[loop] = EvidenceWriter()
    return await writer.append(entry)


async def close() -> None:
    """Give back this event loop's writer connection (shutdown, and before an engine is disposed)."""
    writer = _writers.get(asyncio.get_running_loop())
    if writer is not None:
        await writer.close()
