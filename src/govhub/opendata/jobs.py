"""Background jobs of the open data platform's datastore: load a resource's file, drop its tables."""

from __future__ import annotations

from govhub.jobs import job
from govhub.opendata import datastore


@job(datastore.LOAD_JOB, retries=2, retry_delay=60)
async def load_datastore(resource_id: str) -> None:
    """Load (or reload) a tabular resource into the datastore; a file's faults end as "failed"."""
    try:
        await datastore.load_resource(resource_id)
    finally:
        # The job may run on a short-lived thread (immediate mode): do not leave its pool open.
        await datastore.dispose_datastore_engine()


@job(datastore.DROP_JOB, retries=5, retry_delay=30)
async def drop_datastore(resource_id: str) -> None:
    """Drop a deleted resource's datastore tables."""
    try:
        await datastore.drop_table(resource_id)
    finally:
        await datastore.dispose_datastore_engine()
