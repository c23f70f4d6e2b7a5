"""datastore_search_sql: one read-only SELECT over public datastore tables, under a time limit.

Off unless `GOVHUB_DATASTORE_SQL_ENABLED`. Two layers, so that a parser's blind spot is not
a hole:

1. sqlglot parses the text: exactly one SELECT (or UNION of SELECTs), nothing that writes,
   locks or changes settings, only functions of an allow-list, and every table named either
   a resource id (as in CKAN: `SELECT * FROM "<resource id>"`) or the table's own name, of
   an active resource of an active, public dataset. Those references are rewritten to the
   tables themselves.
2. The database enforces it. PostgreSQL: a READ ONLY transaction with `SET LOCAL
   statement_timeout`, the statement sent as one prepared statement (which cannot hold two),
   and `EXPLAIN (VERBOSE, FORMAT JSON)` read before running it: every relation the plan
   touches must be one of the allowed tables in the `datastore` schema, and every function
   call in it must be on the allow-list. SQLite: the datastore is its own file, opened
   read-only with `query_only`, an authorizer that allows reading only the allowed tables
   and calling only allowed functions (so no ATTACH, PRAGMA or writes), and a progress
   handler that stops the statement at the time limit.
"""

from __future__ import annotations

import asyncio
import json
import re
import sqlite3
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from datetime import time as clock_time
from decimal import Decimal
from pathlib import Path
from typing import Any

import sqlglot
from sqlalchemy import or_, select
from sqlglot import exp
from sqlglot.errors import ParseError, TokenError

from govhub import db
from govhub.config import get_settings
from govhub.kit.errors import Forbidden, ValidationFailed
from govhub.kit.i18n import N_
from govhub.opendata.models import Dataset, DatasetState, DatastoreTable, Resource

MAX_ROWS = 32000
MAX_SQL_CHARS = 20_000

