"""Time: stored in UTC, shown in Asia/Bangkok, with Buddhist-era years on Thai pages."""

from __future__ import annotations

from datetime import UTC, datetime
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
