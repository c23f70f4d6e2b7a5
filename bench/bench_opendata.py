"""Open Data Platform: package_search, package_show and datastore_search at 100,000 datasets.

The issue's `bench/opendata`. package_search has two engines (setting `opendata_search_engine`,
GOVHUB_OPENDATA_SEARCH_ENGINE): "database", the databases' own full-text search (FTS5 on
SQLite, a tsvector with GIN on PostgreSQL), and "memory", the default, an in-memory numpy index
per web process kept current from `opendata_index_entries` and the change sequence in
`opendata_index_state`. Both are measured in the same run (--engines), the database engine as
the baseline; whether they count the same matches is checked and reported, never fatal. For
each database (PostgreSQL, then SQLite, each run in a child process of its own since govhub
reads its settings once):

  * a fresh database: PostgreSQL `govhub_bench_opendata` (dropped if it exists, created,
    dropped again at the end unless --keep-db), or the SQLite file var/bench/opendata.db
    (deleted and made again), migrated with `govhub.migrations.runner.upgrade`;
  * the catalog, from `opendata_data.py` (deterministic): 200 organizations (each an agency,
    through `identity.service.create_agency` and `opendata.service.ensure_organization_for_agency`),
    15 groups (`service.create_group`), and --datasets datasets as publishers send them
    (Thai and English titles, descriptions and keywords, GDC fields, 1-4 link resources):
      - the first --sample through `service.package_create`, one transaction each, as the API
        does: its rate is printed, with the time 100,000 would take that way;
      - the rest by the *bulk path*: the same code (`schemas.parse_package`, the models,
        `service.package_dict` for the revision's snapshot, `search.index_dataset` for the
        search document, facet values and index entry), but 500 datasets per transaction with
        batched INSERTs instead of several round trips per dataset. It is checked first: the
        same datasets made both ways (the bulk one rolled back) must give identical rows in
        every table (ids, timestamps and sequence numbers aside), or the run stops;
    then VACUUM ANALYZE (PostgreSQL; what autovacuum does after such a load) -- SQLite gets
    nothing, as the platform itself runs no ANALYZE;
  * in-process baselines, no HTTP: the memory engine's index built once (seconds, RSS growth
    of the process, one changed dataset applied as a delta); then for every query kind
    `search.search()` on the database engine and on the memory engine, and the whole
    `package_search` action on the memory engine, one at a time, with the time spent in SQL
    statements; whether both engines count the same matches (and facets) per kind;
  * `govhub serve --workers W`, driven over HTTP by C clients (closed loop, a new connection
    per request), after a warm-up, for each query kind: `package_search` with
    facet.field=[organization, groups, tags, res_format, license_id, data_type] and rows=10
    (Thai queries, English queries which are stemmed, browsing without q, browsing with fq,
    and one query that matches nearly everything), `package_show` by name, and `/healthz`
    as the HTTP stack's baseline; then the same with one client (latency without queueing).
    The search result cache off, first on a server with the database engine (the baseline),
    then on one with the memory engine, whose workers build their index on their first search
    (inline at any size here) during a warm-up that lasts until every worker answers fast (its
    slowest requests are the build as seen over HTTP; the database engine's server gets a few
    requests first too, each worker's cold start, for comparison).
    Target (the issue): package_search p99 < 50 ms at 100,000 datasets: PASS/FAIL per kind
    and engine;
  * the datastore (once `opendata.datastore` exists), on the memory engine's server (the
    default): a --csv-rows bus ticket sales CSV uploaded through the CKAN API `resource_create`
    (multipart, API token of a data steward), loaded in the background by `govhub worker`
    (jobs on Redis), timed from the upload to the register saying `active`; package_search is
    measured at a steady --probe-rate before and while it loads; then `datastore_search` with
    a filter on a column of ~4,000 values (stop_id) and on one of 6 values (province);
  * the search result cache on (the default configuration, memory engine): the same queries;
  * peak RSS (VmHWM) of the server processes per engine (and of the job worker).

    .venv/bin/python bench/bench_opendata.py                     # 100,000 datasets, both databases
    .venv/bin/python bench/bench_opendata.py --quick             # 5,000 datasets, 100,000-row CSV
    .venv/bin/python bench/bench_opendata.py --backend pg --datasets 20000 --keep-db
    .venv/bin/python bench/bench_opendata.py --engines memory    # the memory engine only
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib.util
import json
import math
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# common.py and opendata_data.py beside this file (a sys.path change may precede imports: no E402).
sys.path.insert(0, str(Path(__file__).resolve().parent))

import common
import opendata_data as data
from common import OperationFailed, heading, say

PG_DATABASE = "govhub_bench_opendata"
BENCH_DIR = common.REPO / "var" / "bench"
SQLITE_PATH = BENCH_DIR / "opendata.db"
FACETS = ["organization", "groups", "tags", "res_format", "license_id", "data_type"]
TARGET_P99_MS = 50.0
ACTION = "/api/3/action/"
# package_search's engines, the baseline first; the last one chosen is the configuration deployed.
ENGINES = ("database", "memory")
# On the memory engine's servers every worker builds its index on its first search, at any catalog
# size: the background build would have the database engine answer meanwhile, mixing the two.
INLINE_BUILD = "10000000"
# The memory servers' warm-up ends after this many requests in a row answer within WARM_MS.
WARM_STREAK, WARM_MS, WARM_LIMIT_S = 10, 100.0, 180.0


@dataclass(frozen=True)
class Kind:
    """One kind of package_search request."""

    key: str
    label: str
    group: str  # thai | english | browse | broad
    q: str = ""
    fq: str = ""

    def params(self, rows: int = 10) -> dict[str, str]:
        found = {"facet.field": json.dumps(FACETS), "rows": str(rows)}
        if self.q:
            found["q"] = self.q
        if self.fq:
            found["fq"] = self.fq
        return found


KINDS: tuple[Kind, ...] = (
    Kind("th_stat", 'Thai "ข้อมูลสถิติ"', "thai", q="ข้อมูลสถิติ"),
    Kind("th_bus", 'Thai "รถโดยสารประจำทาง"', "thai", q="รถโดยสารประจำทาง"),
    Kind("th_proc", 'Thai "จัดซื้อจัดจ้าง"', "thai", q="จัดซื้อจัดจ้าง"),
    Kind("th_two", 'Thai "นักท่องเที่ยว เชียงใหม่" (2 words)', "thai", q="นักท่องเที่ยว เชียงใหม่"),
    Kind("en_stat", 'English "statistics"', "english", q="statistics"),
    Kind("en_budget", 'English "budget"', "english", q="budget"),
    Kind("en_hosp", 'English "hospitals" (stem hospit)', "english", q="hospitals"),
    Kind("browse", "browse: no q, newest first", "browse"),
    Kind("browse_fq", "browse: fq groups:transport res_format:CSV", "browse", fq="groups:transport res_format:CSV"),
    Kind("broad", 'Thai "ข้อมูล" (in ~every dataset)', "broad", q="ข้อมูล"),
)
# What the probe around the CSV load sends: text queries (browsing is answered from the cache in production).
PROBE_KINDS = ("th_stat", "th_bus", "th_proc", "en_stat", "en_budget", "en_hosp")


# --- databases ---------------------------------------------------------------------------------


class SqliteDatabase:
    """The bench's SQLite catalog file (and the datastore's file beside it)."""

    name = str(SQLITE_PATH.relative_to(common.REPO))
    url = f"sqlite+aiosqlite:///{SQLITE_PATH}"

    def create(self) -> None:
        self.drop()
        BENCH_DIR.mkdir(parents=True, exist_ok=True)

    def drop(self) -> None:
        # The catalog file, its WAL and shared-memory files, and any datastore file the platform
        # put beside it (named after it): nothing else in var/bench/.
        for path in BENCH_DIR.glob("opendata*.db*"):
            path.unlink(missing_ok=True)


def make_database(backend: str) -> Any:
    if backend == "sqlite":
        return SqliteDatabase()
    database = common.BenchDatabase(name=PG_DATABASE)
    database.created = True
    database.drop()  # a leftover of an interrupted run
    return database


# --- arranging the catalog ---------------------------------------------------------------------


class _Capture:
    """Stands in for the session in `search.index_dataset`: keeps what it would write.

    DELETEs are dropped: they remove the rows of an earlier version of the dataset, and a
    dataset made here has none (the fidelity check compares the result with package_create's).
    """

    def __init__(self, dialect: str) -> None:
        self.bind = type("Bind", (), {"dialect": type("Dialect", (), {"name": dialect})()})()
        self.info: dict[str, Any] = {}  # session.info, as index writers mark it
        self.statements: dict[str, Any] = {}  # SQL text -> the TextClause (with its typed parameters)
        self.text: dict[str, list[dict[str, Any]]] = {}
        self.facets: list[dict[str, Any]] = []
        self.entries: list[dict[str, Any]] = []  # opendata_index_entries rows (seq given by insert_rows)

    async def execute(self, statement: Any, params: Any = None) -> Any:
        from sqlalchemy.sql.dml import Delete, Insert
        from sqlalchemy.sql.elements import TextClause

        from govhub.opendata import search
        from govhub.opendata.models import FacetValue, IndexEntry

        if isinstance(statement, TextClause):
            if statement.text.lstrip().upper().startswith("DELETE"):
                return None
            if statement.text == search.NEXT_SEQUENCE_NUMBER:
                return _NoSequence()  # numbered by insert_rows, in the order the batches commit
            self.statements.setdefault(statement.text, statement)
            self.text.setdefault(statement.text, []).append(dict(params or {}))
        elif isinstance(statement, Insert) and statement.table is FacetValue.__table__:
            self.facets.extend(params)
        elif isinstance(statement, Insert) and statement.table.name == IndexEntry.__table__.name:
            # insert(IndexEntry) holds an annotated copy of the table, never the table itself.
            self.entries.append(dict(statement.compile().params))
        elif isinstance(statement, Delete):
            return None
        else:
            raise RuntimeError(f"bulk path: unexpected statement {statement}")
        return None


class _NoSequence:
    """What the captured sequence UPDATE returns: a placeholder number."""

    def scalar_one(self) -> int:
        return 0


def _finish(coroutine: Any) -> None:
    """Run a coroutine that never waits (it only awaits _Capture.execute) to its end, without a loop."""
    try:
        coroutine.send(None)
    except StopIteration:
        return
    coroutine.close()
    raise RuntimeError("bulk path: the indexing coroutine waited")


def _with_defaults(instance: Any) -> Any:
    """Give every unset column its Python-side default, as a flush does (ids, timestamps, JSON)."""
    from sqlalchemy import inspect

    mapper = inspect(instance).mapper
    for column in mapper.local_table.columns:
        key = mapper.get_property_by_column(column).key
        if key not in instance.__dict__ and column.default is not None:
            default = column.default
            setattr(instance, key, default.arg(None) if default.is_callable else default.arg)
    return instance


def _row(instance: Any) -> dict[str, Any]:
    from sqlalchemy import inspect

    mapper = inspect(instance).mapper
    return {column.key: instance.__dict__.get(mapper.get_property_by_column(column).key)
            for column in mapper.local_table.columns}


_STEMMER_MEMO = False


def _memoize_stemmer() -> None:
    """The same Snowball stemmer, remembering the words it has stemmed (same output, faster).

    Only in the bulk path's worker processes: package_create's sample runs the platform as it is.
    """
    global _STEMMER_MEMO
    if _STEMMER_MEMO:
        return
    import functools

    from govhub.opendata import search

    stemmer = search._stemmer()
    memo = type("MemoStemmer", (), {"stemWord": staticmethod(functools.lru_cache(maxsize=None)(stemmer.stemWord))})
    search._stemmer = lambda: memo  # type: ignore[assignment]
    _STEMMER_MEMO = True


def compute_rows(dialect: str, organizations: list[dict[str, Any]], groups: list[dict[str, Any]], label: str,
                 indices: range, memoize: bool = True) -> dict[str, Any]:
    """The rows package_create would write for datasets `indices`, as plain dicts (no database).

    The platform's own code decides every value: `schemas.parse_package` and `parse_resource`
    (validation, codes), the models' defaults, `service.package_dict` (the revision's snapshot)
    and `search.index_dataset` (search document and facet values, captured instead of executed).
    Runs in worker processes; the parent inserts the rows.
    """
    from sqlalchemy.orm.attributes import set_committed_value

    from govhub.kit.clock import utcnow
    from govhub.opendata import schemas, search, service
    from govhub.opendata.models import (
        Dataset,
        DatasetGroup,
        DatasetRevision,
        DatasetState,
        DatasetTag,
        Group,
        Organization,
        Resource,
    )

    if memoize:
        _memoize_stemmer()
    actor = service.system_actor(label)
    orgs = {row["name"]: Organization(**row) for row in organizations}
    by_name = {row["name"]: Group(**row) for row in groups}
    out: dict[str, Any] = {"datasets": [], "tags": [], "groups": [], "resources": [], "revisions": []}
    capture = _Capture(dialect)
    now = utcnow()
    for index in indices:
        parsed = schemas.parse_package(data.package(index), creating=True)
        organization = orgs[parsed.owner_org or ""]
        service.require_publisher(actor, organization.id)
        schemas.check_governance(parsed.values)
        chosen = sorted((by_name[name] for name in parsed.groups or []), key=lambda group: group.name)
        values = dict(parsed.values)
        values.setdefault("state", DatasetState.ACTIVE)
        values["state"] = DatasetState(values["state"])
        dataset = _with_defaults(Dataset(**values, organization_id=organization.id, creator_account_id=actor.account_id,
                                         metadata_created=now, metadata_modified=now, revision=1))
        set_committed_value(dataset, "organization", organization)
        tags = [_with_defaults(DatasetTag(dataset_id=dataset.id, name=tag)) for tag in parsed.tags or []]
        links = [_with_defaults(DatasetGroup(dataset_id=dataset.id, group_id=by_name[name].id))
                 for name in parsed.groups or []]
        resources = [_with_defaults(Resource(dataset_id=dataset.id, position=position,
                                             **schemas.parse_resource(item, creating=True, is_upload=False)))
                     for position, item in enumerate(parsed.resources or [])]
        set_committed_value(dataset, "tags", tags)
        set_committed_value(dataset, "group_links", links)
        set_committed_value(dataset, "resources", resources)
        revision = _with_defaults(DatasetRevision(
            dataset_id=dataset.id, number=dataset.revision, action="created", actor_account_id=actor.account_id,
            actor_label=actor.label, changes={},
            snapshot=service.package_dict(dataset, chosen, datastore_ids=frozenset())))
        _finish(search.index_dataset(
            capture, dataset, organization_name=organization.name,  # type: ignore[arg-type]
            organization_title=f"{organization.title_th} {organization.title_en}",
            group_names=[group.name for group in chosen],
            group_titles=[f"{group.title_th} {group.title_en}" for group in chosen]))
        out["datasets"].append(_row(dataset))
        out["tags"].extend(_row(tag) for tag in tags)
        out["groups"].extend(_row(link) for link in links)
        out["resources"].extend(_row(resource) for resource in resources)
        out["revisions"].append(_row(revision))
    out["facets"] = capture.facets
    out["entries"] = capture.entries
    out["text"] = [(capture.statements[sql], rows) for sql, rows in capture.text.items()]
    return out


async def insert_rows(session: Any, rows: dict[str, Any]) -> None:
    """Batched INSERTs of compute_rows' output, in the order of the foreign keys."""
    from govhub.opendata.models import (
        Dataset,
        DatasetGroup,
        DatasetRevision,
        DatasetTag,
        FacetValue,
        Resource,
    )

    for model, key in ((Dataset, "datasets"), (DatasetTag, "tags"), (DatasetGroup, "groups"), (Resource, "resources"),
                       (DatasetRevision, "revisions"), (FacetValue, "facets")):
        if rows[key]:
            await session.execute(model.__table__.insert(), rows[key])
    for statement, params in rows["text"]:
        await session.execute(statement, params)
    if rows["entries"]:
        from sqlalchemy import text

        from govhub.opendata.models import IndexEntry

        # One step of the change sequence per dataset, as index_dataset takes them one at a time.
        last = (await session.execute(text("UPDATE opendata_index_state SET seq = seq + :n WHERE id = 1 RETURNING seq"),
                                      {"n": len(rows["entries"])})).scalar_one()
        first = last - len(rows["entries"]) + 1
        await session.execute(IndexEntry.__table__.insert(),
                              [{**entry, "seq": first + number} for number, entry in enumerate(rows["entries"])])