ALLOWED_FUNCTIONS = frozenset({
    # aggregates and window functions
    "count", "sum", "avg", "min", "max", "total", "group_concat", "string_agg", "array_agg", "stddev",
    "stddev_pop", "stddev_samp", "variance", "var_pop", "var_samp", "bool_and", "bool_or", "every",
    "percentile_cont", "percentile_disc", "mode", "row_number", "rank", "dense_rank", "percent_rank",
    "cume_dist", "ntile", "lag", "lead", "first_value", "last_value", "nth_value",
    # numbers
    "abs", "ceil", "ceiling", "floor", "round", "trunc", "sqrt", "power", "pow", "mod", "ln", "log", "log10",
    "exp", "sign", "greatest", "least", "div", "width_bucket",
    # nulls and conditions
    "coalesce", "nullif", "ifnull", "iif",
    # text
    "lower", "upper", "length", "char_length", "character_length", "octet_length", "substr", "substring", "trim",
    "btrim", "ltrim", "rtrim", "replace", "concat", "concat_ws", "left", "right", "position", "strpos", "instr",
    "split_part", "initcap", "reverse", "starts_with", "translate", "regexp_replace", "like", "glob",
    "to_tsvector", "plainto_tsquery", "to_tsquery", "ts_rank",
    # (not lpad, rpad, repeat, printf or format: one call of those can ask for a gigabyte)
    # dates and times
    "date", "time", "datetime", "julianday", "strftime", "unixepoch", "date_trunc", "date_part", "extract",
    "to_char", "to_date", "to_timestamp", "to_number", "age", "make_date", "now", "current_date",
    "current_timestamp", "localtimestamp", "timezone", "justify_days",
    # casts written as calls
    "cast", "int2", "int4", "int8", "integer", "bigint", "numeric", "float4", "float8", "text", "varchar", "bool",
    "timestamp",
    # row sources in FROM
    "generate_series", "unnest",
    # what PostgreSQL turns SIMILAR TO into
    "similar_to_escape", "similar_escape",
})
ROW_SOURCE_FUNCTIONS = frozenset({"generate_series", "unnest"})
# Words PostgreSQL prints before a parenthesis in an expression that are not calls.
_PLAN_KEYWORDS = frozenset({
    "and", "or", "not", "in", "any", "all", "some", "over", "filter", "group", "from", "when", "then", "else",
    "case", "is", "as", "exists", "array", "row", "between", "like", "ilike", "similar", "distinct", "on",
    "using", "values", "select", "where", "order", "by", "partition", "rows", "range", "nulls", "asc", "desc",
    "at", "zone", "with", "ordinality", "lateral", "only", "escape", "collate", "both", "leading", "trailing",
    "for", "except", "union", "intersect", "end", "hashed",
})
# Plan keys whose values are names, not expressions.
_PLAN_NAME_KEYS = frozenset({
    "Node Type", "Parent Relationship", "Strategy", "Partial Mode", "Join Type", "Scan Direction", "Relation Name",
    "Schema", "Alias", "Index Name", "CTE Name", "Subplan Name", "Function Name", "Command", "Sort Method",
    "Operation", "Sort Space Type", "Table Function Name",
})
_REFUSED_PLAN_NODES = frozenset({"ModifyTable", "LockRows"})
_REFUSED_NODES: tuple[type[exp.Expression], ...] = tuple(
    getattr(exp, name) for name in (
        "Insert", "Update", "Delete", "Merge", "Create", "Drop", "Alter", "Command", "Into", "Lock", "Pragma",
        "Attach", "Detach", "Set", "Use", "Transaction", "Commit", "Rollback", "Copy", "LoadData", "Cache",
        "Uncache", "Refresh", "Kill", "Describe", "Analyze", "TruncateTable", "Grant", "Revoke", "Comment",
        "Declare", "Execute", "Show", "Summarize",
    ) if hasattr(exp, name)
)
# sqlglot turns the calls it knows into classes of its own (now() is CurrentTimestamp): these
# are the classes the names above and ordinary syntax (CASE, EXISTS, casts) parse into. A
# known class off this list is refused before PostgreSQL sees it, since the planner would
# evaluate a constant call such as repeat('x', 1000000000) while explaining the statement.
ALLOWED_SQLGLOT_FUNCTIONS = frozenset({
    "Abs", "Array", "ArrayAgg", "Avg", "Case", "Cast", "Ceil", "Coalesce", "Collate", "Concat", "ConcatWs",
    "Count", "CumeDist", "CurrentDate", "CurrentTimestamp", "Date", "DateTrunc", "Datetime", "DenseRank",
    "Exists", "Exp", "Explode", "ExplodingGenerateSeries", "Extract", "FirstValue", "Floor", "GenerateSeries",
    "Greatest", "GroupConcat", "If", "Initcap", "JustifyDays", "Lag", "LastValue", "Lead", "Least", "Left",
    "Length", "Ln", "Localtimestamp", "Log", "LogicalAnd", "LogicalOr", "Lower", "Max", "Min", "Mode",
    "NthValue", "Ntile", "Nullif", "PercentRank", "PercentileCont", "PercentileDisc", "Pow", "Rank",
    "RegexpLike", "RegexpReplace", "Replace", "Reverse", "Right", "Round", "RowNumber", "Sign", "SplitPart",
    "Sqrt", "StartsWith", "Stddev", "StddevPop", "StddevSamp", "StrPosition", "StrToDate", "StrToTime",
    "Substring", "Sum", "Time", "TimeToStr", "Timestamp", "TimestampTrunc", "ToChar", "ToNumber", "Translate",
    "Trim", "Trunc", "TryCast", "TsOrDsToTimestamp", "UnixToTime", "Unnest", "Upper", "Variance",
    "VariancePop", "WidthBucket",
    # operators sqlglot models as functions
    "And", "Or", "Xor", "RegexpILike",
})


def _refused(message: str = N_("Only one SELECT statement on public datastore tables is allowed."),
             **params: Any) -> ValidationFailed:
    return ValidationFailed(message, field="sql", **params)


@dataclass(frozen=True)
class Allowed:
    """A datastore table a query may read."""

    resource_id: str
    table_name: str
    fields: dict[str, str]


def _parse(sql: str, dialect: str) -> exp.Expression:
    try:
        statements = [statement for statement in sqlglot.parse(sql, read=dialect) if statement is not None]
    except (ParseError, TokenError) as error:
        raise _refused(N_("The SQL could not be read: %(reason)s"), reason=str(error).splitlines()[0][:300]) from None
    if len(statements) != 1:
        raise _refused(N_("Send exactly one SELECT statement."))
    tree = statements[0]
    if not isinstance(tree, exp.Select | exp.SetOperation | exp.Subquery):
        raise _refused()
    for node in tree.walk():
        if isinstance(node, _REFUSED_NODES):
            raise _refused()
        if isinstance(node, exp.Anonymous):
            name = node.name.lower()
            if name not in ALLOWED_FUNCTIONS:
                raise _refused(N_('The function "%(name)s" is not allowed.'), name=node.name[:100])
        elif isinstance(node, exp.Func) and type(node).__name__ not in ALLOWED_SQLGLOT_FUNCTIONS:
            name = node.sql(dialect=dialect).split("(", 1)[0].strip()
            raise _refused(N_('The function "%(name)s" is not allowed.'), name=name[:60])
        elif isinstance(node, exp.DataType) and node.sql(dialect=dialect).lower().startswith("reg"):
            # regclass and friends look names up in the system catalogs.
            raise _refused(N_("Casts to system catalog types are not allowed."))
    return tree


