"""The datastore: tabular resources loaded into database tables, and CKAN's query actions.

Where the tables live: outside the catalog, so Alembic never sees them and a datastore
query can never reach a platform table. On SQLite that is a separate database file beside
the catalog's (`govhub.db` -> `govhub.datastore.db`); on PostgreSQL the `datastore` schema
of the same database. `GOVHUB_DATASTORE_URL` puts them anywhere else.

Each load writes a NEW table `ds_<resource hex>_<random>`; the register row
(`DatastoreTable`) points at the table in use and describes it (fields, counts, the SHA-256
of the file it came from). The pointer moves in one catalog transaction once the new table
is complete and indexed, so readers see the old table or the new one, never half of one; a
failed reload leaves the pointer, and so the old table, alone. The old table is dropped a
few seconds later, once readers that looked up the pointer just before have run.

A register row "has a table" when `source_sha256` is set: `status` says how the LAST load
went (pending, loading, active, failed), so a failed or running reload still serves the
previous table.
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import hashlib
import io
import json
import re
import secrets
import tempfile
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import sqlalchemy as sa
from sqlalchemy import delete, event, or_, select, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, create_async_engine

from govhub import db
from govhub.config import Settings, get_settings
from govhub.kit.clock import utcnow
from govhub.kit.errors import NotFound, ValidationFailed
from govhub.kit.i18n import N_
from govhub.kit.observability import get_logger
from govhub.opendata.datastore_load import (
    TABULAR_FORMATS,
    LoadError,
    RowParser,
    file_digest_and_encoding,
    make_converter,
    open_rows,
)
from govhub.opendata.models import Dataset, DatasetState, DatastoreStatus, DatastoreTable, Resource

log = get_logger("govhub.opendata.datastore")

LOAD_JOB = "opendata.load_datastore"
DROP_JOB = "opendata.drop_datastore"
SCHEMA = "datastore"  # PostgreSQL only
MAX_LIMIT = 32000
DEFAULT_LIMIT = 100
# Seconds between moving the pointer to a new table and dropping the old one.
DROP_GRACE_SECONDS = 5.0
# A load still marked running after this long is taken to have died with its worker.
STALE_LOAD = timedelta(minutes=30)
# Equality filters on these columns use an index: every int, numeric, date and timestamp
# column and every text column whose longest value is short, up to this many columns.
MAX_INDEXED_COLUMNS = 20
MAX_INDEXED_TEXT_CHARS = 200
XLSX_MAX_ROWS = 1_048_575
MIME_TYPES = {
    "text/csv": "CSV",
    "text/tab-separated-values": "TSV",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "XLSX",
}
EXPORT_MEDIA_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "tsv": "text/tab-separated-values; charset=utf-8",
    "json": "application/json",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


# --- where the tables live -------------------------------------------------------------


def datastore_url(settings: Settings | None = None) -> str:
    """The database URL of the datastore (see the module docstring)."""
    settings = settings or get_settings()
    if settings.datastore_url:
        return settings.datastore_url
    if settings.is_sqlite:
        path = settings.database_url.split("///", 1)[-1].split("?", 1)[0]
        if not path or path == ":memory:":
            return "sqlite+aiosqlite:///:memory:"
        catalog = Path(path)
        return f"sqlite+aiosqlite:///{catalog.with_name(catalog.stem + '.datastore' + (catalog.suffix or '.db'))}"
    return settings.database_url


def sqlite_path(url: str) -> str:
    """The file of a SQLite URL."""
    return url.split("///", 1)[-1].split("?", 1)[0]


_local = threading.local()


def get_datastore_engine() -> AsyncEngine:
    """This thread's datastore engine (the catalog's own engine when they share a database)."""
    settings = get_settings()
    url = datastore_url(settings)
    if url == settings.database_url:
        return db.get_engine()
    engine: AsyncEngine | None = getattr(_local, "engine", None)
    loop = asyncio.get_running_loop()
    if engine is not None and (getattr(_local, "loop", None) is not loop or getattr(_local, "url", None) != url):
        # asyncpg and aiosqlite connections belong to the loop that opened them (see db.get_engine).
        engine = None
    if engine is None:
        if url.startswith("sqlite"):
            path = sqlite_path(url)
            if path and path != ":memory:":
                Path(path).parent.mkdir(parents=True, exist_ok=True)
            engine = create_async_engine(url)
            event.listen(engine.sync_engine, "connect", db._sqlite_pragmas)
        else:
            engine = create_async_engine(url, pool_size=settings.database_pool_size, pool_pre_ping=True, max_overflow=10)
        _local.engine, _local.loop, _local.url = engine, loop, url
    return engine


async def dispose_datastore_engine() -> None:
    """Close this thread's own datastore pool, if it has one (worker threads, tests)."""
    engine: AsyncEngine | None = getattr(_local, "engine", None)
    _local.engine = None
    if engine is not None:
        await engine.dispose()


def _schema(engine: AsyncEngine) -> str | None:
    return SCHEMA if engine.dialect.name == "postgresql" else None


def _resource_hex(resource_id: str) -> str:
    try:
        return uuid.UUID(resource_id).hex
    except ValueError:
        return hashlib.sha256(resource_id.encode()).hexdigest()[:32]