async def catalog_rows(session: Any, names: list[str]) -> dict[str, Any]:
    """Every row of the named datasets in every catalog table, ids and timestamps taken out."""
    from sqlalchemy import bindparam, text

    from govhub.opendata import search

    ids = {row.id: row.name for row in (await session.execute(
        text("SELECT id, name FROM opendata_datasets WHERE name IN :names").bindparams(
            bindparam("names", expanding=True)), {"names": names})).all()}
    skip = {"id", "metadata_created", "metadata_modified", "created_at", "last_modified", "at", "created", "timestamp",
            "seq"}
    resource_names: dict[str, str] = {}

    def clean(value: Any) -> Any:
        if isinstance(value, dict):
            return {key: clean(resource_names.get(item, ids.get(item, item)) if isinstance(item, str) else item)
                    for key, item in value.items() if key not in skip}
        if isinstance(value, list):
            return [clean(item) for item in value]
        if isinstance(value, str) and value.startswith(("{", "[")):
            with contextlib.suppress(ValueError):
                return clean(json.loads(value))
        return value

    async def table(sql: str) -> list[dict[str, Any]]:
        statement = text(sql).bindparams(bindparam("ids", expanding=True))
        return [dict(row._mapping) for row in (await session.execute(statement, {"ids": list(ids)})).all()]

    for row in await table("SELECT id, dataset_id, position FROM opendata_resources WHERE dataset_id IN :ids"):
        resource_names[row["id"]] = f"{ids[row['dataset_id']]}#{row['position']}"
    found: dict[str, Any] = {}
    for name, sql in (
        ("datasets", "SELECT * FROM opendata_datasets WHERE id IN :ids"),
        ("tags", "SELECT * FROM opendata_dataset_tags WHERE dataset_id IN :ids"),
        ("groups", "SELECT * FROM opendata_dataset_groups WHERE dataset_id IN :ids"),
        ("resources", "SELECT * FROM opendata_resources WHERE dataset_id IN :ids"),
        ("revisions", "SELECT * FROM opendata_dataset_revisions WHERE dataset_id IN :ids"),
        ("facets", "SELECT * FROM opendata_facet_values WHERE dataset_id IN :ids"),
        ("entries", "SELECT * FROM opendata_index_entries WHERE dataset_id IN :ids"),
    ):
        rows = [clean({key: (ids.get(value, value) if key == "dataset_id" else value) for key, value in row.items()})
                for row in await table(sql)]
        found[name] = sorted(json.dumps(row, sort_keys=True, default=str, ensure_ascii=False) for row in rows)
    if session.bind.dialect.name == "postgresql":
        rows = await table("SELECT *, document::text AS document_text FROM opendata_search_docs"
                           " WHERE dataset_id IN :ids")
        rows = [{key: value for key, value in row.items() if key != "document"} for row in rows]
    else:
        rows = await table("SELECT rowid AS fts_rowid, * FROM opendata_search_fts WHERE dataset_id IN :ids")
        for row in rows:
            row["fts_rowid"] = row["fts_rowid"] == search._rowid(row["dataset_id"])  # the id's hash, as index() does
    found["search"] = sorted(json.dumps(clean({**row, "dataset_id": ids[row["dataset_id"]]}), sort_keys=True,
                                        default=str, ensure_ascii=False) for row in rows)
    return found


@dataclass
class Arranged:
    datasets: int
    sample: int
    sample_seconds: float
    sample_p50_ms: float
    bulk: int
    bulk_seconds: float
    fidelity: str
    analyze_seconds: float
    organizations: int
    groups: int
    public_names: list[str] = field(default_factory=list)
    token: str = ""
    publisher_org: str = ""


