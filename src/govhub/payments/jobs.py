"""Periodic jobs of e-Payment: open bills past their due time become expired."""

from __future__ import annotations

from huey import crontab

from govhub.db import unit_of_work
from govhub.jobs import _run_async, huey
from govhub.kit.observability import get_logger
from govhub.payments import bills

log = get_logger("govhub.payments")


async def expire_bills() -> int:
    """Expire every open bill past its due time; returns how many."""
    async with unit_of_work() as session:
        count = await bills.expire_overdue(session)
    if count:
        log.info("bills expired", count=count)
    return count


@huey.periodic_task(crontab(minute="7"), name="payments.expire_bills")
def _hourly_expiry() -> None:
    _run_async(expire_bills())