def table_prefix(resource_id: str) -> str:
    """Every table of a resource's loads starts with this."""
    return f"ds_{_resource_hex(resource_id)}_"


def _sa_type(kind: str, dialect: str) -> sa.types.TypeEngine[Any]:
    if dialect == "sqlite":
        # Stored as ISO text, floats and 0/1 (datastore_load.make_converter), compared as such.
        return {"int": sa.BigInteger(), "numeric": sa.Float(), "bool": sa.Integer()}.get(kind, sa.Text())
    return {
        "int": sa.BigInteger(), "numeric": sa.Numeric(), "date": sa.Date(),
        "timestamp": sa.DateTime(timezone=False), "bool": sa.Boolean(), "text": sa.Text(),
    }[kind]


def _table(name: str, fields: list[dict[str, str]], engine: AsyncEngine) -> sa.Table:
    """The Core table of a datastore table, in its own MetaData (never Base.metadata)."""
    dialect = engine.dialect.name
    # INTEGER PRIMARY KEY makes _id SQLite's rowid: the rows are stored in _id order.
    id_type = sa.Integer() if dialect == "sqlite" else sa.BigInteger()
    return sa.Table(
        name, sa.MetaData(),
        sa.Column("_id", id_type, primary_key=True, autoincrement=False),
        *[sa.Column(f["id"], _sa_type(f["type"], dialect)) for f in fields],
        schema=_schema(engine),
    )


def _quoted(engine: AsyncEngine, name: str) -> str:
    quote = engine.dialect.identifier_preparer.quote
    schema = _schema(engine)
    return f"{quote(schema)}.{quote(name)}" if schema else quote(name)


_schema_ready: set[str] = set()