def _references(tree: exp.Expression, dialect: str) -> list[exp.Table]:
    """The table references to resolve (CTE names and row-source functions left out)."""
    ctes = {cte.alias_or_name.lower() for cte in tree.find_all(exp.CTE)}
    found = []
    for table in tree.find_all(exp.Table):
        if not isinstance(table.this, exp.Identifier):
            continue  # a function in FROM: checked with the other calls
        schema = table.db.lower()
        if table.catalog or (schema and schema != ("datastore" if dialect == "postgres" else "main")):
            raise _refused(N_('"%(name)s" is not a public datastore table.'), name=table.sql(dialect=dialect)[:100])
        if not schema and table.name.lower() in ctes:
            continue
        found.append(table)
    return found


async def _allowed_tables(names: Iterable[str]) -> dict[str, Allowed]:
    """The tables named (by resource id or table name) that public queries may read."""
    wanted = sorted({name for name in names})
    if not wanted:
        return {}
    async with db.get_sessionmaker()() as session:
        rows = (
            await session.execute(
                select(DatastoreTable.resource_id, DatastoreTable.table_name, DatastoreTable.fields)
                .join(Resource, Resource.id == DatastoreTable.resource_id)
                .join(Dataset, Dataset.id == Resource.dataset_id)
                .where(
                    or_(DatastoreTable.resource_id.in_(wanted), DatastoreTable.table_name.in_(wanted)),
                    DatastoreTable.source_sha256.is_not(None),
                    Resource.state == "active",
                    Dataset.state == DatasetState.ACTIVE,
                    Dataset.private.is_(False),
                )
            )
        ).all()
    allowed: dict[str, Allowed] = {}
    for resource_id, table_name, fields in rows:
        entry = Allowed(resource_id, table_name, {"_id": "int", **{f["id"]: f["type"] for f in fields}})
        allowed[resource_id.lower()] = allowed[table_name.lower()] = entry
    return allowed


def _rewrite(tree: exp.Expression, references: list[exp.Table], allowed: dict[str, Allowed], dialect: str) -> None:
    for table in references:
        entry = allowed.get(table.name.lower())
        if entry is None:
            raise _refused(N_('"%(name)s" is not a public datastore table.'), name=table.name[:100])
        original = table.name
        table.set("this", exp.to_identifier(entry.table_name, quoted=True))
        table.set("db", exp.to_identifier("datastore", quoted=True) if dialect == "postgres" else None)
        if not table.alias:
            # Columns qualified with the name the query used ("<resource id>".col) still resolve.
            table.set("alias", exp.TableAlias(this=exp.to_identifier(original, quoted=True)))


async def search_sql(sql: Any) -> dict[str, Any]:
    """Run one read-only SELECT on public datastore tables; CKAN's {"records", "fields", "sql"}."""
    settings = get_settings()
    if not settings.datastore_sql_enabled:
        raise Forbidden(N_("SQL queries on the datastore are turned off on this site."), code="sql_disabled")
    if not isinstance(sql, str) or not sql.strip():
        raise _refused(N_("Give an SQL SELECT statement."))
    if len(sql) > MAX_SQL_CHARS:
        raise _refused(N_("The SQL statement is too long (at most %(limit)s characters)."), limit=MAX_SQL_CHARS)
    from govhub.opendata.datastore import datastore_url, get_datastore_engine, sqlite_path

    url = datastore_url(settings)
    dialect = "sqlite" if url.startswith("sqlite") else "postgres"
    tree = _parse(sql, dialect)
    references = _references(tree, dialect)
    allowed = await _allowed_tables(table.name.lower() for table in references)
    _rewrite(tree, references, allowed, dialect)
    rewritten = tree.sql(dialect=dialect)
    tables = {entry.table_name: entry for entry in allowed.values()}
    timeout_ms = max(1, int(settings.datastore_sql_timeout_ms))
    if dialect == "sqlite":
        names, types, rows = await asyncio.to_thread(
            _run_sqlite, sqlite_path(url), rewritten, set(tables), timeout_ms
        )
        types = _sqlite_types(names, types, rows, tables)
    else:
        names, types, rows = await _run_postgresql(get_datastore_engine(), rewritten, set(tables), timeout_ms)
    truncated = len(rows) > MAX_ROWS
    records = [
        {name: _json_value(value, kind) for name, kind, value in zip(names, types, row, strict=True)}
        for row in rows[:MAX_ROWS]
    ]
    result: dict[str, Any] = {
        "sql": sql,
        "fields": [{"id": name, "type": kind} for name, kind in zip(names, types, strict=True)],
        "records": records,
    }
    if truncated:
        result["records_truncated"] = True
    return result


