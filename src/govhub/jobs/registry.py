"""Import every context's jobs module so the worker knows every job name."""

from __future__ import annotations

import importlib

JOB_MODULES = (
    "govhub.identity.jobs",
    "govhub.exchange.jobs",
    "govhub.onestop.notices",
    "govhub.notify.delivery",
    "govhub.payments.jobs",
    "govhub.documents.issuing",
    "govhub.opendata.quality",
    "govhub.opendata.jobs",
)


def load_all_jobs() -> None:
    """Register every context's jobs with Huey."""
    for module in JOB_MODULES:
        importlib.import_module(module)
