"""Aggregate numbers about applications, for the public and the back office: counts only, nothing personal.

The counts describe a cohort: the applications submitted in a period (Bangkok calendar days),
as they stand now. So every number of a row is about the same applications: how many were
submitted, how many are still in progress or completed, approved, refused, withdrawn or
sent back once, and how many are overdue (not final, and the current state's time limit has
passed). A manual does not say which final states are successes; by the catalog's convention
`rejected` is a refusal, `withdrawn` a withdrawal, and every other final state a grant.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, fields
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import and_, case, exists, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from govhub.kit.clock import BANGKOK, utcnow
from govhub.onestop.models import Application, ApplicationEvent

TIMEFRAMES = ("day", "week", "month", "year")
GROUPINGS = ("service", "agency")
REFUSED_STATES = ("rejected",)
WITHDRAWN_STATES = ("withdrawn",)


@dataclass(frozen=True)
class Counts:
    """What happened to one cohort of submitted applications."""

    submitted: int = 0
    in_progress: int = 0
    completed: int = 0
    approved: int = 0
    rejected: int = 0
    withdrawn: int = 0
    sent_back: int = 0
    overdue: int = 0

    def __add__(self, other: Counts) -> Counts:
        return Counts(**{item.name: getattr(self, item.name) + getattr(other, item.name) for item in fields(self)})


@dataclass(frozen=True)
class StatisticsQuery:
    """Which applications to count (inclusive Bangkok dates) and how to split the counts."""

    start: date | None = None
    end: date | None = None
    service_ids: tuple[str, ...] | None = None  # None: every service
    agency_id: str | None = None
    role: str | None = None  # only applications someone acted on in this role
    timeframe: str | None = None  # one of TIMEFRAMES: a row per period
    group_by: str | None = None  # one of GROUPINGS: a row per service or agency


@dataclass(frozen=True)
class StatisticsRow:
    """The counts of one period and/or one service or agency (None: not split that way)."""

    counts: Counts
    period_start: date | None = None
    period_end: date | None = None
    service_id: str | None = None
    agency_id: str | None = None


def is_refusal(state_code: str) -> bool:
    """True for a final state that ends an application without a grant."""
    return state_code in REFUSED_STATES or state_code in WITHDRAWN_STATES


async def application_statistics(
    session: AsyncSession, query: StatisticsQuery, *, now: datetime | None = None,
) -> list[StatisticsRow]:
    """The counts, one row per period and group; a single total row when not split at all."""
    keys = _group_keys(session, query)
    statement = select(*keys.values(), *_count_columns(now or utcnow())).where(*_conditions(query))
    if keys:
        statement = statement.group_by(*keys.values())
    rows: dict[tuple[Any, ...], Counts] = defaultdict(Counts)
    for row in (await session.execute(statement)).mappings():
        period = _period(_as_date(row["day"]), query) if "day" in row else (query.start, query.end)
        group = (row.get("service_id"), row.get("agency_id"))
        rows[(*period, *group)] += _counts(row)
    return [
        StatisticsRow(counts, period_start=start, period_end=end, service_id=service_id, agency_id=agency_id)
        for (start, end, service_id, agency_id), counts in sorted(rows.items(), key=lambda item: _sort_key(item[0]))
    ]


def _group_keys(session: AsyncSession, query: StatisticsQuery) -> dict[str, Any]:
    keys: dict[str, Any] = {}
    if query.timeframe:
        keys["day"] = _bangkok_day(session, Application.submitted_at).label("day")
    if query.group_by == "service":
        keys["service_id"] = Application.service_id
    elif query.group_by == "agency":
        keys["agency_id"] = Application.agency_id
    return keys


def _bangkok_day(session: AsyncSession, column: Any) -> Any:
    """The Bangkok calendar day of a UTC time, in SQL (Bangkok keeps UTC+7 all year)."""
    if session.get_bind().dialect.name == "postgresql":
        return func.date(func.timezone("Asia/Bangkok", column))
    return func.date(column, "+7 hours")


def _count_if(condition: Any) -> Any:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def _count_columns(now: datetime) -> list[Any]:
    final, open_ = Application.is_final.is_(True), Application.is_final.is_(False)
    return [
        func.count().label("submitted"),
        _count_if(open_).label("in_progress"),
        _count_if(final).label("completed"),
        _count_if(and_(final, Application.state.in_(REFUSED_STATES))).label("rejected"),
        _count_if(and_(final, Application.state.in_(WITHDRAWN_STATES))).label("withdrawn"),
        _count_if(Application.returned_count > 0).label("sent_back"),
        _count_if(and_(open_, Application.due_at < now)).label("overdue"),
    ]


def _conditions(query: StatisticsQuery) -> list[Any]:
    conditions: list[Any] = [Application.submitted_at.is_not(None)]
    if query.start:
        conditions.append(Application.submitted_at >= _bangkok_midnight(query.start))
    if query.end:
        conditions.append(Application.submitted_at < _bangkok_midnight(query.end + timedelta(days=1)))
    if query.service_ids is not None:
        conditions.append(Application.service_id.in_(query.service_ids))
    if query.agency_id:
        conditions.append(Application.agency_id == query.agency_id)
    if query.role:
        conditions.append(exists().where(
            ApplicationEvent.application_id == Application.id, ApplicationEvent.actor_role == query.role))
    return conditions


def _bangkok_midnight(day: date) -> datetime:
    return datetime.combine(day, time(), BANGKOK).astimezone(UTC)


def _counts(row: Any) -> Counts:
    completed, rejected, withdrawn = int(row["completed"]), int(row["rejected"]), int(row["withdrawn"])
    return Counts(
        submitted=int(row["submitted"]), in_progress=int(row["in_progress"]), completed=completed,
        approved=completed - rejected - withdrawn, rejected=rejected, withdrawn=withdrawn,
        sent_back=int(row["sent_back"]), overdue=int(row["overdue"]),
    )


def _as_date(value: Any) -> date:
    # SQLite answers date() with text, PostgreSQL with a date.
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def _period(day: date, query: StatisticsQuery) -> tuple[date, date]:
    """The day's period in the query's timeframe, cut to the query's dates."""
    if query.timeframe == "week":
        start = day - timedelta(days=day.weekday())
        end = start + timedelta(days=6)
    elif query.timeframe == "month":
        start = day.replace(day=1)
        end = (start + timedelta(days=32)).replace(day=1) - timedelta(days=1)
    elif query.timeframe == "year":
        start, end = date(day.year, 1, 1), date(day.year, 12, 31)
    else:
        start = end = day
    return max(start, query.start or start), min(end, query.end or end)


def _sort_key(key: tuple[Any, ...]) -> tuple[Any, ...]:
    # None (not split) first; values of one position are all of one type, so they compare.
    return tuple((value is not None, value) for value in key)
