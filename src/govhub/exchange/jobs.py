"""Exchange background jobs: the evidence log's signed checkpoints, every five minutes."""

from __future__ import annotations

from huey import crontab

from govhub.db import unit_of_work
from govhub.exchange import evidence
from govhub.jobs import _run_async, huey, job
from govhub.kit.observability import get_logger

log = get_logger("govhub.exchange.jobs")


@job("exchange.publish_checkpoint")
async def publish_checkpoint() -> None:
    """Sign the evidence tree at its current size (idempotent: same size, no new checkpoint)."""
    async with unit_of_work() as session:
        checkpoint = await evidence.publish_checkpoint(session)
    log.info("evidence checkpoint", tree_size=checkpoint.tree_size, root_hash=checkpoint.root_hash)


@huey.periodic_task(crontab(minute="*/5"), name="exchange.publish_checkpoint.periodic")
def _periodic_checkpoint() -> None:
    # The worker thread's own event loop and engine, as for every job (see govhub.jobs).
    _run_async(publish_checkpoint())