async def arrange(args: argparse.Namespace) -> Arranged:
    """Organizations, groups, a publisher with a token, and the datasets (see the module doc)."""
    from sqlalchemy import select

    from govhub.db import dispose_engine, get_sessionmaker, unit_of_work
    from govhub.identity import api_tokens
    from govhub.identity import service as identity_service
    from govhub.identity.models import AccountKind, OfficerRole
    from govhub.kit.thai_ids import with_check_digit
    from govhub.opendata import service
    from govhub.opendata.models import Group, Organization

    actor = service.system_actor("bench_opendata")
    organizations = data.organizations()
    try:
        async with unit_of_work() as session:
            agencies = {}
            for org in organizations:
                agency = await identity_service.create_agency(session, code=org.code, name_th=org.title_th,
                                                              name_en=org.title_en, actor_id=None)
                agencies[org.name] = agency
                await service.ensure_organization_for_agency(session, agency=agency, name=org.name)
            for name, title_th, title_en, description in data.GROUPS:
                await service.create_group(session, name=name, title_th=title_th, title_en=title_en,
                                           description=description)
            # A data steward of the BMTA, with an API token, uploads the datastore's CSV.
            account = await identity_service.create_staff_account(
                session, kind=AccountKind.OFFICER, email="bench-steward@bmta.go.th", full_name="นักเผยแพร่ ข้อมูลเปิด",
                national_id=with_check_digit("110170012345"), password="bench-opendata-password-0123",
                agency_id=agencies["bmta"].id, roles=[OfficerRole.DATA_STEWARD])
            _row, token = await api_tokens.create_token(session, account, name="bench")

        async with get_sessionmaker()() as session:
            org_rows = [_column_values(org) for org in (await session.execute(select(Organization))).scalars()]
            group_rows = [_column_values(group) for group in (await session.execute(select(Group))).scalars()]
            dialect = session.bind.dialect.name

        total = args.datasets
        sample = min(args.sample, total)
        check = min(40, sample)
        # 1. The bulk path on the first datasets, rolled back; kept to compare with package_create's.
        async with get_sessionmaker()() as session:
            await insert_rows(session, compute_rows(dialect, org_rows, group_rows, actor.label, range(check),
                                                    memoize=False))
            bulk_rows = await catalog_rows(session, [data.package(i)["name"] for i in range(check)])
            await session.rollback()
        # 2. The sample through service.package_create, one transaction each (as the API does).
        timings = []
        started = time.perf_counter()
        for index in range(sample):
            item = data.package(index)
            begin = time.perf_counter()
            async with unit_of_work() as session:
                await service.package_create(session, actor, item)
            timings.append(time.perf_counter() - begin)
        sample_seconds = time.perf_counter() - started
        async with get_sessionmaker()() as session:
            created_rows = await catalog_rows(session, [data.package(i)["name"] for i in range(check)])
        differences = [name for name in created_rows if created_rows[name] != bulk_rows.get(name)]
        if differences:
            for name in differences:
                a, b = set(created_rows[name]), set(bulk_rows.get(name, []))
                say(f"  {name}: package_create only {sorted(a - b)[:2]}\n  {name}: bulk only {sorted(b - a)[:2]}")
            raise RuntimeError(f"the bulk path differs from package_create in: {', '.join(differences)}")
        counts = {name: len(rows) for name, rows in created_rows.items()}
        fidelity = (f"identical rows for {check} datasets made both ways ("
                    + ", ".join(f"{name} {count}" for name, count in counts.items()) + ")")
        # 3. The rest through the bulk path: rows computed in worker processes, inserted here.
        started = time.perf_counter()
        bulk_seconds = await bulk_load(args, dialect, org_rows, group_rows, actor.label, sample, total)
    finally:
        await dispose_engine()
    rng = random.Random(7)
    names = []
    while len(names) < min(2000, total // 2):
        item = data.package(rng.randrange(total))
        if not item["private"] and item.get("state") != "draft":
            names.append(item["name"])
    timings.sort()
    return Arranged(datasets=total, sample=sample, sample_seconds=sample_seconds,
                    sample_p50_ms=timings[len(timings) // 2] * 1000 if timings else float("nan"),
                    bulk=total - sample, bulk_seconds=bulk_seconds, fidelity=fidelity, analyze_seconds=0.0,
                    organizations=len(organizations), groups=len(data.GROUPS), public_names=names, token=token,
                    publisher_org="bmta")


def _column_values(instance: Any) -> dict[str, Any]:
    from sqlalchemy import inspect

    mapper = inspect(instance).mapper
    return {mapper.get_property_by_column(column).key: getattr(instance, mapper.get_property_by_column(column).key)
            for column in mapper.local_table.columns}


async def bulk_load(args: argparse.Namespace, dialect: str, org_rows: list[dict[str, Any]],
                    group_rows: list[dict[str, Any]], label: str, first: int, total: int) -> float:
    """Datasets first..total-1: rows computed by --load-processes workers, inserted a batch per transaction."""
    import concurrent.futures
    import multiprocessing

    from govhub.db import unit_of_work

    chunks = [range(offset, min(total, offset + args.batch)) for offset in range(first, total, args.batch)]
    started = last = time.perf_counter()
    done = first
    with concurrent.futures.ProcessPoolExecutor(max_workers=args.load_processes,
                                                mp_context=multiprocessing.get_context("spawn")) as pool:
        pending = [asyncio.wrap_future(pool.submit(compute_rows, dialect, org_rows, group_rows, label, chunk))
                   for chunk in chunks[: args.load_processes + 1]]
        following = args.load_processes + 1
        while pending:
            rows = await pending.pop(0)
            if following < len(chunks):
                pending.append(asyncio.wrap_future(pool.submit(compute_rows, dialect, org_rows, group_rows, label,
                                                               chunks[following])))
                following += 1
            async with unit_of_work() as session:
                await insert_rows(session, rows)
            done += len(rows["datasets"])
            if time.perf_counter() - last > 15:
                last = time.perf_counter()
                say(f"    {done:,} datasets ({(done - first) / (last - started):.0f}/s)")
    return time.perf_counter() - started


async def analyze(backend: str) -> float:
    """PostgreSQL: VACUUM ANALYZE (what autovacuum does after a bulk load). SQLite: nothing."""
    if backend != "pg":
        return 0.0
    import asyncpg

    started = time.perf_counter()
    base = common._plain(common.ADMIN_URL).rsplit("/", 1)[0]
    connection = await asyncpg.connect(f"{base}/{PG_DATABASE}")
    try:
        await connection.execute("VACUUM ANALYZE")
    finally:
        await connection.close()
    return time.perf_counter() - started


async def database_size(backend: str) -> str:
    if backend == "sqlite":
        size = sum(path.stat().st_size for path in BENCH_DIR.glob("opendata*.db*"))
        return f"{size / 1024 / 1024:.0f} MiB on disk"
    import asyncpg

    base = common._plain(common.ADMIN_URL).rsplit("/", 1)[0]
    connection = await asyncpg.connect(f"{base}/{PG_DATABASE}")
    try:
        size = await connection.fetchval("SELECT pg_database_size(current_database())")
        index = await connection.fetchval("SELECT pg_total_relation_size('opendata_search_docs')")
        facets = await connection.fetchval("SELECT pg_total_relation_size('opendata_facet_values')")
    finally:
        await connection.close()
    return (f"{size / 1024 / 1024:.0f} MiB (search documents with GIN {index / 1024 / 1024:.0f} MiB,"
            f" facet values {facets / 1024 / 1024:.0f} MiB)")


# --- in-process baselines -------------------------------------------------------------------------


class StatementClock:
    """Time every SQL statement this process sends (SQLAlchemy cursor events)."""

    def __init__(self, engine: Any) -> None:
        from sqlalchemy import event

        self.engine = engine.sync_engine
        self.durations: list[tuple[str, float]] = []
        self.recording = False
        self.captured: list[tuple[str, Any]] = []
        self.capture = False
        event.listen(self.engine, "before_cursor_execute", self._before)
        event.listen(self.engine, "after_cursor_execute", self._after)

    def _before(self, _conn: Any, _cursor: Any, statement: str, parameters: Any, context: Any, _many: bool) -> None:
        context._bench_started = time.perf_counter()
        if self.capture:
            self.captured.append((statement, parameters))

    def _after(self, _conn: Any, _cursor: Any, statement: str, _parameters: Any, context: Any, _many: bool) -> None:
        if self.recording:
            self.durations.append((statement, time.perf_counter() - context._bench_started))


# The statement that reads the catalog's version (the change sequence) before every search.
VERSION_CHECK = "search: catalog version (index state row)"


def statement_kind(statement: str) -> str:
    text = " ".join(statement.split())
    if "FROM opendata_index_state" in text or text.startswith("SELECT max(opendata_datasets.metadata_modified)"):
        return VERSION_CHECK
    if "FROM opendata_index_entries" in text:
        return "memory engine: index entries read"
    if "UNION ALL" in text and "matches" in text:
        return "search: one statement (matches, page, count, facets)"
    if "opendata_facet_values.field, opendata_facet_values.value, count(*)" in text:
        return "search: facets"
    if text.startswith("SELECT count(*)") and "FROM (SELECT" in text:
        return "search: count"
    if "ts_rank" in text or "bm25" in text or ("FROM opendata_datasets" in text and "LIMIT" in text
                                              and "opendata_datasets.id AS id" in text):
        return "search: page"
    if "FROM opendata_organizations" in text and "WHERE opendata_organizations.id =" in text:
        return "facet titles: organization (1 per value)"
    if "FROM opendata_groups" in text and "WHERE opendata_groups.id =" in text:
        return "facet titles: group (1 per value)"
    return "datasets, resources, tags, groups of the page"


def _database_searched(sql_ms: dict[str, float]) -> bool:
    """Whether these statements include the database engine's search (not just the version check)."""
    return any(name.startswith("search: ") and name != VERSION_CHECK for name in sql_ms)


@dataclass
class InProcess:
    key: str
    count: int  # the database engine's (the memory engine's when only it is measured)
    search_p50: float  # search() on the database engine, the baseline (nan when not measured)
    search_p99: float
    action_p50: float
    action_p99: float
    statements: float  # per action
    sql_ms: dict[str, float]  # per action, by statement kind
    parts_ms: dict[str, float] = field(default_factory=dict)  # mean ms of the action's steps, and the JSON
    plan: list[str] = field(default_factory=list)  # of the database engine's statements
    search_sql_ms: dict[str, float] = field(default_factory=dict)  # per database-engine search(), by kind
    memory_count: int | None = None
    memory_p50: float = float("nan")  # search() on the memory engine
    memory_p99: float = float("nan")
    memory_fell_back: bool = False  # the memory engine's search() sent the database engine's statements
    same_facets: bool | None = None  # both engines' facet counts identical
    same_page: bool | None = None  # both engines' first page identical (scored kinds rank differently)
    facet_difference: str = ""  # the first facet field whose counts differ, when they do
    action_engine: str = "memory"


def default_engine(engines: list[str]) -> str:
    """The engine the deployed configuration runs (memory), unless the run leaves it out."""
    return "memory" if "memory" in engines else "database"


@contextlib.contextmanager
def search_engine(name: str) -> Iterator[None]:
    """This process's searches on one engine for a while (the setting is read on every search)."""
    from govhub.config import get_settings

    settings = get_settings()
    before = settings.opendata_search_engine
    settings.opendata_search_engine = name  # type: ignore[assignment]
    try:
        yield
    finally:
        settings.opendata_search_engine = before


def _query_of(kind: Kind) -> Any:
    """The SearchQuery package_search builds for an anonymous caller."""
    from govhub.opendata import search, service

    return search.SearchQuery(q=kind.q, filters=search.parse_fq(kind.fq), facet_fields=list(FACETS), facet_limit=50,
                              rows=10, start=0, sort="score desc" if kind.q else "metadata_modified desc",
                              private_org_ids=service.ANONYMOUS.readable_private_orgs)


def forget_cached_searches() -> None:
    """Empty this process's search result cache (if the platform has one): the next search is a miss."""
    from govhub.opendata import search

    cache = getattr(search, "_cache", None)
    entries = getattr(cache, "entries", None)
    if entries is not None:
        entries.clear()


def _rss_mib() -> float:
    """This process's RSS after a garbage collection, free heap handed back to the system (glibc)."""
    import ctypes
    import gc

    gc.collect()
    # Without it the growth depends on how much freed heap the process happened to hold before.
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    return common._status_kib(os.getpid(), "VmRSS") / 1024


async def build_memory_index(maker: Any) -> dict[str, Any]:
    """Build this process's in-memory index once and install it: build time, RSS growth, one delta."""
    import dataclasses

    from govhub.config import get_settings
    from govhub.opendata import search_memory

    async with maker() as session:
        state = await search_memory.read_state(session)
    if state is None:
        raise RuntimeError("no opendata_index_state row: the memory engine cannot answer")
    before = _rss_mib()
    started = time.perf_counter()
    index = await search_memory._build(state[0])
    build_s = time.perf_counter() - started
    # What stays: the index, and the heap pages its objects share with the freed rows it was built from.
    grown = _rss_mib() - before
    search_memory._keep(get_settings().database_url, index)
    # Where the build's time goes: reading the entries again alone (the database's cache now warm).
    started = time.perf_counter()
    rows = await search_memory._load(after=-1, limit=None)
    read_s = time.perf_counter() - started
    del rows
    # One dataset edited: every process applies it as a delta on its next search.
    _seq, entry = (await search_memory._load(after=index.seq - 1, limit=1))[0]
    edited = dataclasses.replace(entry, title=entry.title + " (ปรับปรุง)", title_terms=(*entry.title_terms, "ปรับปรุง"),
                                 modified=time.time())
    deltas = []
    for _ in range(5):
        started = time.perf_counter()
        index.with_changes(index.seq + 1, [edited])
        deltas.append(time.perf_counter() - started)
    return {"datasets": index.size, "build_s": round(build_s, 2), "read_s": round(read_s, 2),
            "rss_growth_mib": round(grown, 1),
            "delta_ms": round(common.percentile(deltas, 50) * 1000, 2), "delta_max_ms": round(max(deltas) * 1000, 2),
            "complete": state[2], "seq": index.seq, "state_seq": state[1]}


async def in_process(kinds: tuple[Kind, ...], seconds: float, explain: bool,
                     engines: list[str]) -> tuple[dict[str, InProcess], dict[str, Any]]:
    """search.search() on each engine and actions.package_search in this process, one call at a time."""
    from govhub.db import dispose_engine, get_engine, get_sessionmaker
    from govhub.opendata import actions, search, search_memory, service

    clock = StatementClock(get_engine())
    maker = get_sessionmaker()
    context = actions.Context(actor=service.ANONYMOUS, caller=None)
    results: dict[str, InProcess] = {}
    built: dict[str, Any] = {}
    acting = default_engine(engines)

    async def timed(call: Callable[[Any], Awaitable[Any]], budget: float) -> tuple[list[float], Any]:
        for _ in range(3):  # warm: statement caches, the segmenter
            forget_cached_searches()
            async with maker() as session:
                await call(session)
        latencies, last = [], None
        end = time.perf_counter() + budget
        while time.perf_counter() < end or len(latencies) < 10:
            forget_cached_searches()
            async with maker() as session:
                begin = time.perf_counter()
                last = await call(session)
                latencies.append(time.perf_counter() - begin)
            if len(latencies) >= 400:
                break
        return latencies, last

    async def recorded(engine: str, call: Callable[[Any], Awaitable[Any]],
                       budget: float) -> tuple[list[float], Any, dict[str, float], float]:
        """timed() on one engine, with the SQL it sent: ms per call by kind, statements per call."""
        clock.durations.clear()
        clock.recording = True
        try:
            with search_engine(engine):
                latencies, last = await timed(call, budget)
        finally:
            clock.recording = False
        calls = len(latencies) + 3
        sql: dict[str, float] = {}
        for statement, duration in clock.durations:
            name = statement_kind(statement)
            sql[name] = sql.get(name, 0.0) + duration * 1000 / calls
        return latencies, last, sql, len(clock.durations) / calls

    try:
        if "memory" in engines:
            built = await build_memory_index(maker)
        for kind in kinds:
            query = _query_of(kind)

            async def searching(session: Any, query: Any = query) -> Any:
                return await search.search(session, query)

            found: dict[str, tuple[list[float], Any, dict[str, float]]] = {}
            for engine in engines:
                latencies, result, sql, _n = await recorded(engine, searching, seconds / 3)
                found[engine] = (latencies, result, sql)
            acted, _, sql, statements = await recorded(
                acting, lambda session, kind=kind: actions.package_search(session, context, kind.params()), seconds / 3)
            baseline = found.get("database") or found["memory"]
            entry = InProcess(kind.key, baseline[1].count, _ms(found, "database", 50), _ms(found, "database", 99),
                              common.percentile(acted, 50) * 1000, common.percentile(acted, 99) * 1000, statements,
                              sql, search_sql_ms=found["database"][2] if "database" in found else {},
                              action_engine=acting)
            if "memory" in found:
                memory = found["memory"][1]
                entry.memory_count, entry.memory_p50, entry.memory_p99 = (
                    memory.count, _ms(found, "memory", 50), _ms(found, "memory", 99))
                entry.memory_fell_back = _database_searched(found["memory"][2])
                if "database" in found:
                    entry.same_facets = memory.facets == baseline[1].facets
                    entry.facet_difference = _facet_difference(baseline[1].facets, memory.facets)
                    entry.same_page = memory.ids == baseline[1].ids
            with search_engine(acting):
                entry.parts_ms = await action_parts(maker, context, kind, calls=20 if entry.action_p50 < 100 else 5)
            if explain and "database" in engines:
                with search_engine("database"):
                    entry.plan = await plans(clock, maker, query)
            results[kind.key] = entry
    finally:
        search_memory.forget()  # this process only drives the servers from here on
        await dispose_engine()
    return results, built


def _facet_difference(database: dict[str, dict[str, int]], memory: dict[str, dict[str, int]]) -> str:
    """The first field whose counts differ: the values each engine counts otherwise (a few)."""
    for name in sorted(set(database) | set(memory)):
        left, right = database.get(name, {}), memory.get(name, {})
        if left != right:
            only = [{value: n for value, n in one.items() if other.get(value) != n} for one, other in
                    ((left, right), (right, left))]
            return f"{name}: database {dict(list(only[0].items())[:3])}, memory {dict(list(only[1].items())[:3])}"
    return ""


def _ms(found: dict[str, tuple[list[float], Any, dict[str, float]]], engine: str, q: float) -> float:
    """A percentile of one engine's search() latencies in ms (nan when that engine was not measured)."""
    return common.percentile(found[engine][0], q) * 1000 if engine in found else float("nan")


async def action_parts(maker: Any, context: Any, kind: Kind, calls: int = 20) -> dict[str, float]:
    """Where package_search's time goes: its steps timed by wrapping them (mean ms), and the JSON."""
    from govhub.opendata import actions, repository, search, service

    spent: dict[str, list[float]] = {}
    steps = ((search, "search", "search.search()"), (repository, "datasets_by_ids", "load the page's datasets"),
             (service, "package_dicts", "package_dicts()"), (actions, "_search_facets", "facet titles"))
    originals = []
    for module, name, label in steps:
        original = getattr(module, name)
        originals.append((module, name, original))

        def timed(original: Any = original, label: str = label) -> Any:
            async def wrapper(*args: Any, **kwargs: Any) -> Any:
                begin = time.perf_counter()
                try:
                    return await original(*args, **kwargs)
                finally:
                    spent.setdefault(label, []).append(time.perf_counter() - begin)
            return wrapper

        setattr(module, name, timed())
    whole: list[float] = []
    encode: list[float] = []
    try:
        for _ in range(calls):
            forget_cached_searches()
            async with maker() as session:
                begin = time.perf_counter()
                result = await actions.package_search(session, context, kind.params())
                whole.append(time.perf_counter() - begin)
            begin = time.perf_counter()
            # What the API's JSONResponse does with the envelope (starlette's render).
            json.dumps({"help": "x", "success": True, "result": result}, ensure_ascii=False, allow_nan=False,
                       indent=None, separators=(",", ":")).encode("utf-8")
            encode.append(time.perf_counter() - begin)
    finally:
        for module, name, original in originals:
            setattr(module, name, original)
    parts = {label: sum(values) / len(values) * 1000 for label, values in spent.items()}
    parts["rest of the action"] = sum(whole) / len(whole) * 1000 - sum(parts.values())
    parts["JSON encoding"] = sum(encode) / len(encode) * 1000
    return parts


async def plans(clock: StatementClock, maker: Any, query: Any) -> list[str]:
    """EXPLAIN ANALYZE (PostgreSQL) or EXPLAIN QUERY PLAN (SQLite) of the search's statements."""
    from govhub.opendata import search

    clock.captured.clear()
    clock.capture = True
    forget_cached_searches()
    async with maker() as session:
        await search.search(session, query)
    clock.capture = False
    lines: list[str] = []
    async with maker() as session:
        connection = await session.connection()
        postgres = connection.dialect.name == "postgresql"
        for statement, parameters in clock.captured:
            if statement_kind(statement) == VERSION_CHECK:
                continue
            prefix = "EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) " if postgres else "EXPLAIN QUERY PLAN "
            rows = (await connection.exec_driver_sql(prefix + statement, parameters)).all()
            lines.append(f"-- {statement_kind(statement)}")
            lines.extend(("   " + str(row[0]) if postgres else f"   {row[-1]}") for row in rows)
    return lines


# --- HTTP --------------------------------------------------------------------------------------------


def client(base_url: str) -> Any:
    import httpx

    return httpx.AsyncClient(base_url=base_url, timeout=120, headers={"connection": "close"},
                             limits=httpx.Limits(max_connections=1))


def _ok(response: Any, what: str) -> None:
    if response.status_code != 200:
        raise OperationFailed(f"{what} HTTP {response.status_code}")
    if b'"success":true' not in response.content[:400]:
        raise OperationFailed(f"{what} success=false")


def search_operation(kind: Kind, seen: dict[str, int]) -> Any:
    params = kind.params()

    async def operation(http: Any, _index: int) -> dict[str, float]:
        started = time.perf_counter()
        response = await http.get(ACTION + "package_search", params=params)
        elapsed = time.perf_counter() - started
        _ok(response, "package_search")
        if kind.key not in seen:
            seen[kind.key] = int(response.json()["result"]["count"])
        return {"request": elapsed}

    return operation


def show_operation(names: list[str]) -> Any:
    async def operation(http: Any, index: int) -> dict[str, float]:
        started = time.perf_counter()
        response = await http.get(ACTION + "package_show", params={"id": names[index % len(names)]})
        elapsed = time.perf_counter() - started
        _ok(response, "package_show")
        return {"request": elapsed}

    return operation


def datastore_operation(resource_id: str, column: str, values: list[str], totals: dict[str, int]) -> Any:
    """datastore_search with filters {column: one of values} (in turn), limit 100; totals kept per value."""
    async def operation(http: Any, index: int) -> dict[str, float]:
        value = values[index % len(values)]
        filters = json.dumps({column: value}, ensure_ascii=False)
        started = time.perf_counter()
        response = await http.get(ACTION + "datastore_search", params={"resource_id": resource_id, "filters": filters,
                                                                       "limit": "100"})
        elapsed = time.perf_counter() - started
        _ok(response, "datastore_search")
        if value not in totals:
            result = response.json()["result"]
            totals[value] = int(result.get("total", len(result.get("records", []))))
        return {"request": elapsed}

    return operation


@dataclass
class Row:
    """One measured line: what, how, figures."""

    key: str
    label: str
    concurrency: int
    result: common.LoadResult
    unit: str = "req"
    matches: int | None = None
    target: bool = False
    cache: str = "off"  # the server's search result cache: "off" (every request searches) or "on"
    engine: str = "memory"  # the server's search engine: "database" (the baseline) or "memory"

    def summary(self) -> dict[str, Any]:
        return {"key": self.key, "label": self.label, "concurrency": self.concurrency, "unit": self.unit,
                "matches": self.matches, "target": self.target, "cache": self.cache, "engine": self.engine,
                **self.result.summary("request")}


def start_server(args: argparse.Namespace, env: dict[str, str], engine: str, port: int, directory: Path, *,
                 cache: str) -> tuple[common.Server, dict[str, Any]]:
    """`govhub serve` on one search engine, warmed up (the memory engine's until every worker has built its index)."""
    settings = {**env, "GOVHUB_OPENDATA_SEARCH_ENGINE": engine}
    if cache == "off":
        settings["GOVHUB_OPENDATA_SEARCH_CACHE_SECONDS"] = "0"
    if engine == "memory":
        settings["GOVHUB_OPENDATA_SEARCH_MEMORY_INLINE_BUILD"] = INLINE_BUILD
    server = common.Server(settings, workers=args.workers, port=port, run_dir=directory)
    server.log_path = directory / f"server-{engine}-cache-{cache}.log"  # one log per server, none overwritten
    server.start()
    # The database engine's server is warmed too (a fixed number of requests: at 100,000 datasets its
    # answers may never all come within WARM_MS): its slowest are each worker's cold start without
    # an index to build, to set against the memory engine's.
    kind = next(kind for kind in KINDS if kind.key == "th_bus")
    return server, asyncio.run(warm_up(server, kind, requests=None if engine == "memory" else 5 * args.workers))


def describe_warm_up(warm: dict[str, Any]) -> str:
    slow = ", ".join(f"{ms:,.0f}" for ms in warm["slowest_ms"])
    if warm.get("engine") == "database":
        return (f"database engine warm-up: {warm['requests']} package_search one at a time in {warm['seconds']:.1f} s;"
                f" the slowest (each worker's first search: imports, the segmenter's dictionary, connections):"
                f" {slow} ms")
    return (f"memory engine warm-up: {warm['requests']} package_search one at a time in {warm['seconds']:.1f} s until"
            f" {WARM_STREAK} in a row answered within {WARM_MS:.0f} ms; the slowest (each worker building its index,"
            f" seen over HTTP): {slow} ms" + ("" if warm["settled"] else f" -- NOT settled after {WARM_LIMIT_S:.0f} s"))


async def warm_up(server: common.Server, kind: Kind, requests: int | None) -> dict[str, Any]:
    """package_search one at a time, a new connection each: `requests` of them, or (None) until
    WARM_STREAK in a row answer within WARM_MS.

    Each memory engine worker builds its index on the first search it gets, and a connection lands
    on any worker: ten fast answers in a row mean every worker has built (a miss is 2**-9 likely at W = 2).
    """
    latencies: list[float] = []
    streak = 0
    started = time.perf_counter()
    while (len(latencies) < requests if requests is not None
           else streak < WARM_STREAK and time.perf_counter() - started < WARM_LIMIT_S):
        async with client(server.base_url) as http:
            begin = time.perf_counter()
            response = await http.get(ACTION + "package_search", params=kind.params())
            elapsed = time.perf_counter() - begin
        _ok(response, "package_search (warm-up)")
        latencies.append(elapsed)
        streak = streak + 1 if elapsed * 1000 < WARM_MS else 0
    return {"engine": "memory" if requests is None else "database",
            "seconds": round(time.perf_counter() - started, 2), "requests": len(latencies),
            "slowest_ms": [round(value * 1000, 1) for value in sorted(latencies, reverse=True)[:server.workers]],
            "settled": streak >= WARM_STREAK}


async def measure(name: str, server: common.Server, operation: Any, *, concurrency: int, duration: float,
                  retries: int, deadline: float, sequential_warmup: int = 0) -> common.LoadResult:
    """A closed-loop run after a one-second warm-up, again if other processes disturbed it.

    sequential_warmup: first that many requests one after the other (untimed), so that every
    worker has the answer in its cache before the clock starts (connections land on a random worker).
    """
    def make(_index: int) -> Any:
        return client(server.base_url)

    async def once() -> common.LoadResult:
        if sequential_warmup:
            async with client(server.base_url) as http:
                for index in range(sequential_warmup):
                    with contextlib.suppress(Exception):
                        await operation(http, index)
        return await common.closed_loop(name, server=server, concurrency=concurrency, duration=duration, warmup=1.0,
                                        make_client=make, operation=operation)

    return await common.quietest(once, noise=lambda r: r.noise_pct, retries=retries, deadline=deadline)


def print_row(row: Row) -> None:
    verdict = ""
    if row.target:
        p99 = row.result.p("request", 99)
        verdict = f"  {'PASS' if p99 < TARGET_P99_MS else 'FAIL'} (p99 < {TARGET_P99_MS:.0f} ms)"
    matches = f" [{row.matches:,} matches]" if row.matches is not None else ""
    say(f"  {row.label + matches:<60} C={row.concurrency:<2}" + row.result.line("request", row.unit) + verdict)
    say(f"  {'':<60}      {row.result.cpu_line()}; noise {row.result.noise_pct:.0f}%")


async def drive(args: argparse.Namespace, server: common.Server, arranged: Arranged, *, cache: str, engine: str,
                warm: dict[str, Any], extras: bool) -> list[Row]:
    """Every kind at C then at 1 client; with extras also /healthz and package_show (the same on either engine)."""
    rows: list[Row] = []
    seen: dict[str, int] = {}
    deadline = time.monotonic() + args.budget
    c, d = args.concurrency, args.duration
    what = ("search result cache off (GOVHUB_OPENDATA_SEARCH_CACHE_SECONDS=0): every request searches" if cache == "off"
            else "search result cache on (the default): the same query repeated, each worker's cache filled first"
                 " by 20 requests in a row")
    heading(f"Over HTTP, {engine} engine, {what}; govhub serve --workers {args.workers}, C = {c} then C = 1, {d:.0f} s"
            " each after a 1 s warm-up, a new connection per request")
    say("  " + describe_warm_up(warm))
    suffix = f"{'' if cache == 'off' else ' (cached)'} [{engine} engine]"
    for concurrency in (c, 1):
        duration = d if concurrency == c else max(1.0, d * 0.6)
        if extras:
            result = await measure("GET /healthz", server, common.healthz, concurrency=concurrency, duration=duration,
                                   retries=args.noisy_retries, deadline=deadline)
            rows.append(Row("healthz", "baseline: GET /healthz", concurrency, result, cache=cache, engine=engine))
            print_row(rows[-1])
        for kind in KINDS:
            result = await measure(kind.key, server, search_operation(kind, seen), concurrency=concurrency,
                                   duration=duration, retries=args.noisy_retries, deadline=deadline,
                                   sequential_warmup=20 if cache == "on" else 0)
            rows.append(Row(kind.key, f"package_search {kind.label}{suffix}", concurrency, result,
                            matches=seen.get(kind.key), target=True, cache=cache, engine=engine))
            print_row(rows[-1])
        if extras:
            result = await measure("package_show", server, show_operation(arranged.public_names),
                                   concurrency=concurrency, duration=duration, retries=args.noisy_retries,
                                   deadline=deadline)
            rows.append(Row("show", "package_show by name", concurrency, result, cache=cache, engine=engine))
            print_row(rows[-1])
    return rows


# --- the datastore ----------------------------------------------------------------------------------


@dataclass
class Paced:
    """Requests sent at a steady rate (open loop): latency counted from when each was due."""

    latencies: list[float] = field(default_factory=list)
    failures: Counter[str] = field(default_factory=Counter)
    late: int = 0


async def paced(base_url: str, rate: float, stop: asyncio.Event, clients: int = 4) -> Paced:
    """package_search of the probe kinds at `rate` per second in all, until stop is set."""
    out = Paced()
    kinds = [kind for kind in KINDS if kind.key in PROBE_KINDS]
    interval = clients / rate

    async def one(slot: int) -> None:
        async with client(base_url) as http:
            due = time.perf_counter() + slot * interval / clients
            index = slot
            while not stop.is_set():
                now = time.perf_counter()
                if due > now:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), timeout=due - now)
                    if stop.is_set():
                        break
                else:
                    out.late += 1 if now - due > interval else 0
                kind = kinds[index % len(kinds)]
                index += clients
                try:
                    response = await http.get(ACTION + "package_search", params=kind.params())
                    _ok(response, "package_search")
                    out.latencies.append(time.perf_counter() - due)
                except OperationFailed as error:
                    out.failures[error.reason] += 1
                except Exception as error:  # noqa: BLE001 - counted, not raised
                    out.failures[type(error).__name__] += 1
                due += interval

    await asyncio.gather(*(one(slot) for slot in range(clients)))
    return out


