"""`govhub opendata ...`: the Open Data Platform's commands.

`govhub opendata harvest URL` exits 0 when every record went in, 1 when some record failed
(the others are kept), and 2 when the source could not be read.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

if TYPE_CHECKING:
    from govhub.opendata.harvest import HarvestReport

opendata_app = typer.Typer(help="Open Data Platform: harvest other catalogs, rebuild the search index.", no_args_is_help=True)
console = Console()
MAX_WARNINGS_SHOWN = 50


@opendata_app.command("harvest")
def harvest_command(
    url: Annotated[str, typer.Argument(help="A CKAN site (https://data.go.th) or a DCAT catalog (.jsonld, .ttl, .rdf)")],
    organization: Annotated[str | None, typer.Option(
        help="Put every dataset into this local organization (default: the remote organizations, created as needed)")] = None,
    since: Annotated[str | None, typer.Option(
        help="Only CKAN datasets changed since this ISO date or time (default: the newest change already harvested)")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Say what would change, change nothing")] = False,
) -> None:
    """Import datasets from another CKAN portal or a DCAT catalog, and keep them in step."""
    raise typer.Exit(run_harvest(console, url, organization=organization, since=since, dry_run=dry_run))


@opendata_app.command("reindex")
def reindex_command() -> None:
    """Rewrite the search index of every dataset (after an upgrade, or to repair it)."""
    from govhub.opendata.service import reindex_catalog

    async def run() -> int:
        from govhub.db import dispose_engine

        try:
            return await reindex_catalog()
        finally:
            await dispose_engine()

    console.print(f"{asyncio.run(run()):,} datasets reindexed; the in-memory search engine can use them")


def run_harvest(out: Console, url: str, *, organization: str | None = None, since: str | None = None,
                dry_run: bool = False) -> int:
    """Run one harvest and print its report; returns the exit code."""
    from govhub.opendata.harvest import parse_time

    since_time = parse_time(since) if since else None
    if since and since_time is None:
        out.print(Text(f"--since {since!r} is not an ISO date or date and time", style="red"))
        return 2
    report = asyncio.run(_harvest(url, organization=organization, since=since_time, dry_run=dry_run))
    print_report(out, report)
    return report.exit_code


async def _harvest(url: str, **options: object) -> HarvestReport:
    from govhub.db import dispose_engine
    from govhub.opendata.harvest import harvest

    try:
        return await harvest(url, **options)  # type: ignore[arg-type]
    finally:
        await dispose_engine()  # this thread's pool was made for this event loop only


def print_report(out: Console, report: HarvestReport) -> None:
    """The counts, the failures and the warnings of a run (remote text printed as text, never markup)."""
    if report.error:
        out.print(Text(f"Could not read {report.source}: {report.error}", style="red"))
    title = f"govhub opendata harvest {report.source}" + (" (dry run: nothing changed)" if report.dry_run else "")
    table = Table(title=Text(title))
    table.add_column("outcome")
    table.add_column("datasets", justify="right")
    for outcome, count in report.counts.items():
        table.add_row(outcome, f"{count:,}", style="red" if outcome == "failed" and count else None)
    out.print(table)
    if report.kind:
        out.print(f"source type: {report.kind}")
    if report.failures:
        failures = Table(title="Records that failed")
        for name in ("remote id", "name", "reason"):
            failures.add_column(name)
        for problem in report.failures:
            failures.add_row(Text(problem.remote_id), Text(problem.name), Text(problem.message))
        out.print(failures)
    if report.warnings:
        warnings = Table(title=f"Changed on the way in ({len(report.warnings)})")
        for name in ("name", "warning"):
            warnings.add_column(name)
        for problem in report.warnings[:MAX_WARNINGS_SHOWN]:
            warnings.add_row(Text(problem.name), Text(problem.message))
        out.print(warnings)
        if len(report.warnings) > MAX_WARNINGS_SHOWN:
            out.print(f"... and {len(report.warnings) - MAX_WARNINGS_SHOWN} more warnings")