def _json_value(value: Any, kind: str) -> Any:
    if value is None:
        return None
    if kind == "bool":
        return bool(value)
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, date | datetime | clock_time):
        return value.isoformat()
    if isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).hex()
    return str(value)


# --- PostgreSQL --------------------------------------------------------------------------

_PG_TYPES = {
    "int2": "int", "int4": "int", "int8": "int", "numeric": "numeric", "float4": "numeric", "float8": "numeric",
    "date": "date", "timestamp": "timestamp", "timestamptz": "timestamp", "bool": "bool",
}
_LITERAL = re.compile(r"'(?:[^']|'')*'")
_QUOTED_CALL = re.compile(r'"((?:[^"]|"")*)"(\s*\()?')
_CALL = re.compile(r'(?:([A-Za-z_][A-Za-z0-9_$]*)\s*\.\s*)?([A-Za-z_][A-Za-z0-9_$]*)\s*\(')
_REG_CAST = re.compile(r"::\s*reg[a-z]+", re.IGNORECASE)


def _calls(expression: str) -> list[tuple[str | None, str]]:
    """(schema, name) of every call in an expression as PostgreSQL prints it in a plan."""
    text = _LITERAL.sub("''", expression)
    # A quoted identifier is a call's name only when a parenthesis follows ("left"(a, 2)).
    text = _QUOTED_CALL.sub(lambda m: (m[1].replace('""', '"') if m[1].isidentifier() else "x_q") + "("
                            if m[2] else "x_q", text)
    return [(schema.lower() if schema else None, name.lower()) for schema, name in _CALL.findall(text)]


def check_plan(plan: Any, tables: set[str]) -> None:
    """Refuse a plan that reads anything but the allowed tables or calls a function off the list."""
    if isinstance(plan, list):
        for item in plan:
            check_plan(item, tables)
        return
    if not isinstance(plan, dict):
        return
    if plan.get("Node Type") in _REFUSED_PLAN_NODES:
        raise _refused()
    if "Relation Name" in plan and (plan.get("Schema") != "datastore" or plan["Relation Name"] not in tables):
        raise _refused(N_('"%(name)s" is not a public datastore table.'), name=str(plan["Relation Name"])[:100])
    for key, value in plan.items():
        if key.endswith("Function Name"):
            if value not in ROW_SOURCE_FUNCTIONS or plan.get("Schema", "pg_catalog") != "pg_catalog":
                raise _refused(N_('The function "%(name)s" is not allowed.'), name=str(value)[:100])
        elif key in ("Plan", "Plans"):
            check_plan(value, tables)
        elif key not in _PLAN_NAME_KEYS:
            for text in value if isinstance(value, list) else [value]:
                if isinstance(text, str):
                    _check_expression(text)


def _check_expression(text: str) -> None:
    if _REG_CAST.search(_LITERAL.sub("''", text)):
        raise _refused(N_("Casts to system catalog types are not allowed."))
    for schema, name in _calls(text):
        if name in _PLAN_KEYWORDS and schema is None:
            continue
        if name not in ALLOWED_FUNCTIONS or schema not in (None, "pg_catalog"):
            raise _refused(N_('The function "%(name)s" is not allowed.'), name=name[:100])