def start_worker(env: dict[str, str], directory: Path, threads: int) -> subprocess.Popen[bytes]:
    script = Path(sys.executable).with_name("govhub")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "govhub.cli"]
    with (directory / "worker.log").open("wb") as log:
        return subprocess.Popen([*command, "worker", "--threads", str(threads)], env=env, cwd=directory, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)


def stop_process(process: subprocess.Popen[bytes] | None) -> None:
    if process is None or process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


async def register_status(resource_id: str) -> dict[str, Any] | None:
    """The datastore register's row of the resource (status, rows, times), or None."""
    from govhub.db import get_sessionmaker
    from govhub.opendata.models import DatastoreTable

    async with get_sessionmaker()() as session:
        table = await session.get(DatastoreTable, resource_id)
        if table is None:
            return None
        return {"status": str(table.status), "row_count": table.row_count, "bad_row_count": table.bad_row_count,
                "started_at": table.started_at, "finished_at": table.finished_at, "error": table.error}


def _stats(latencies: list[float]) -> str:
    return (f"p50 {common.percentile(latencies, 50) * 1000:6.1f} ms"
            f"  p99 {common.percentile(latencies, 99) * 1000:7.1f} ms"
            f"  max {max(latencies, default=float('nan')) * 1000:7.1f} ms  n={len(latencies)}")


