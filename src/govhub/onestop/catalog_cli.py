"""`govhub catalog load`: public services from YAML into the catalog, with a report."""

from __future__ import annotations

import asyncio
from pathlib import Path

from rich.console import Console
from rich.table import Table

from govhub.db import dispose_engine, unit_of_work
from govhub.onestop import catalog


async def _load(paths: list[Path]) -> catalog.LoadReport:
    documents = catalog.read_paths(paths)  # every file is checked before anything is written
    try:
        async with unit_of_work() as session:
            return await catalog.load(session, documents)
    finally:
        await dispose_engine()  # this thread's pool was made for this event loop only


def load(console: Console, paths: list[Path]) -> int:
    """Load the files (the demo catalog if none); 0 on success, 1 naming the bad file."""
    missing = [path for path in paths if not path.exists()]
    if missing:
        console.print(f"[red]No such file or directory: {missing[0]}[/red]")
        return 1
    try:
        report = asyncio.run(_load(paths or [catalog.DEMO_CATALOG]))
    except catalog.CatalogError as error:
        console.print(f"[red]Nothing was loaded. {error}[/red]")
        return 1
    table = Table(title="Catalog load")
    table.add_column("outcome")
    table.add_column("services")
    for outcome in ("created", "updated", "unchanged", "agencies_created"):
        codes = getattr(report, outcome)
        table.add_row(outcome.replace("_", " "), f"{len(codes)}: " + ", ".join(codes) if codes else "0")
    console.print(table)
    return 0
