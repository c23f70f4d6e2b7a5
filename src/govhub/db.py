"""Database engine, declarative Base, and the per-request session that alone commits."""

from __future__ import annotations

import asyncio
import enum
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime
from pathlib import Path
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import Depends

from sqlalchemy import DateTime, Enum, MetaData, TypeDecorator, event
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase

from govhub.config import Settings, get_settings

# Stable constraint names make Alembic autogenerate and SQLite batch migrations predictable.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite drops the offset otherwise)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        """Reject naive datetimes: a time without a zone is a bug waiting to happen."""
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime; use govhub.kit.clock.utcnow()")
        from datetime import UTC

        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        """Return aware UTC datetimes whatever the backend stored."""
        if value is None:
            return None
        from datetime import UTC

        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    """Declarative base shared by every context's models."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime()}


AfterCommit = Callable[[], Awaitable[None]]

# One engine per thread: the web process has one event loop, while each worker thread
# runs its jobs on its own loop, and asyncpg connections must stay on the loop that made them.
_local = threading.local()


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    """WAL for concurrent readers, enforced foreign keys, and a wait instead of 'locked'."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def make_engine(settings: Settings) -> AsyncEngine:
    """Build an async engine for the configured database."""
    url = settings.database_url
    if settings.is_sqlite:
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(url)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    return create_async_engine(
        url, pool_size=settings.database_pool_size, pool_pre_ping=settings.database_pre_ping,
        pool_recycle=3600, max_overflow=10,
    )


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def get_engine() -> AsyncEngine:
    """Return this thread's engine, creating it on first use."""
    engine: AsyncEngine | None = getattr(_local, "engine", None)
    loop, owner = _running_loop(), getattr(_local, "loop", None)
    if engine is not None and loop is not None and owner is not loop:
        # This thread now runs another event loop than the one the engine was made on (a pooled
        # thread that ran asyncio.run, or a job loop, before): asyncpg connections cannot cross
        # loops, and the old loop is not running here, so its engine is left behind.
        engine = None
    if engine is None:
        engine = make_engine(get_settings())
        _local.engine, _local.loop = engine, loop
        _local.sessionmaker = async_sessionmaker(engine, expire_on_commit=False)
    return engine


def get_sessionmaker() -> async_sessionmaker[AsyncSession]:
    """Return this thread's session factory."""
    get_engine()
    return _local.sessionmaker  # type: ignore[no-any-return]


async def dispose_engine() -> None:
    """Close this thread's pooled connections (shutdown, and between test databases)."""
    engine: AsyncEngine | None = getattr(_local, "engine", None)
    if engine is not None:
        await engine.dispose()
    _local.engine = None
    _local.sessionmaker = None


def after_commit(session: AsyncSession, callback: AfterCommit) -> None:
    """Run callback once the session's transaction has committed; dropped on rollback."""
    session.info.setdefault("after_commit", []).append(callback)


async def commit(session: AsyncSession) -> None:
    """Commit, then run the after-commit callbacks (job dispatch, events)."""
    await session.commit()
    callbacks: list[AfterCommit] = session.info.pop("after_commit", [])
    for callback in callbacks:
        await callback()


async def get_session() -> AsyncIterator[AsyncSession]:
    """FastAPI dependency: one session per request, committed once if the route succeeds."""
    async with get_sessionmaker()() as session:
        try:
            yield session
            await commit(session)
        except BaseException as error:
            if getattr(error, "keeps_changes", False):
                await commit(session)
            else:
                session.info.pop("after_commit", None)
                await session.rollback()
            raise


# scope="function": commit before the response is sent, so a failed commit is an error
# response and a client that reads right after its write sees it.
SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]


@asynccontextmanager
async def unit_of_work() -> AsyncIterator[AsyncSession]:
    """Session for CLI commands and jobs, with the same commit rules as a request."""
    async with get_sessionmaker()() as session:
        try:
            yield session
            await commit(session)
        except BaseException:
            session.info.pop("after_commit", None)
            await session.rollback()
            raise


# Every context's models module; Alembic and the schema tests load them all.
MODEL_MODULES = (
    "govhub.identity.models",
    "govhub.jobs.models",
    "govhub.registries.models",
    "govhub.exchange.models",
    "govhub.exchange.evidence",
    "govhub.onestop.models",
    "govhub.notify.models",
    "govhub.payments.models",
    "govhub.documents.models",
    "govhub.opendata.models",
)


# Tables that migrations create with dialect-specific SQL and no model describes: the search
# index (an FTS5 virtual table and its shadow tables on SQLite, a tsvector table on PostgreSQL).
UNMODELLED_TABLE_PREFIX = "opendata_search_"


def is_modelled(name: str | None, type_: str, parent_names: Any) -> bool:
    """Alembic's include_name: leave the unmodelled search tables out of model comparisons."""
    return not (type_ == "table" and name is not None and name.startswith(UNMODELLED_TABLE_PREFIX))


def load_all_models() -> MetaData:
    """Import every context's models so Base.metadata knows every table."""
    import importlib

    for module in MODEL_MODULES:
        importlib.import_module(module)
    return Base.metadata


def string_enum(kind: type[enum.Enum], name: str, *, length: int = 32) -> Enum:
    """An enum column stored as VARCHAR with a CHECK of its values."""
    # Portable, and new values need no ALTER TYPE on PostgreSQL.
    return Enum(kind, name=name, native_enum=False, length=length, values_callable=lambda e: [m.value for m in e])


def dialect_insert(session: AsyncSession) -> Any:
    """The INSERT of this session's database, with ON CONFLICT (upserts, insert-once guards)."""
    dialect = session.bind.dialect.name if session.bind else "sqlite"
    return postgresql_insert if dialect == "postgresql" else sqlite_insert

