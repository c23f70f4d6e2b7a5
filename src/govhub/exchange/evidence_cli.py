"""`govhub evidence verify|checkpoint`: the evidence log checked and signed from the command line."""

from __future__ import annotations

import asyncio

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from govhub.db import dispose_engine, unit_of_work
from govhub.exchange import evidence
from govhub.exchange.evidence import VerifyReport

# How many problems the report lists; the rest are counted.
SHOWN_PROBLEMS = 20


async def _verify(progress: Progress) -> VerifyReport:
    task = progress.add_task("Verifying evidence records", total=None)

    def advance(done: int, total: int) -> None:
        progress.update(task, completed=done, total=total)

    try:
        async with unit_of_work() as session:
            return await evidence.verify_log(session, progress=advance)
    finally:
        await dispose_engine()  # this thread's pool was made for this event loop only


def verify(console: Console) -> int:
    """Verify the whole log and print a report; 0 when it is intact, 1 naming the first bad record."""
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
    )
    with Progress(
        *columns, console=console, transient=True, disable=not console.is_terminal
    ) as progress:
        report = asyncio.run(_verify(progress))
    console.print(_summary(report))
    if report.ok:
        console.print("[bold green]Evidence log intact.[/bold green]")
        return 0
    _print_problems(console, report)
    return 1


def _summary(report: VerifyReport) -> Table:
    table = Table(title="govhub evidence verify", show_header=False)
    table.add_column("what")
    table.add_column("value", justify="right")
    table.add_row("log size (records)", f"{report.log_size:,}")
    table.add_row("records read and rehashed", f"{report.records:,}")
    table.add_row("checkpoints checked", f"{report.checkpoints:,}")
    table.add_row("checkpoint signatures valid", f"{report.signatures_ok:,}")
    table.add_row("time", f"{report.seconds:.2f} s")
    table.add_row("rate", f"{report.rate:,.0f} records/s")
    return table


def _print_problems(console: Console, report: VerifyReport) -> None:
    first = report.first_bad_record
    if first is not None:
        console.print(f"[bold red]First bad record: {first.seq}[/bold red] - {first.message}")
    console.print(
        f"[red]{report.bad_records} bad record(s), {len(report.problems)} problem(s) listed:[/red]"
    )
    for problem in report.problems[:SHOWN_PROBLEMS]:
        console.print(f"  [red]x[/red] {problem.message}")
    if len(report.problems) > SHOWN_PROBLEMS:
        console.print(f"  ... and {len(report.problems) - SHOWN_PROBLEMS} more")


async def _checkpoint() -> evidence.EvidenceCheckpoint:
    try:
        async with unit_of_work() as session:
            return await evidence.publish_checkpoint(session)
    finally:
        await dispose_engine()


def checkpoint(console: Console) -> int:
    """Publish a signed checkpoint of the log's current size and print it."""
    try:
        published = asyncio.run(_checkpoint())
    except evidence.EvidenceLogDamaged as error:
        console.print(
            f"[bold red]Not signed: the log is damaged ({error.code}). Run: govhub evidence verify[/bold red]"
        )
        return 1
    console.print(
        f"[green]Checkpoint of {published.tree_size:,} records, signed by key {published.key_id}:[/green]"
    )
    console.print(evidence.signed_note(published), markup=False, highlight=False, end="")
    return 0