async def _run_postgresql(engine: Any, sql: str, tables: set[str], timeout_ms: int) -> tuple[list[str], list[str], list[Any]]:
    import asyncpg

    async with engine.connect() as conn:
        raw = (await conn.get_raw_connection()).driver_connection
        try:
            async with raw.transaction(readonly=True, isolation="read_committed"):
                await raw.execute(f"SET LOCAL statement_timeout = {int(timeout_ms)}")
                # pg_catalog stays first (PostgreSQL's rule); the plan check refuses its tables.
                await raw.execute("SET LOCAL search_path = datastore")
                plan = await raw.fetchval("EXPLAIN (VERBOSE, FORMAT JSON) " + sql)
                check_plan(json.loads(plan) if isinstance(plan, str) else plan, tables)
                statement = await raw.prepare(sql)
                attributes = statement.get_attributes()
                cursor = await statement.cursor()
                rows = await cursor.fetch(MAX_ROWS + 1)
        except asyncpg.exceptions.QueryCanceledError:
            raise _refused(N_("The query took longer than %(ms)s ms and was stopped."), ms=timeout_ms) from None
        except (asyncpg.exceptions.ReadOnlySQLTransactionError, asyncpg.exceptions.InsufficientPrivilegeError):
            raise _refused() from None
        except asyncpg.exceptions.PostgresError as error:
            reason = (getattr(error, "message", "") or str(error)).splitlines()[0][:300]
            raise _refused(N_("The query could not be run: %(reason)s"), reason=reason) from None
    names = [attribute.name for attribute in attributes]
    types = [_PG_TYPES.get(attribute.type.name, "text") for attribute in attributes]
    return names, types, [tuple(row) for row in rows]


# --- SQLite ------------------------------------------------------------------------------


def _authorizer(tables: set[str]) -> Any:
    def decide(action: int, first: str | None, second: str | None, database: str | None, _trigger: str | None) -> int:
        if action == sqlite3.SQLITE_SELECT:
            return sqlite3.SQLITE_OK
        if action == sqlite3.SQLITE_READ:
            # count(*) reads with no database name; ATTACH is refused, so only "main" holds tables.
            return sqlite3.SQLITE_OK if database in ("main", None) and first in tables else sqlite3.SQLITE_DENY
        if action == sqlite3.SQLITE_FUNCTION:
            return sqlite3.SQLITE_OK if (second or "").lower() in ALLOWED_FUNCTIONS else sqlite3.SQLITE_DENY
        if action == sqlite3.SQLITE_RECURSIVE:
            return sqlite3.SQLITE_OK
        return sqlite3.SQLITE_DENY

    return decide


def _run_sqlite(path: str, sql: str, tables: set[str], timeout_ms: int) -> tuple[list[str], list[str], list[Any]]:
    uri = Path(path).resolve().as_uri() + "?mode=ro"
    try:
        connection = sqlite3.connect(uri, uri=True, timeout=5)
    except sqlite3.Error:
        raise _refused(N_("The query could not be run: %(reason)s"), reason="the datastore is not available") from None
    try:
        connection.execute("PRAGMA query_only = ON")
        connection.set_authorizer(_authorizer(tables))
        deadline = time.monotonic() + timeout_ms / 1000
        connection.set_progress_handler(lambda: int(time.monotonic() > deadline), 1000)
        try:
            cursor = connection.execute(sql)
            names = [column[0] for column in cursor.description or []]
            rows = cursor.fetchmany(MAX_ROWS + 1)
        except (sqlite3.ProgrammingError, sqlite3.Warning):
            raise _refused(N_("Send exactly one SELECT statement.")) from None
        except sqlite3.Error as error:
            if "interrupted" in str(error):
                raise _refused(N_("The query took longer than %(ms)s ms and was stopped."), ms=timeout_ms) from None
            if "not authorized" in str(error) or "prohibited" in str(error):
                raise _refused() from None  # the authorizer said no
            raise _refused(N_("The query could not be run: %(reason)s"), reason=str(error)[:300]) from None
    finally:
        connection.close()
    return names, [""] * len(names), rows


def _sqlite_types(names: list[str], _types: list[str], rows: list[Any], tables: dict[str, Allowed]) -> list[str]:
    """SQLite results carry no declared types: a column named as a field takes the field's type."""
    known: dict[str, set[str]] = {}
    for entry in tables.values():
        for name, kind in entry.fields.items():
            known.setdefault(name, set()).add(kind)
    types = []
    for position, name in enumerate(names):
        kinds = known.get(name, set())
        if len(kinds) == 1:
            types.append(next(iter(kinds)))
            continue
        sample = next((row[position] for row in rows if row[position] is not None), None)
        types.append("int" if isinstance(sample, int) else "numeric" if isinstance(sample, float) else "text")
    return types