async def datastore_phase(args: argparse.Namespace, env: dict[str, str], server: common.Server, arranged: Arranged,
                          directory: Path, csv_path: Path, engine: str) -> tuple[dict[str, Any], list[Row]]:
    """Upload the CSV through resource_create, time the background load, probe search meanwhile."""
    import httpx

    from govhub.db import dispose_engine

    out: dict[str, Any] = {}
    rows: list[Row] = []
    headers = {"Authorization": arranged.token}
    worker = None
    try:
        async with httpx.AsyncClient(base_url=server.base_url, timeout=900, headers=headers) as http:
            created = await http.post(ACTION + "package_create", json={
                **data.package(0), "name": "bmta-bus-ticket-sales-2567",
                "title": "ข้อมูลการจำหน่ายตั๋วรถโดยสารประจำทาง ปี 2567",
                "title_en": "Bus ticket sales, 2024", "owner_org": arranged.publisher_org, "resources": [],
                "groups": [{"name": "transport"}], "private": False, "data_category": "public",
                "data_classification": "open", "state": "active"})
            if created.status_code != 200:
                raise RuntimeError(f"package_create for the datastore answered {created.status_code}:"
                                   f" {created.text[:500]}")
            package_id = created.json()["result"]["id"]
            worker = start_worker(env, directory, args.worker_threads)
            await asyncio.sleep(3)  # the worker imports and connects before the clock starts
            stop = asyncio.Event()
            probe = asyncio.create_task(paced(server.base_url, args.probe_rate, stop))
            await asyncio.sleep(args.probe_seconds)
            stop.set()
            before = await probe

            machine, database = common.machine_busy_seconds(), common.database_cpu_seconds()
            server_cpu = sum(server.cpu_by_pid().values())
            worker_cpu = sum(common._cpu_seconds(pid) for pid in common.descendants(worker.pid))
            client_cpu = time.process_time()
            stop = asyncio.Event()
            probe = asyncio.create_task(paced(server.base_url, args.probe_rate, stop))
            started = time.perf_counter()
            with csv_path.open("rb") as handle:
                response = await http.post(ACTION + "resource_create", data={
                    "package_id": package_id, "name": "ยอดจำหน่ายตั๋วรายเที่ยวรายป้าย", "format": "CSV",
                    "description": "จำนวนผู้โดยสารและค่าโดยสารต่อเที่ยวต่อป้าย"},
                    files={"upload": (csv_path.name, handle, "text/csv")})
            uploaded = time.perf_counter() - started
            if response.status_code != 200:
                stop.set()
                await probe
                raise RuntimeError(f"resource_create answered {response.status_code}: {response.text[:500]}")
            resource_id = response.json()["result"]["id"]
            status: dict[str, Any] | None = None
            limit = time.perf_counter() + args.load_timeout
            while time.perf_counter() < limit:
                status = await register_status(resource_id)
                if status and str(status["status"]) in ("active", "failed"):
                    break
                if worker.poll() is not None:
                    break
                await asyncio.sleep(0.25)
            total = time.perf_counter() - started
            stop.set()
            during = await probe
            elapsed = time.perf_counter() - started
            machine = common.machine_busy_seconds() - machine
            database = common.database_cpu_seconds() - database
            server_cpu = sum(server.cpu_by_pid().values()) - server_cpu
            worker_cpu = sum(common._cpu_seconds(pid) for pid in common.descendants(worker.pid)) - worker_cpu
            client_cpu = time.process_time() - client_cpu
            worker_rss = max((common._status_kib(pid, "VmHWM") for pid in common.descendants(worker.pid)), default=0)
            other = max(0.0, machine - server_cpu - worker_cpu - database - client_cpu)
            state = str(status["status"]) if status else "missing"
            out.update(resource_id=resource_id, status=state, upload_s=round(uploaded, 2), total_s=round(total, 2),
                       rows=int(status["row_count"]) if status else 0,
                       bad_rows=int(status["bad_row_count"]) if status else 0,
                       error=(status or {}).get("error") or "", worker_rss_mib=round(worker_rss / 1024, 1),
                       worker_cpu_s=round(worker_cpu, 1), server_cpu_s=round(server_cpu, 1),
                       database_cpu_s=round(database, 1), other_cpu_pct=round(other / (elapsed * (os.cpu_count() or 1))
                                                                               * 100, 1),
                       before_p50_ms=round(common.percentile(before.latencies, 50) * 1000, 1),
                       before_p99_ms=round(common.percentile(before.latencies, 99) * 1000, 1),
                       during_p50_ms=round(common.percentile(during.latencies, 50) * 1000, 1),
                       during_p99_ms=round(common.percentile(during.latencies, 99) * 1000, 1),
                       during_max_ms=round(max(during.latencies, default=float("nan")) * 1000, 1),
                       during_n=len(during.latencies), during_failures=sum(during.failures.values()))
            if status and status.get("started_at") and status.get("finished_at"):
                out["load_s"] = round((status["finished_at"] - status["started_at"]).total_seconds(), 2)
            if worker.poll() is not None and state not in ("active", "failed"):
                out["error"] = f"govhub worker exited with {worker.returncode}; see {directory / 'worker.log'}"
            say(f"  upload ({csv_path.stat().st_size / 1024 / 1024:.0f} MiB) answered in {uploaded:.1f} s; register"
                f" {state} after {total:.1f} s from the upload's start"
                + (f" (the worker's load itself {out['load_s']:.1f} s)" if "load_s" in out else "")
                + f"; {out['rows']:,} rows, {out['bad_rows']} bad"
                + (f"; error: {out['error']}" if out["error"] else ""))
            say(f"  CPU seconds meanwhile: worker {worker_cpu:.1f}, web server {server_cpu:.1f},"
                f" PostgreSQL {database:.1f}, load generator {client_cpu:.1f}, other processes {other:.1f};"
                f" worker peak RSS {worker_rss / 1024:.0f} MiB")
            say(f"  package_search at {args.probe_rate:.0f} req/s before the upload ({args.probe_seconds:.0f} s):"
                f" {_stats(before.latencies)}" + (f" failures {dict(before.failures)}" if before.failures else ""))
            say(f"  package_search at {args.probe_rate:.0f} req/s while it uploads and loads:"
                f"  {_stats(during.latencies)}" + (f" failures {dict(during.failures)}" if during.failures else ""))
        stop_process(worker)
        worker = None
        if out.get("status") == "active":
            stops = [stop_id for stop_id, _ in data.bus_stops()]
            deadline = time.monotonic() + args.budget
            many = random.Random(3).sample(stops, 500)
            few = [name for name, _ in data.BUS_PROVINCES]
            for concurrency in (args.concurrency, 1):
                duration = args.duration if concurrency == args.concurrency else max(1.0, args.duration * 0.6)
                for key, label, column, values in (
                        ("ds_many", "datastore_search stop_id = one of ~4,000", "stop_id", many),
                        ("ds_few", "datastore_search province = one of 6", "province", few)):
                    totals: dict[str, int] = {}
                    result = await measure(key, server, datastore_operation(out["resource_id"], column, values, totals),
                                           concurrency=concurrency, duration=duration, retries=args.noisy_retries,
                                           deadline=deadline)
                    span = f", totals {min(totals.values()):,}-{max(totals.values()):,}" if totals else ""
                    rows.append(Row(key, f"{label} (limit 100{span})", concurrency, result,
                                    matches=round(sum(totals.values()) / len(totals)) if totals else None,
                                    engine=engine))
                    print_row(rows[-1])
    finally:
        stop_process(worker)
        await dispose_engine()
    return out, rows