async def _ensure_schema(engine: AsyncEngine) -> None:
    if engine.dialect.name != "postgresql" or str(engine.url) in _schema_ready:
        return
    async with engine.connect() as conn:
        exists = await conn.scalar(sa.text("SELECT 1 FROM pg_namespace WHERE nspname = :name"), {"name": SCHEMA})
        if not exists:
            with contextlib.suppress(DBAPIError):  # another worker created it at the same moment
                await conn.execute(sa.text(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}"))
                await conn.commit()
    _schema_ready.add(str(engine.url))


async def _table_names(engine: AsyncEngine, prefix: str) -> list[str]:
    pattern = prefix.replace("_", r"\_") + "%"
    if engine.dialect.name == "postgresql":
        statement = sa.text(r"SELECT tablename FROM pg_tables WHERE schemaname = :schema AND tablename LIKE :p ESCAPE '\'")
        params = {"schema": SCHEMA, "p": pattern}
    else:
        statement = sa.text(r"SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE :p ESCAPE '\'")
        params = {"p": pattern}
    async with engine.connect() as conn:
        return list((await conn.scalars(statement, params)).all())


async def _drop_physical(engine: AsyncEngine, name: str) -> None:
    async with engine.begin() as conn:
        await conn.execute(sa.text(f"DROP TABLE IF EXISTS {_quoted(engine, name)}"))


# --- the register ------------------------------------------------------------------------


def tabular_kind(resource: Resource) -> str | None:
    """"csv" or "xlsx" if the resource is an uploaded file the datastore can load, else None."""
    if resource.url_type != "upload" or not resource.storage_key:
        return None
    fmt = (resource.format or "").strip().upper().lstrip(".") or MIME_TYPES.get((resource.mimetype or "").lower(), "")
    return TABULAR_FORMATS.get(fmt)


def _placeholder_name(resource_id: str) -> str:
    # The register's table_name is unique and set before the first load has made a table.
    return table_prefix(resource_id).rstrip("_")


async def enqueue_load(session: AsyncSession, resource: Resource) -> None:
    """Mark the resource's datastore table pending and queue its load once the session commits.

    Does nothing for resources the datastore cannot load (links, non-tabular formats) or
    whose table already holds this very file (same SHA-256).
    """
    if tabular_kind(resource) is None:
        return
    register = await session.get(DatastoreTable, resource.id)
    if register is None:
        session.add(DatastoreTable(
            resource_id=resource.id, table_name=_placeholder_name(resource.id), status=DatastoreStatus.PENDING,
            fields=[], row_count=0, bad_row_count=0, bad_rows=[], error="",
        ))
    elif register.status == DatastoreStatus.ACTIVE and resource.sha256 and register.source_sha256 == resource.sha256:
        return
    elif register.status != DatastoreStatus.LOADING:
        # A running load re-reads the resource when it ends and loads again if the file changed.
        register.status, register.error = DatastoreStatus.PENDING, ""
    from govhub import jobs
    from govhub.opendata import jobs as _registers_the_job  # noqa: F401

    jobs.enqueue(session, LOAD_JOB, resource_id=resource.id)


async def enqueue_drop(session: AsyncSession, resource_id: str) -> None:
    """Forget the resource's datastore table in this transaction; its tables are dropped after commit."""
    await session.execute(delete(DatastoreTable).where(DatastoreTable.resource_id == resource_id))
    from govhub import jobs
    from govhub.opendata import jobs as _registers_the_job  # noqa: F401

    jobs.enqueue(session, DROP_JOB, resource_id=resource_id)


async def drop_table(resource_id: str) -> None:
    """Remove a resource's datastore table(s) and its register row (resource deleted).

    Opens its own transactions: call it after the caller's transaction has committed
    (`enqueue_drop` does that for you).
    """
    async with db.unit_of_work() as session:
        await session.execute(delete(DatastoreTable).where(DatastoreTable.resource_id == resource_id))
    engine = get_datastore_engine()
    for name in await _table_names(engine, table_prefix(resource_id)):
        await _drop_physical(engine, name)


# --- loading -----------------------------------------------------------------------------


@dataclass
class LoadSummary:
    """How a load went. status: active | failed | unchanged | busy | not_loadable."""

    resource_id: str
    status: str
    table_name: str = ""
    fields: list[dict[str, str]] = field(default_factory=list)
    row_count: int = 0
    bad_row_count: int = 0
    bad_rows: list[dict[str, Any]] = field(default_factory=list)
    error: str = ""
    source_sha256: str | None = None
    encoding: str = ""
    seconds: float = 0.0


@dataclass
class _Claim:
    resource_id: str
    storage_key: str
    kind: str
    started_at: datetime
    current_table: str | None


async def _claim(resource_id: str, force: bool) -> _Claim | LoadSummary:
    """Mark the load running, unless another one is (a conditional UPDATE: one claimant wins)."""
    async with db.unit_of_work() as session:
        resource = await session.get(Resource, resource_id)
        if resource is None or resource.state != "active":
            return LoadSummary(resource_id, "not_loadable", error="The resource does not exist or was deleted.")
        kind = tabular_kind(resource)
        if kind is None or resource.storage_key is None:
            return LoadSummary(resource_id, "not_loadable", error="The resource is not an uploaded CSV or XLSX file.")
        register = await session.get(DatastoreTable, resource_id)
        if register is None:
            register = DatastoreTable(
                resource_id=resource_id, table_name=_placeholder_name(resource_id), status=DatastoreStatus.PENDING,
                fields=[], row_count=0, bad_row_count=0, bad_rows=[], error="",
            )
            session.add(register)
            await session.flush()
        elif (not force and register.status == DatastoreStatus.ACTIVE and resource.sha256
              and register.source_sha256 == resource.sha256):
            return _summary(register, "unchanged")
        now = utcnow()
        claimed = await session.execute(
            update(DatastoreTable)
            .where(
                DatastoreTable.resource_id == resource_id,
                or_(DatastoreTable.status != DatastoreStatus.LOADING, DatastoreTable.started_at.is_(None),
                    DatastoreTable.started_at < now - STALE_LOAD),
            )
            .values(status=DatastoreStatus.LOADING, started_at=now, finished_at=None, error="")
            .execution_options(synchronize_session=False)
        )
        if claimed.rowcount != 1:  # type: ignore[attr-defined]
            return LoadSummary(resource_id, "busy", error="Another load of this resource is running.")
        current = register.table_name if register.source_sha256 else None
        return _Claim(resource_id, resource.storage_key, kind, now, current)


def _summary(register: DatastoreTable, status: str) -> LoadSummary:
    return LoadSummary(
        register.resource_id, status, register.table_name, list(register.fields or []), register.row_count,
        register.bad_row_count, list(register.bad_rows or []), register.error, register.source_sha256,
    )


async def load_resource(resource_id: str, *, force: bool = False) -> LoadSummary:
    """Load (or reload) a resource's file into a new table and swap it in (the job's body).

    The file's problems (encoding, no rows, unreadable workbook) end as status "failed" with
    the reason; anything else (the database went away) is recorded and raised, so the job
    is retried. If the file changed while loading, the new file is loaded next.
    """
    summary: LoadSummary | None = None
    for _attempt in range(3):
        claim = await _claim(resource_id, force)
        if isinstance(claim, LoadSummary):
            return summary or claim
        summary = await _load_claimed(claim)
        if summary.status != "active":
            return summary
        async with db.get_sessionmaker()() as session:
            latest = await session.scalar(select(Resource.sha256).where(Resource.id == resource_id))
        if not latest or latest == summary.source_sha256:
            return summary
        force = False
    assert summary is not None
    return summary


async def _load_claimed(claim: _Claim) -> LoadSummary:
    engine = get_datastore_engine()
    dialect = engine.dialect.name
    name = f"{table_prefix(claim.resource_id)}{secrets.token_hex(4)}"
    started = time.monotonic()
    created = False
    try:
        await _ensure_schema(engine)
        # Tables of loads that died half way (a worker killed mid-load) are never pointed at.
        for leftover in await _table_names(engine, table_prefix(claim.resource_id)):
            if leftover != claim.current_table:
                await _drop_physical(engine, leftover)
        storage_path = _local_file(claim.storage_key)
        try:
            path = await asyncio.to_thread(storage_path.__enter__)
        except FileNotFoundError:
            raise LoadError(N_("The resource's file is missing from storage.")) from None
        try:
            if not await asyncio.to_thread(path.is_file):
                raise LoadError(N_("The resource's file is missing from storage."))
            if claim.kind == "xlsx":
                sha, encoding = await asyncio.to_thread(_digest, path), ""
            else:
                sha, encoding = await asyncio.to_thread(file_digest_and_encoding, path)
            parser = await asyncio.to_thread(_parser, path, claim.kind, encoding, dialect)
            table = _table(name, parser.fields, engine)
            created = True
            if dialect == "postgresql":
                await _write_postgresql(engine, table, parser)
            else:
                await _write_sqlite(engine, table, parser)
        finally:
            await asyncio.to_thread(storage_path.__exit__, None, None, None)
        indexed = await _index(engine, table, parser.fields)
    except LoadError as error:
        if created:
            await _drop_physical(engine, name)
        return await _fail(claim, error.message % error.params if error.params else error.message, started)
    except BaseException as error:
        with contextlib.suppress(Exception):
            if created:
                await _drop_physical(engine, name)
            await _fail(claim, f"The load stopped: {type(error).__name__}: {str(error)[:500]}", started)
        raise
    async with db.unit_of_work() as session:
        swapped = await session.execute(
            update(DatastoreTable)
            .where(DatastoreTable.resource_id == claim.resource_id, DatastoreTable.started_at == claim.started_at,
                   DatastoreTable.status == DatastoreStatus.LOADING)
            .values(
                table_name=name, fields=parser.fields, row_count=parser.row_count, bad_row_count=parser.bad_row_count,
                bad_rows=parser.bad_rows, source_sha256=sha, status=DatastoreStatus.ACTIVE, error="",
                finished_at=utcnow(),
            )
            .execution_options(synchronize_session=False)
        )
    seconds = time.monotonic() - started
    if swapped.rowcount != 1:  # type: ignore[attr-defined]
        # The register row went away (resource deleted) or another load took over.
        await _drop_physical(engine, name)
        return LoadSummary(claim.resource_id, "busy", error="The load was overtaken; its table was dropped.")
    log.info("datastore loaded", resource_id=claim.resource_id, rows=parser.row_count, bad_rows=parser.bad_row_count,
             seconds=round(seconds, 2), indexed=indexed)
    if claim.current_table and claim.current_table != name:
        await asyncio.sleep(DROP_GRACE_SECONDS)
        await _drop_physical(engine, claim.current_table)
    return LoadSummary(
        claim.resource_id, "active", name, parser.fields, parser.row_count, parser.bad_row_count, parser.bad_rows,
        "", sha, encoding, seconds,
    )


def _local_file(key: str) -> contextlib.AbstractContextManager[Path]:
    from govhub.opendata.storage import get_storage

    return get_storage().local_path(key)


def _digest(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1024 * 1024):
            digest.update(chunk)
    return digest.hexdigest()


def _parser(path: Path, kind: str, encoding: str, dialect: str) -> RowParser:
    rows, pad = open_rows(path, kind, encoding)
    return RowParser(rows, dialect=dialect, pad_short_rows=pad)


async def _fail(claim: _Claim, message: str, started: float) -> LoadSummary:
    async with db.unit_of_work() as session:
        await session.execute(
            update(DatastoreTable)
            .where(DatastoreTable.resource_id == claim.resource_id, DatastoreTable.started_at == claim.started_at)
            .values(status=DatastoreStatus.FAILED, error=message, finished_at=utcnow())
            .execution_options(synchronize_session=False)
        )
    log.warning("datastore load failed", resource_id=claim.resource_id, error=message)
    return LoadSummary(claim.resource_id, "failed", error=message, seconds=time.monotonic() - started)


async def _batches(parser: RowParser) -> AsyncIterator[list[tuple[Any, ...]]]:
    """The parser's batches, each parsed in a thread while the previous one is written."""
    iterator = parser.batches()
    pending = asyncio.ensure_future(asyncio.to_thread(next, iterator, None))
    try:
        while True:
            batch = await pending
            if batch is None:
                return
            pending = asyncio.ensure_future(asyncio.to_thread(next, iterator, None))
            yield batch
    finally:
        if not pending.done():
            with contextlib.suppress(BaseException):
                await pending


async def _write_sqlite(engine: AsyncEngine, table: sa.Table, parser: RowParser) -> None:
    columns = len(table.columns)
    insert = f"INSERT INTO {_quoted(engine, table.name)} VALUES ({', '.join('?' * columns)})"
    async with engine.connect() as conn:
        await conn.run_sync(table.create)
        await conn.commit()
        # One short transaction per batch: the datastore file has one writer at a time, and
        # other resources' loads must not wait for a whole million-row file.
        async for batch in _batches(parser):
            await conn.exec_driver_sql(insert, batch)  # type: ignore[arg-type]
            await conn.commit()


async def _write_postgresql(engine: AsyncEngine, table: sa.Table, parser: RowParser) -> None:
    columns = [column.name for column in table.columns]
    # One transaction for the table and its rows: a load that fails half way leaves nothing.
    async with engine.begin() as conn:
        await conn.run_sync(table.create)
        raw = (await conn.get_raw_connection()).driver_connection
        async for batch in _batches(parser):
            await raw.copy_records_to_table(table.name, records=batch, columns=columns, schema_name=SCHEMA)


async def _index(engine: AsyncEngine, table: sa.Table, fields: list[dict[str, str]]) -> list[str]:
    """Index the columns equality filters are expected on; then refresh the planner's statistics."""
    texts = [f["id"] for f in fields if f["type"] == "text"]
    longest: dict[str, int] = {}
    async with engine.connect() as conn:
        if texts:
            row = (await conn.execute(select(*[sa.func.max(sa.func.length(table.c[n])) for n in texts]))).one()
            longest = {n: (v or 0) for n, v in zip(texts, row, strict=True)}
    chosen = [
        f["id"] for f in fields
        if f["type"] in ("int", "numeric", "date", "timestamp")
        or (f["type"] == "text" and longest.get(f["id"], 0) <= MAX_INDEXED_TEXT_CHARS)
    ][:MAX_INDEXED_COLUMNS]
    postgresql = engine.dialect.name == "postgresql"
    async with engine.connect() as conn:
        if postgresql:
            await conn.execute(sa.text("SET maintenance_work_mem = '256MB'"))
        for position, column in enumerate(chosen):
            # (column, _id): a filter's rows come out in _id order, which is the default sort.
            parts = [table.c[column], table.c["_id"]] if postgresql else [table.c[column]]
            index = sa.Index(f"{table.name}_i{position}", *parts)
            await conn.run_sync(index.create)
            await conn.commit()
        if not postgresql:
            await conn.exec_driver_sql("PRAGMA analysis_limit = 1000")
            await conn.exec_driver_sql(f"ANALYZE {_quoted(engine, table.name)}")
            await conn.commit()
        else:
            await conn.execute(sa.text("RESET maintenance_work_mem"))
            await conn.commit()
    if postgresql:
        # VACUUM sets the visibility map, so counts with a filter are answered from the index.
        async with engine.connect() as conn:
            autocommit = await conn.execution_options(isolation_level="AUTOCOMMIT")
            await autocommit.execute(sa.text(f"VACUUM (ANALYZE) {_quoted(engine, table.name)}"))
    return chosen


# --- reading -----------------------------------------------------------------------------


@dataclass(frozen=True)
class LiveTable:
    """The table a resource's datastore queries read, as the register describes it."""

    resource_id: str
    table_name: str
    fields: list[dict[str, str]]
    row_count: int
    status: str
    error: str
    bad_row_count: int
    finished_at: datetime | None


def _check_resource_id(resource_id: Any) -> str:
    if not isinstance(resource_id, str) or not resource_id.strip() or len(resource_id) > 100:
        raise ValidationFailed(N_("Give the id of a resource."), field="resource_id")
    return resource_id.strip()


async def live_table(resource_id: Any) -> LiveTable:
    """The table serving a resource's queries; NotFound if it has none or the resource was deleted."""
    resource_id = _check_resource_id(resource_id)
    async with db.get_sessionmaker()() as session:
        row = (
            await session.execute(
                select(DatastoreTable, Resource.state, Dataset.state)
                .join(Resource, Resource.id == DatastoreTable.resource_id)
                .join(Dataset, Dataset.id == Resource.dataset_id)
                .where(DatastoreTable.resource_id == resource_id)
            )
        ).first()
    if row is None or row[1] != "active" or row[2] == DatasetState.DELETED or not row[0].source_sha256:
        raise NotFound(N_("This resource has no data in the datastore."))
    register = row[0]
    return LiveTable(
        register.resource_id, register.table_name, list(register.fields), register.row_count, register.status.value,
        register.error, register.bad_row_count, register.finished_at,
    )


def _float(value: Any) -> Any:
    return None if value is None else float(value)


def _iso(value: Any) -> Any:
    return value.isoformat() if isinstance(value, date | datetime) else value


def _bool(value: Any) -> Any:
    return None if value is None else bool(value)


def _same(value: Any) -> Any:
    return value


OUTPUT = {"numeric": _float, "date": _iso, "timestamp": _iso, "bool": _bool}


def _output(kind: str) -> Callable[[Any], Any]:
    """JSON-ready values: numbers as numbers, dates and times as ISO text."""
    return OUTPUT.get(kind, _same)


def _int_arg(value: Any, name: str, *, minimum: int, maximum: int | None = None) -> int:
    try:
        number = int(value)
        if isinstance(value, float | bool) or (isinstance(value, str) and not value.strip().lstrip("-").isdigit()):
            raise ValueError
    except (TypeError, ValueError):
        raise ValidationFailed(N_("%(name)s must be a whole number."), field=name, name=name) from None
    if number < minimum:
        raise ValidationFailed(N_("%(name)s must be at least %(minimum)s."), field=name, name=name, minimum=minimum)
    if maximum is not None and number > maximum:
        raise ValidationFailed(N_("%(name)s must be at most %(maximum)s."), field=name, name=name, maximum=maximum)
    return number


def _unknown_field(name: Any, argument: str) -> ValidationFailed:
    shown = str(name)[:100]
    return ValidationFailed(N_('The field "%(name)s" is not in this table.'), field=argument, name=shown)


def _parse_fields(fields: Any, types: dict[str, str]) -> list[str]:
    if fields is None or fields == "" or fields == []:
        return list(types)
    if isinstance(fields, str):
        names = [part.strip() for part in fields.split(",")]
    elif isinstance(fields, list | tuple) and all(isinstance(part, str) for part in fields):
        names = [part.strip() for part in fields]
    else:
        raise ValidationFailed(N_("fields must be a list of field names."), field="fields")
    chosen: list[str] = []
    for name in names:
        if name not in types:
            raise _unknown_field(name, "fields")
        if name not in chosen:
            chosen.append(name)
    return chosen


_SORT_ITEM = re.compile(r'\s*(?:"((?:[^"]|"")+)"|([^",]+?))(?:\s+(asc|desc))?\s*(?:,|$)', re.IGNORECASE)


def parse_sort(sort: Any, types: dict[str, str]) -> list[tuple[str, bool]]:
    """CKAN's sort string ('"a b" desc, c') as [(field, descending)]; only known fields."""
    if sort is None or sort == "":
        return []
    if isinstance(sort, list):
        sort = ",".join(str(part) for part in sort)
    if not isinstance(sort, str):
        raise ValidationFailed(N_("sort must be text such as \"field1 desc, field2\"."), field="sort")
    order: list[tuple[str, bool]] = []
    position = 0
    text = sort.strip()
    while position < len(text):
        match = _SORT_ITEM.match(text, position)
        if match is None or match.end() == position:
            raise ValidationFailed(N_("sort must be text such as \"field1 desc, field2\"."), field="sort")
        name = match[1].replace('""', '"') if match[1] is not None else match[2].strip()
        if name not in types:
            raise _unknown_field(name, "sort")
        order.append((name, (match[3] or "").lower() == "desc"))
        position = match.end()
    return order


def _filter_value(kind: str, value: Any, dialect: str, name: str) -> Any:
    if isinstance(value, dict | list):
        raise ValidationFailed(N_('The filter on "%(name)s" must be a value or a list of values.'), field="filters",
                               name=name)
    try:
        converted = make_converter(kind, dialect)(value if isinstance(value, str) or value is None or
                                                  kind != "text" else str(value))
    except (ValueError, ArithmeticError):
        raise ValidationFailed(N_('"%(value)s" is not a valid value for the field "%(name)s".'), field="filters",
                               value=str(value)[:100], name=name) from None
    if converted is None and value not in (None, ""):
        raise ValidationFailed(N_('"%(value)s" is not a valid value for the field "%(name)s".'), field="filters",
                               value=str(value)[:100], name=name)
    return converted


def _filters(filters: Any, table: sa.Table, types: dict[str, str], dialect: str) -> list[Any]:
    if filters is None or filters == "":
        return []
    if isinstance(filters, str):
        try:
            filters = json.loads(filters)
        except ValueError:
            filters = None
    if not isinstance(filters, dict):
        raise ValidationFailed(N_("filters must be an object of field names and values."), field="filters")
    conditions = []
    for name, wanted in filters.items():
        if name not in types:
            raise _unknown_field(name, "filters")
        column = table.c[name]
        values = wanted if isinstance(wanted, list) else [wanted]
        converted = [_filter_value(types[name], value, dialect, name) for value in values]
        present = [value for value in converted if value is not None]
        parts = []
        if present:
            parts.append(column == present[0] if len(present) == 1 else column.in_(present))
        if len(present) < len(converted):
            parts.append(column.is_(None))
        conditions.append(or_(*parts) if parts else sa.false())
    return conditions


def _like_pattern(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _contains(column: Any, word: str, dialect: str) -> Any:
    # SQLite's LIKE already ignores ASCII case (and its lower() knows no other); on PostgreSQL
    # ILIKE costs several times LIKE, and words without case (Thai, digits) do not need it.
    if dialect == "sqlite" or word.lower() == word.upper():
        return column.like(_like_pattern(word), escape="\\")
    return column.ilike(_like_pattern(word), escape="\\")


def _q(q: Any, table: sa.Table, types: dict[str, str], dialect: str) -> list[Any]:
    """Full text as case-insensitive substrings: every word must appear in some text field."""
    if q is None or q == "":
        return []
    if isinstance(q, str) and q.lstrip().startswith("{"):
        with contextlib.suppress(ValueError):
            q = json.loads(q)
    if isinstance(q, dict):
        conditions = []
        for name, text in q.items():
            if name not in types:
                raise _unknown_field(name, "q")
            if not isinstance(text, str | int | float):
                raise ValidationFailed(N_("q must be text, or an object of field names and text."), field="q")
            column = table.c[name] if types[name] == "text" else sa.cast(table.c[name], sa.Text())
            conditions += [_contains(column, word, dialect) for word in str(text).split()]
        return conditions
    if not isinstance(q, str | int | float):
        raise ValidationFailed(N_("q must be text, or an object of field names and text."), field="q")
    texts = [table.c[name] for name, kind in types.items() if kind == "text"]
    words = str(q).split()
    if not texts:
        return [sa.false()] if words else []
    return [or_(*[_contains(column, word, dialect) for column in texts]) for word in words]


def _links(resource_id: str, arguments: dict[str, Any], offset: int, limit: int) -> dict[str, str]:
    base = "/api/3/action/datastore_search?"
    given = {key: value for key, value in arguments.items() if value not in (None, "", [], {}, False)}
    for key in ("filters", "q"):
        if isinstance(given.get(key), dict):
            given[key] = json.dumps(given[key], ensure_ascii=False, separators=(",", ":"))
    if isinstance(given.get("fields"), list):
        given["fields"] = ",".join(given["fields"])
    start = {"resource_id": resource_id, **given}
    after = {**start, "offset": offset + limit}
    if limit != DEFAULT_LIMIT:
        start["limit"] = after["limit"] = limit
    return {"start": base + urlencode(start), "next": base + urlencode(after)}


async def datastore_search(
    *,
    resource_id: str,
    filters: dict[str, Any] | None = None,
    q: str | dict[str, Any] | None = None,
    fields: list[str] | str | None = None,
    sort: str | None = None,
    limit: int = DEFAULT_LIMIT,
    offset: int = 0,
    include_total: bool = True,
    distinct: bool = False,
) -> dict[str, Any]:
    """CKAN's datastore_search: records of a resource's table, filtered, searched, sorted and paged."""
    live = await live_table(resource_id)
    limit = _int_arg(limit, "limit", minimum=0, maximum=MAX_LIMIT)
    offset = _int_arg(offset, "offset", minimum=0)
    types = {"_id": "int", **{f["id"]: f["type"] for f in live.fields}}
    selected = _parse_fields(fields, types)
    order = parse_sort(sort, types)
    engine = get_datastore_engine()
    table = _table(live.table_name, live.fields, engine)
    conditions = _filters(filters, table, types, engine.dialect.name) + _q(q, table, types, engine.dialect.name)
    statement = select(*[table.c[name] for name in selected]).where(*conditions)
    if distinct:
        statement = statement.distinct()
        for name, _descending in order:
            if name not in selected:
                raise ValidationFailed(N_("With distinct, sort only by fields that are returned."), field="sort")
    elif "_id" not in [name for name, _ in order]:
        order.append(("_id", False))  # a stable order, so paging neither repeats nor skips rows
    statement = statement.order_by(*[table.c[name].desc() if descending else table.c[name].asc()
                                     for name, descending in order])
    statement = statement.limit(limit).offset(offset)
    converters = [_output(types[name]) for name in selected]
    total: int | None = None
    try:
        async with engine.connect() as conn:
            rows = (await conn.execute(statement)).all() if limit else []
            if include_total:
                if not conditions and not distinct:
                    total = live.row_count  # tables never change after their load
                elif limit and len(rows) < limit and (rows or not offset):
                    total = offset + len(rows)  # this page holds the last rows: no second scan
                elif distinct:
                    inner = select(*[table.c[name] for name in selected]).where(*conditions).distinct().subquery()
                    total = await conn.scalar(select(sa.func.count()).select_from(inner))
                else:
                    total = await conn.scalar(select(sa.func.count()).select_from(table).where(*conditions))
    except DBAPIError:
        await live_table(resource_id)  # NotFound if the resource was deleted meanwhile
        raise
    records = [
        {name: convert(value) for name, convert, value in zip(selected, converters, row, strict=True)}
        for row in rows
    ]
    arguments = {"filters": filters, "q": q, "fields": fields, "sort": sort, "distinct": distinct}
    result: dict[str, Any] = {
        "resource_id": live.resource_id,
        "fields": [{"id": name, "type": types[name]} for name in selected],
        "records": records,
        "limit": limit,
        "offset": offset,
        "_links": _links(live.resource_id, arguments, offset, limit),
    }
    if include_total:
        result["total"] = int(total or 0)
        result["total_was_estimated"] = False
    return result


def _native_type(kind: str, dialect: str) -> str:
    if dialect == "sqlite":
        return {"int": "INTEGER", "numeric": "REAL", "bool": "INTEGER"}.get(kind, "TEXT")
    return {"int": "int8", "numeric": "numeric", "date": "date", "timestamp": "timestamp", "bool": "bool"}.get(
        kind, "text"
    )


async def datastore_info(*, resource_id: str) -> dict[str, Any]:
    """CKAN 2.10's datastore_info: the table's row count and its fields with their storage."""
    live = await live_table(resource_id)
    engine = get_datastore_engine()
    schema = _schema(engine)
    async with engine.connect() as conn:
        indexes = await conn.run_sync(lambda c: sa.inspect(c).get_indexes(live.table_name, schema=schema))
    index_of = {index["column_names"][0]: index["name"] for index in indexes if index.get("column_names")}
    dialect = engine.dialect.name
    return {
        "meta": {
            "id": live.resource_id,
            "count": live.row_count,
            "table_type": "BASE TABLE",
            "aliases": [],
            "status": live.status,
            "error": live.error,
            "bad_row_count": live.bad_row_count,
            "last_loaded": live.finished_at.isoformat() if live.finished_at else None,
        },
        "fields": [
            {
                "id": f["id"],
                "type": f["type"],
                "schema": {
                    "native_type": _native_type(f["type"], dialect),
                    "notnull": False,
                    "index_name": index_of.get(f["id"], ""),
                    "is_index": f["id"] in index_of,
                    "uniquekey": False,
                },
            }
            for f in live.fields
        ],
    }


async def load_status(resource_id: str) -> dict[str, Any] | None:
    """The register row of a resource for publishers' pages (status, counts, bad rows), or None."""
    async with db.get_sessionmaker()() as session:
        register = await session.get(DatastoreTable, _check_resource_id(resource_id))
    if register is None:
        return None
    return {
        "status": register.status.value, "error": register.error, "has_table": bool(register.source_sha256),
        "fields": list(register.fields), "row_count": register.row_count, "bad_row_count": register.bad_row_count,
        "bad_rows": list(register.bad_rows), "started_at": register.started_at, "finished_at": register.finished_at,
    }


async def datastore_search_sql(*, sql: str) -> dict[str, Any]:
    """CKAN's datastore_search_sql: one read-only SELECT on public datastore tables (if enabled)."""
    from govhub.opendata.datastore_sql import search_sql

    return await search_sql(sql)


# --- export ------------------------------------------------------------------------------

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")


def neutralise_formula(value: Any) -> Any:
    """Text a spreadsheet would run as a formula gets a leading apostrophe (OWASP CSV injection).

    Numbers are returned as they are, and so is text that is just a signed number ("-5").
    """
    if isinstance(value, str) and value.startswith(_FORMULA_START) and not _PLAIN_NUMBER.fullmatch(value):
        return "'" + value
    return value


def _csv_cell(value: Any) -> Any:
    if value is None:
        return ""
    if value is True or value is False:
        return "true" if value else "false"
    if isinstance(value, str):
        return neutralise_formula(value)
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return repr(value)
    return _iso(value)


async def export_rows(resource_id: str, fmt: str = "csv", *, bom: bool = False) -> AsyncIterator[bytes]:
    """A stream of the whole table as CSV, TSV, JSON or XLSX bytes (for /datastore/dump/{id}).

    Await it to get the stream: a missing table raises NotFound before anything is sent.
    Text cells that a spreadsheet would take for formulas are neutralised in CSV, TSV and XLSX.
    """
    fmt = (fmt or "csv").lower()
    if fmt not in EXPORT_MEDIA_TYPES:
        raise ValidationFailed(N_("The format must be csv, tsv, json or xlsx."), field="format")
    live = await live_table(resource_id)
    if fmt == "xlsx" and live.row_count > XLSX_MAX_ROWS:
        raise ValidationFailed(N_("The table has more rows than a spreadsheet holds; download it as CSV."),
                               field="format")
    engine = get_datastore_engine()
    table = _table(live.table_name, live.fields, engine)
    names = ["_id", *[f["id"] for f in live.fields]]
    kinds = ["int", *[f["type"] for f in live.fields]]
    converters = [_output(kind) for kind in kinds]
    statement = select(*table.columns).order_by(table.c["_id"])

    async def partitions() -> AsyncIterator[list[list[Any]]]:
        async with engine.connect() as conn:
            result = await conn.stream(statement.execution_options(yield_per=2000))
            async for part in result.partitions(2000):
                yield [[convert(value) for convert, value in zip(converters, row, strict=True)] for row in part]

    if fmt in ("csv", "tsv"):
        return _delimited(partitions(), names, "," if fmt == "csv" else "\t", bom)
    if fmt == "json":
        return _json(partitions(), names, kinds)
    return _xlsx(partitions(), names)


async def _delimited(parts: AsyncIterator[list[list[Any]]], names: list[str], delimiter: str,
                     bom: bool) -> AsyncIterator[bytes]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n")
    writer.writerow([neutralise_formula(name) for name in names])
    yield ("\ufeff" if bom else "").encode() + buffer.getvalue().encode("utf-8")
    async for part in parts:
        buffer.seek(0)
        buffer.truncate()
        writer.writerows([[_csv_cell(value) for value in row] for row in part])
        yield buffer.getvalue().encode("utf-8")


async def _json(parts: AsyncIterator[list[list[Any]]], names: list[str], kinds: list[str]) -> AsyncIterator[bytes]:
    fields = [{"id": name, "type": kind} for name, kind in zip(names, kinds, strict=True)]
    yield ('{"fields": ' + json.dumps(fields, ensure_ascii=False) + ', "records": [').encode()
    first = True
    async for part in parts:
        if not part:
            continue
        text = ",\n".join(json.dumps(row, ensure_ascii=False, default=str) for row in part)
        yield (("\n" if first else ",\n") + text).encode()
        first = False
    yield b"\n]}\n"


async def _xlsx(parts: AsyncIterator[list[list[Any]]], names: list[str]) -> AsyncIterator[bytes]:
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet()
    sheet.append(names)

    def cell(value: Any) -> Any:
        if isinstance(value, str):
            # openpyxl stores any text starting with "=" as a formula.
            return neutralise_formula(value)
        if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
            return value
        return value

    def append(rows: list[list[Any]]) -> None:
        for row in rows:
            sheet.append([cell(value) for value in row])

    async for part in parts:
        await asyncio.to_thread(append, part)
    with tempfile.TemporaryDirectory(prefix="govhub-export-") as directory:
        path = Path(directory) / "export.xlsx"
        await asyncio.to_thread(workbook.save, path)
        handle = path.open("rb")
        try:
            while chunk := await asyncio.to_thread(handle.read, 256 * 1024):
                yield chunk
        finally:
            handle.close()


__all__ = [
    "DROP_JOB", "EXPORT_MEDIA_TYPES", "LOAD_JOB", "MAX_LIMIT", "LiveTable", "LoadSummary", "datastore_info",
    "datastore_search", "datastore_search_sql", "datastore_url", "drop_table", "enqueue_drop", "enqueue_load",
    "export_rows", "get_datastore_engine", "live_table", "load_resource", "load_status", "neutralise_formula",
    "parse_sort", "tabular_kind",
]
