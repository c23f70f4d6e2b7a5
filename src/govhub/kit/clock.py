"""Time: stored in UTC, shown in Asia/Bangkok, with Buddhist-era years on Thai pages."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

BANGKOK = ZoneInfo("Asia/Bangkok")
BUDDHIST_ERA_OFFSET = 543

THAI_MONTHS_ABBR = (
    "ม.ค.", "ก.พ.", "มี.ค.", "เม.ย.", "พ.ค.", "มิ.ย.",
    "ก.ค.", "ส.ค.", "ก.ย.", "ต.ค.", "พ.ย.", "ธ.ค.",
)  # fmt: skip
ENGLISH_MONTHS_ABBR = (
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
)  # fmt: skip


def utcnow() -> datetime:
    """Return the current time as an aware UTC datetime."""
    return datetime.now(UTC)


def format_datetime(value: datetime | None, locale: str, *, with_time: bool = True) -> str:
    """Format a UTC time in Bangkok time: '23 พ.ย. 2569 14:05' or '23 Nov 2026 14:05'."""
    if value is None:
        return ""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    local = value.astimezone(BANGKOK)
    if locale == "th":
        text = f"{local.day} {THAI_MONTHS_ABBR[local.month - 1]} {local.year + BUDDHIST_ERA_OFFSET}"
    else:
        text = f"{local.day} {ENGLISH_MONTHS_ABBR[local.month - 1]} {local.year}"
    if with_time:
        text += f" {local:%H:%M}"
    return text


def format_day(value: date | str | None, locale: str) -> str:
    """A calendar day (or an ISO date string): '24 พ.ย. 2569' or '24 Nov 2026'."""
    if not value:
        return ""
    if isinstance(value, str):
        # A full timestamp is a moment: its day is the day in Bangkok.
        value = datetime.fromisoformat(value).astimezone(BANGKOK).date() if len(value) > 10 else date.fromisoformat(value)
    day = value
    if locale == "th":
        return f"{day.day} {THAI_MONTHS_ABBR[day.month - 1]} {day.year + BUDDHIST_ERA_OFFSET}"
    return f"{day.day} {ENGLISH_MONTHS_ABBR[day.month - 1]} {day.year}"