# --- one backend ---------------------------------------------------------------------------------------


def quiet(args: argparse.Namespace) -> None:
    """Wait (up to --wait-quiet seconds) for other processes to leave the CPUs; say how busy they are."""
    busy = common.wait_for_quiet(args.wait_quiet, sample=2.0)
    say(f"  (other processes use {busy * 100:.0f}% of the CPUs now; load average {os.getloadavg()[0]:.2f})")
    if busy > 0.15:
        say(f"  {_busy_processes()}")


def _busy_processes() -> str:
    """The processes using the CPU now, outside this benchmark (a note for the reader)."""
    mine = set(common.descendants(os.getpid()))
    before = {int(p.name): common._cpu_seconds(int(p.name)) for p in Path("/proc").iterdir() if p.name.isdigit()}
    time.sleep(1.0)
    busy = []
    for pid, cpu in before.items():
        used = common._cpu_seconds(pid) - cpu
        if used > 0.1 and pid not in mine:
            busy.append((used, common._cmdline(pid)[:70] or str(pid)))
    busy.sort(reverse=True)
    return "busy: " + "; ".join(f"{used * 100:.0f}% {name}" for used, name in busy[:4])


def run_backend(args: argparse.Namespace) -> int:
    backend = args.backend
    label = "PostgreSQL" if backend == "pg" else "SQLite"
    heading(f"Open data benchmark on {label}: {args.datasets:,} datasets")
    say(f"machine: {common.machine_description()}; govhub {common.revision()}; load average {os.getloadavg()[0]:.2f}")
    busy = common.wait_for_quiet(0, sample=1.0)
    say(f"other processes use {busy * 100:.0f}% of the CPUs right now")
    database = make_database(backend)
    port = common.free_port()
    directory = common.run_dir()
    server: common.Server | None = None
    results: dict[str, Any] = {"benchmark": "opendata", "backend": backend, "datasets": args.datasets}
    succeeded = failed = False
    began = time.perf_counter()
    with common.terminate_cleanly():
        try:
            database.create()
            env = common.bench_env(database.url, port, GOVHUB_OPENDATA_STORAGE_DIR=str(directory / "storage"))
            common.use_bench_env(env)
            from govhub.migrations.runner import upgrade

            upgrade(database.url)
            common.quiet_govhub_logs()
            say(f"database {database.name}: migrated")
            csv_path = BENCH_DIR / f"bus_ticket_sales_{args.csv_rows}.csv"
            datastore_ready = importlib.util.find_spec("govhub.opendata.datastore") is not None
            if datastore_ready and args.csv_rows:
                started = time.perf_counter()
                fresh = not csv_path.exists()
                data.write_bus_csv(csv_path, args.csv_rows)
                say(f"CSV {csv_path.relative_to(common.REPO)}: {args.csv_rows:,} rows,"
                    f" {csv_path.stat().st_size / 1024 / 1024:.0f} MiB"
                    + (f" (written in {time.perf_counter() - started:.1f} s)" if fresh else " (from an earlier run)"))

            heading("Loading the catalog")
            started = time.perf_counter()
            arranged = asyncio.run(arrange(args))
            arranged.analyze_seconds = asyncio.run(analyze(backend))
            load_total = time.perf_counter() - started
            sample_rate = arranged.sample / arranged.sample_seconds if arranged.sample_seconds else float("nan")
            bulk_rate = arranged.bulk / arranged.bulk_seconds if arranged.bulk_seconds else float("nan")
            say(f"  {arranged.organizations} organizations (agencies), {arranged.groups} groups")
            say(f"  service.package_create, one transaction each: {arranged.sample:,} datasets in"
                f" {arranged.sample_seconds:.1f} s = {sample_rate:.0f}/s (p50 {arranged.sample_p50_ms:.1f} ms);"
                f" {args.datasets:,} this way would take {args.datasets / sample_rate / 60:.0f} min")
            say(f"  bulk path check: {arranged.fidelity}")
            say(f"  bulk path (same rows, {args.batch} datasets per transaction): {arranged.bulk:,} datasets in"
                f" {arranged.bulk_seconds:.1f} s = {bulk_rate:.0f}/s")
            say(f"  VACUUM ANALYZE {arranged.analyze_seconds:.1f} s" if backend == "pg"
                else "  (no ANALYZE: SQLite as the platform leaves it)")
            size = asyncio.run(database_size(backend))
            say(f"  catalog loaded in {load_total:.0f} s in all; database {size}")
            results["load"] = {"sample": arranged.sample, "sample_s": round(arranged.sample_seconds, 2),
                               "sample_rate": round(sample_rate, 1), "bulk": arranged.bulk,
                               "bulk_s": round(arranged.bulk_seconds, 1), "bulk_rate": round(bulk_rate, 1),
                               "total_s": round(load_total, 1), "fidelity": arranged.fidelity, "size": size,
                               "path": "package_create sample + bulk path"}

            quiet(args)
            heading("In-process baselines (no HTTP), each call a search cache miss: search.search() on "
                    + " and on ".join(f"the {engine} engine" for engine in args.engines)
                    + f", and the whole package_search action on the {default_engine(args.engines)} engine")
            inproc, built = asyncio.run(in_process(KINDS, args.inprocess_seconds, explain=args.explain,
                                                   engines=args.engines))
            print_in_process(inproc, built, args.engines)
            results["in_process"] = {key: entry.__dict__ for key, entry in inproc.items()}
            results["memory_index"] = built
            results["counts_differ"] = [key for key, entry in inproc.items() if _counts_differ(entry)]

            # 1. The search result cache off: what each query costs (the long tail of distinct queries),
            # on each engine's own server, the database's (the baseline) first. The last one, the
            # deployed configuration, goes on serving the datastore phase.
            default = default_engine(args.engines)
            rows: list[Row] = []
            searching: dict[str, common.MemoryReport] = {}  # peak RSS per engine with searches only
            warm_ups: dict[str, Any] = {}
            failures = ""
            for engine in args.engines:
                server, warm = start_server(args, env, engine, port, directory, cache="off")
                warm_ups[f"{engine} engine, cache off"] = warm
                quiet(args)
                rows.extend(asyncio.run(drive(args, server, arranged, cache="off", engine=engine, warm=warm,
                                              extras=engine == default)))
                searching[engine] = server.memory()
                say("  " + searching[engine].describe())
                if engine != default:
                    failures += server.errors()
                    server.stop()
                    server = None
            if not args.probe_rate:
                rates = [row.result.rate for row in rows if row.key in PROBE_KINDS and row.engine == default
                         and row.concurrency == args.concurrency]
                args.probe_rate = max(2.0, round(sum(rates) / len(rates) / 4)) if rates else 5.0
            if args.explain and "database" in args.engines:
                print_plans([row for row in rows if row.engine == "database"], inproc, backend)

            # 2. The datastore's CSV, with search probed meanwhile (still without the cache: every probe searches).
            store: dict[str, Any] = {}
            if not datastore_ready:
                heading("Datastore: skipped (src/govhub/opendata/datastore.py is not there yet)")
                store = {"status": "skipped: govhub.opendata.datastore missing"}
            elif not args.csv_rows:
                store = {"status": "skipped: --csv-rows 0"}
            else:
                quiet(args)
                heading(f"Datastore: {args.csv_rows:,}-row CSV uploaded with resource_create, loaded by govhub worker"
                        f" (--threads {args.worker_threads}, jobs on Redis); package_search ({default} engine)"
                        f" probed at {args.probe_rate:.0f} req/s, search cache off")
                store, store_rows = asyncio.run(datastore_phase(args, env, server, arranged, directory, csv_path,
                                                                default))
                rows.extend(store_rows)
            memory = server.memory()
            say("  " + memory.describe())
            failures += server.errors()
            server.stop()
            server = None

            # 3. The cache on, as deployed: the same queries repeated.
            if not args.skip_cached:
                server, warm = start_server(args, env, default, port, directory, cache="on")
                warm_ups[f"{default} engine, cache on"] = warm
                quiet(args)
                rows.extend(asyncio.run(drive(args, server, arranged, cache="on", engine=default, warm=warm,
                                              extras=False)))
                cached = server.memory()
                say("  " + cached.describe())
                if cached.max_mib > memory.max_mib:
                    memory = cached
                failures += server.errors()
                server.stop()
                server = None
            memory = max([memory, *searching.values()], key=lambda report: report.max_mib)
            results["memory_search"] = {engine: {"max_mib": round(report.max_mib, 1),
                                                 "sum_mib": round(report.sum_mib, 1)}
                                        for engine, report in searching.items()}
            results["warm_up"] = warm_ups
            http_failures = sum(sum(row.result.failures.values()) for row in rows)
            if http_failures:
                failed = True
                say("  server errors:\n" + (failures[-3000:] or "(none logged)"))
            if store.get("status") not in (None, "active") and not str(store.get("status", "")).startswith("skipped"):
                failed = True
            results.update(rows=[{**row.summary(), "config": f"W={args.workers} C={row.concurrency}"} for row in rows],
                           datastore=store, memory_max_mib=round(memory.max_mib, 1),
                           memory_sum_mib=round(memory.sum_mib, 1), failures=http_failures)
            print_summary(results, label, args)
            succeeded = True
        finally:
            if server is not None:
                server.stop()
            if not args.keep_db:
                database.drop()
            else:
                say(f"(database kept: {database.name})")
            common.clean_redis()
            if succeeded and not failed:
                import shutil

                shutil.rmtree(directory, ignore_errors=True)
            else:
                say(f"server logs kept in {directory}")
    results.update(machine=common.machine_description(), revision=common.revision(),
                   workers=args.workers, concurrency=args.concurrency, total_s=round(time.perf_counter() - began, 1))
    say(f"(total run on {label} {time.perf_counter() - began:.0f} s; load average now {os.getloadavg()[0]:.2f})")
    common.write_results(args.json, results)
    return 1 if failed or not succeeded else 0


def _counts_differ(entry: InProcess) -> bool:
    """Both engines measured and counting different matches."""
    return entry.same_facets is not None and entry.memory_count != entry.count


def _pair(p50: float, p99: float) -> str:
    return f"{'-':>8}   {'':<7}" if math.isnan(p50) else f"{p50:>8.1f} / {p99:<7.1f}"  # nan: not measured


def print_in_process(inproc: dict[str, InProcess], built: dict[str, Any], engines: list[str]) -> None:
    """Per kind both engines' search(), the action, its SQL; the index's cost; whether the engines agree."""
    if built:
        say(f"  memory index: built in {built['build_s']:.2f} s for {built['datasets']:,} datasets (reading the entries"
            f" alone, again: {built['read_s']:.2f} s; then arrays built in a thread); this process's RSS"
            f" +{built['rss_growth_mib']:.0f} MiB; one changed dataset applied as a delta in {built['delta_ms']:.1f} ms"
            f" (p50 of 5, max {built['delta_max_ms']:.1f})")
        if not built["complete"]:
            say("  NOTE: opendata_index_state says incomplete: the memory engine leaves every search to the database")
    acting = default_engine(engines)
    say(f"  {'kind':<48} {'matches':>8}  {'database search()':>18}  {'memory search()':>18}"
        f"  {'action [' + acting + ']':>18}  {'SQL/call':>8}")
    say(f"  {'':<48} {'':>8}  {'p50 / p99 ms':>18}  {'p50 / p99 ms':>18}  {'p50 / p99 ms':>18}")
    for kind in KINDS:
        entry = inproc[kind.key]
        matches = f"{entry.count:,}" + (f" != {entry.memory_count:,}" if _counts_differ(entry) else "")
        say(f"  {kind.label:<48} {matches:>8}  {_pair(entry.search_p50, entry.search_p99)}"
            f"  {_pair(entry.memory_p50, entry.memory_p99)}  {_pair(entry.action_p50, entry.action_p99)}"
            f"  {entry.statements:>8.0f}")
        if entry.memory_fell_back:
            say(f"  {'':<48} NOTE: the memory engine's search() sent the database engine's statements (fell back)")
        for what, sql in (("database search()", entry.search_sql_ms), (f"action [{acting}]", entry.sql_ms)):
            if sql:
                parts = ", ".join(f"{name} {ms:.1f}" for name, ms in sorted(sql.items(), key=lambda x: -x[1]))
                say(f"  {'':<48} SQL ms per {what}: {parts}")
        steps = ", ".join(f"{name} {ms:.1f}" for name, ms in entry.parts_ms.items())
        say(f"  {'':<48} action ms (mean): {steps}")
    compared = [entry for entry in inproc.values() if entry.same_facets is not None]
    if not compared:
        return
    differ = [entry for entry in compared if _counts_differ(entry)]
    say("  counts: the two engines agree on every kind" if not differ else "  counts DIFFER between the engines: "
        + ", ".join(f"{entry.key} (database {entry.count:,}, memory {entry.memory_count:,})" for entry in differ))
    facets = [entry for entry in compared if not entry.same_facets]
    say("  facet counts: identical on every kind" if not facets else "  facet counts differ: "
        + "; ".join(f"{entry.key} ({entry.facet_difference})" for entry in facets))
    pages = [entry.key for entry in compared if not entry.same_page]
    say(f"  first page: the same ids on {len(compared) - len(pages)} of {len(compared)} kinds"
        + (f"; differs on {', '.join(pages)} (text queries are ranked by ts_rank or FTS5's bm25 against the memory"
           " engine's BM25F)" if pages else ""))


def print_plans(rows: list[Row], inproc: dict[str, InProcess], backend: str) -> None:
    """The database engine's query plans of the kinds over the target at C = 1, else of the slowest one."""
    over = {row.key for row in rows if row.target and row.concurrency == 1 and row.result.p("request", 99) >= TARGET_P99_MS}
    ordered = sorted(inproc.values(), key=lambda entry: -entry.search_p99)
    keys = [entry.key for entry in ordered if entry.key in over][:3] or [ordered[0].key]
    why = (f"the slowest {len(keys)} of the {len(over)} kinds over the target at C = 1" if over
           else "none over the target at C = 1; the slowest in-process")
    heading(f"Query plans ({'EXPLAIN ANALYZE' if backend == 'pg' else 'EXPLAIN QUERY PLAN'}) of search.search() on the"
            f" database engine: {why}")
    for key in keys:
        entry = inproc[key]
        kind = next(kind for kind in KINDS if kind.key == key)
        parts = ", ".join(f"{name} {ms:.1f}" for name, ms in sorted(entry.search_sql_ms.items(), key=lambda x: -x[1]))
        say(f"  {kind.label}: {entry.count:,} matches; in-process search() p50 {entry.search_p50:.1f} ms; SQL ms per"
            f" search(): {parts}")
        for line in entry.plan:
            say("  " + line)


def print_summary(results: dict[str, Any], label: str, args: argparse.Namespace) -> None:
    heading(f"Summary: {label}, {results['datasets']:,} datasets, W={args.workers}")
    header = ("measured", "engine", "cache", "C", "matches", "req/s", "p50 ms", "p99 ms", "fail", "CPU ms/req", "noise",
              "p99<50")
    table = [header]
    for row in results["rows"]:
        verdict = ("PASS" if row["p99_ms"] < TARGET_P99_MS else "FAIL") if row["target"] else ""
        cpu = row.get("server_cpu_ms_per_op")
        table.append((row["label"], row.get("engine", ""), row.get("cache", "off") if row["target"] else "",
                      str(row["concurrency"]), "" if row["matches"] is None else f"{row['matches']:,}",
                      f"{row['rate']:.1f}", f"{row['p50_ms']:.1f}", f"{row['p99_ms']:.1f}", str(row["failures"]),
                      "-" if cpu is None else f"{cpu:.1f}", f"{row['other_cpu_pct']:.0f}%", verdict))
    widths = [max(len(r[i]) for r in table) for i in range(len(header))]
    for index, row in enumerate(table):
        say("  " + "  ".join(cell.ljust(widths[i]) if i == 0 else cell.rjust(widths[i]) for i, cell in enumerate(row)))
        if index == 0:
            say("  " + "  ".join("-" * width for width in widths))
    for kind in KINDS:
        entry = results["in_process"][kind.key]
        counts = (f"{entry['count']:,}" if entry["memory_count"] in (None, entry["count"])
                  else f"database {entry['count']:,} != memory {entry['memory_count']:,}")
        engines = "; ".join(f"{engine} {entry[prefix + '_p50']:.1f}/{entry[prefix + '_p99']:.1f} ms"
                            for engine, prefix in (("database", "search"), ("memory", "memory"))
                            if not math.isnan(entry[prefix + "_p50"]))
        say(f"  in-process, cache miss, {kind.key:<10} search() p50/p99 {engines}; whole action"
            f" [{entry['action_engine']}] {entry['action_p50']:.1f}/{entry['action_p99']:.1f} ms; {counts} matches")
    built = results.get("memory_index") or {}
    if built:
        say(f"  memory index in-process: {built['datasets']:,} datasets built in {built['build_s']:.2f} s, RSS"
            f" +{built['rss_growth_mib']:.0f} MiB, one change as a delta {built['delta_ms']:.1f} ms; counts "
            + ("agree on every kind" if not results.get("counts_differ") else
               "DIFFER on " + ", ".join(results["counts_differ"])))
    for phase, warm in (results.get("warm_up") or {}).items():
        say(f"  {describe_warm_up(warm)} [{phase}]")
    store = results.get("datastore") or {}
    if store.get("status") == "active":
        say(f"  datastore: {store['rows']:,} rows active {store['total_s']:.1f} s after the upload began (upload"
            f" {store['upload_s']:.1f} s{', load ' + str(store['load_s']) + ' s' if 'load_s' in store else ''});"
            f" package_search p50/p99 {store['before_p50_ms']}/{store['before_p99_ms']} ms before,"
            f" {store['during_p50_ms']}/{store['during_p99_ms']} ms during ({store['during_failures']} failures)")
    elif store:
        say(f"  datastore: {store.get('status')} {store.get('error', '')}")
    load = results["load"]
    say(f"  catalog load: {load['sample']} package_create at {load['sample_rate']}/s, {load['bulk']:,} bulk at"
        f" {load['bulk_rate']}/s, {load['total_s']} s in all; {load['size']}")
    searching = ", ".join(f"{engine} engine max {figures['max_mib']:.0f} MiB per process, sum {figures['sum_mib']:.0f}"
                          for engine, figures in (results.get("memory_search") or {}).items())
    say(f"  peak RSS of the server: max {results['memory_max_mib']:.0f} MiB per process, sum"
        f" {results['memory_sum_mib']:.0f} MiB; with searches only (cache off): {searching}")


# --- both backends ---------------------------------------------------------------------------------------


def run_both(args: argparse.Namespace, argv: list[str]) -> int:
    """Each backend in a child process (settings are read once per process), then a comparison."""
    passed = _without_option(_without_option(argv, "--backend"), "--json")
    outcomes: dict[str, dict[str, Any]] = {}
    code = 0
    with tempfile.TemporaryDirectory(prefix="govhub-bench-opendata-") as folder:
        for backend in ("pg", "sqlite"):
            out = Path(folder) / f"{backend}.json"
            completed = subprocess.run([sys.executable, __file__, "--backend", backend, "--json", str(out), *passed],
                                       check=False)
            code = code or completed.returncode
            if out.exists():
                outcomes[backend] = json.loads(out.read_text())
    if outcomes:
        compare(outcomes)
    combined = {"benchmark": "opendata", "backends": outcomes, "rows": _run_all_rows(outcomes)}
    if outcomes:
        first = next(iter(outcomes.values()))
        combined.update(machine=first.get("machine"), revision=first.get("revision"))
        combined["memory_max_mib"] = max(o.get("memory_max_mib", 0) for o in outcomes.values())
        combined["memory_sum_mib"] = max(o.get("memory_sum_mib", 0) for o in outcomes.values())
    common.write_results(args.json, combined)
    return code


def _without_option(argv: list[str], name: str) -> list[str]:
    out, skip = [], False
    for arg in argv:
        if skip:
            skip = False
            continue
        if arg == name:
            skip = True
            continue
        if arg.startswith(name + "="):
            continue
        out.append(arg)
    return out


def _run_all_rows(outcomes: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows in the shape bench/run_all.py prints (its documents/payments table)."""
    found = []
    for backend, result in outcomes.items():
        for row in result.get("rows", []):
            # Searches: latency at C = 1 without the cache (the target), throughput of two kinds at C; the rest at C.
            searching = row["target"]
            if row.get("cache") == "on" or (searching and row["concurrency"] != 1
                                            and row["key"] not in ("th_stat", "browse")):
                continue
            if not searching and row["concurrency"] == 1 and not row["key"].startswith("ds_"):
                continue
            # The labels name the engine, so both engines' rows stay apart in run_all's table.
            found.append({"label": f"{'PG' if backend == 'pg' else 'SQLite'} {row['label']}",
                          "config": f"W={result.get('workers')} C={row['concurrency']}", "unit": row["unit"],
                          "rate": row["rate"], "p50_ms": row["p50_ms"], "p99_ms": row["p99_ms"],
                          "failures": row["failures"], "server_cpu_ms_per_op": row.get("server_cpu_ms_per_op"),
                          "other_cpu_pct": row["other_cpu_pct"]})
    return found


def compare(outcomes: dict[str, dict[str, Any]]) -> None:
    heading("PostgreSQL and SQLite side by side (p50 / p99 ms; target: package_search p99 < 50 ms)")
    backends = [name for name in ("pg", "sqlite") if name in outcomes]
    # Keyed by engine too: each kind is measured on both engines' servers.
    by: dict[tuple[str, int, str, str], dict[str, dict[str, Any]]] = {}
    labels: dict[tuple[str, str, str], str] = {}
    for backend in backends:
        for row in outcomes[backend].get("rows", []):
            cache, engine = row.get("cache", "off"), row.get("engine", "database")
            by.setdefault((row["key"], row["concurrency"], cache, engine), {})[backend] = row
            labels[(row["key"], cache, engine)] = row["label"]
    names = {"pg": "PostgreSQL", "sqlite": "SQLite"}
    say(f"  {'measured':<86} {'C':>2}  " + "  ".join(f"{names[b]:>30}" for b in backends))
    for (key, concurrency, cache, engine), found in by.items():
        cells = []
        for backend in backends:
            row = found.get(backend)
            if row is None:
                cells.append(f"{'-':>30}")
                continue
            verdict = ("PASS" if row["p99_ms"] < TARGET_P99_MS else "FAIL") if row["target"] else ""
            cells.append(f"{row['p50_ms']:7.1f} / {row['p99_ms']:7.1f} {row['rate']:6.0f}/s {verdict:>4}")
        say(f"  {labels[(key, cache, engine)]:<86} {concurrency:>2}  " + "  ".join(cells))
    for backend in backends:
        result = outcomes[backend]
        load, store = result.get("load", {}), result.get("datastore", {})
        built = result.get("memory_index") or {}
        if built:
            say(f"  {names[backend]}: memory index of {built['datasets']:,} built in {built['build_s']} s in-process"
                f" (RSS +{built['rss_growth_mib']} MiB), a change as a delta in {built['delta_ms']} ms; counts "
                + ("agree on every kind" if not result.get("counts_differ")
                   else "DIFFER on " + ", ".join(result["counts_differ"])))
        say(f"  {names[backend]}: catalog of {result['datasets']:,} loaded in {load.get('total_s')} s"
            f" (package_create {load.get('sample_rate')}/s, bulk {load.get('bulk_rate')}/s); datastore "
            + (f"{store['rows']:,} rows active after {store['total_s']} s, search p99 {store['before_p99_ms']} ms before,"
               f" {store['during_p99_ms']} ms during" if store.get("status") == "active" else str(store.get("status")))
            + f"; server RSS max {result.get('memory_max_mib')} MiB, sum {result.get('memory_sum_mib')} MiB")


# --- main ------------------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backend", choices=("pg", "sqlite", "both"), default="both")
    parser.add_argument("--datasets", type=int, help="datasets in the catalog (100,000; --quick 5,000)")
    parser.add_argument("--quick", action="store_true", help="a smoke run: 5,000 datasets, a 100,000-row CSV, short phases")
    parser.add_argument("--sample", type=int, help="datasets made through service.package_create (300; --quick 100)")
    parser.add_argument("--batch", type=int, default=500, help="datasets per transaction on the bulk path")
    parser.add_argument("--load-processes", type=int, default=2, help="processes computing the bulk path's rows")
    parser.add_argument("--csv-rows", type=int, help="rows of the datastore CSV (1,000,000; --quick 100,000; 0 = skip)")
    parser.add_argument("--workers", type=int, default=2, help="govhub web worker processes (W)")
    parser.add_argument("--concurrency", "-c", type=int, default=8, help="concurrent clients (C)")
    parser.add_argument("--duration", type=float, help="seconds per measured phase (5; --quick 2)")
    parser.add_argument("--inprocess-seconds", type=float, help="seconds per query kind in-process (2; --quick 1)")
    parser.add_argument("--probe-rate", type=float, default=0.0,
                        help="package_search per second around the CSV load (0: a quarter of what C clients got)")
    parser.add_argument("--wait-quiet", type=float, default=0.0, metavar="SECONDS",
                        help="before each measured part, wait up to SECONDS for other processes to leave the CPUs")
    parser.add_argument("--probe-seconds", type=float, default=10.0, help="seconds probed before the upload")
    parser.add_argument("--worker-threads", type=int, default=2, help="threads of govhub worker")
    parser.add_argument("--load-timeout", type=float, default=900.0, help="give up waiting for the datastore after this")
    parser.add_argument("--noisy-retries", type=int, default=1, help="measure a disturbed phase again (times)")
    parser.add_argument("--budget", type=float, default=900.0, help="no re-measuring after this many seconds of phases")
    parser.add_argument("--explain", action=argparse.BooleanOptionalAction, default=True,
                        help="print the query plans of the search statements of kinds over the target")
    parser.add_argument("--snapshot", action=argparse.BooleanOptionalAction, default=True,
                        help="measure a copy of src/ taken at the start (the tree may change meanwhile)")
    parser.add_argument("--skip-cached", action="store_true", help="do not measure with the search result cache on")
    parser.add_argument("--engines", default=",".join(ENGINES),
                        help="package_search engines to measure, comma-separated: database (the baseline), memory")
    parser.add_argument("--keep-db", action="store_true", help="keep the benchmark database afterwards")
    parser.add_argument("--json", help="also write the figures to this JSON file")
    args = parser.parse_args(argv)
    chosen = {name.strip() for name in args.engines.split(",") if name.strip()}
    if not chosen or chosen - set(ENGINES):
        parser.error(f"--engines: one or both of {', '.join(ENGINES)}")
    args.engines = [name for name in ENGINES if name in chosen]  # the baseline first, the deployed one last
    quick = args.quick
    args.datasets = args.datasets or (5000 if quick else 100_000)
    args.sample = args.sample if args.sample is not None else (100 if quick else 300)
    args.csv_rows = args.csv_rows if args.csv_rows is not None else (100_000 if quick else 1_000_000)
    args.duration = args.duration or (1.5 if quick else 5.0)
    args.inprocess_seconds = args.inprocess_seconds or (0.5 if quick else 2.0)
    if quick:
        args.noisy_retries = 0
        args.probe_seconds = min(args.probe_seconds, 5.0)
    return args


def snapshot_and_rerun(raw: list[str]) -> int:
    """Measure a copy of src/ taken now: others may edit the tree during a 20-minute run.

    The copy comes first on PYTHONPATH for this process's children, the servers and the job
    worker (before the editable install's path); the revision printed names it.
    """
    import hashlib
    import shutil

    folder = Path(tempfile.mkdtemp(prefix="govhub-bench-src-"))
    try:
        copy = folder / "src"
        shutil.copytree(common.REPO / "src", copy, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        digest = hashlib.sha256()
        for path in sorted(copy.rglob("*.py")):
            digest.update(path.relative_to(copy).as_posix().encode() + b"\0" + path.read_bytes())
        revision = f"{common.revision()} (src copied at {time.strftime('%H:%M:%S')}, sha256 {digest.hexdigest()[:12]})"
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(copy), os.environ.get("PYTHONPATH")])),
               "GOVHUB_BENCH_REVISION": revision, "GOVHUB_BENCH_OPENDATA_SNAPSHOT": str(copy)}
        return subprocess.run([sys.executable, __file__, *raw], env=env, check=False).returncode
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    raw = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(raw)
    if args.snapshot and not os.environ.get("GOVHUB_BENCH_OPENDATA_SNAPSHOT"):
        return snapshot_and_rerun(raw)
    if args.backend == "both":
        return run_both(args, raw)
    return run_backend(args)


if __name__ == "__main__":
    sys.exit(main())
