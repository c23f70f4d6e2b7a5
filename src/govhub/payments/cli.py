"""`govhub payments reconcile FILE`: a bank statement matched from the command line (or a cron job).

Exit codes: 0 every line matched, 1 some line needs a finance officer's attention, 2 the file
was refused (not a statement, too large, imported before).
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from govhub.kit import i18n
from govhub.kit.errors import AppError

if TYPE_CHECKING:
    from govhub.payments.models import ReconciliationLine

payments_app = typer.Typer(help="e-Payment: bank-statement reconciliation", no_args_is_help=True)
console = Console()
ALL_MATCHED, NEEDS_ATTENTION, REFUSED = 0, 1, 2


@payments_app.command("reconcile")
def reconcile_command(
    file: Annotated[Path, typer.Argument(help="The bank's CSV statement: ref1,ref2,amount,time",
                                         exists=True, dir_okay=False, readable=True)],
) -> None:
    """Import a bank statement, match its lines to payments and list every line that did not match."""
    raise typer.Exit(run_reconcile(console, file))


def run_reconcile(out: Console, file: Path) -> int:
    """Reconcile the file for every agency and print the report; returns the exit code."""
    # The command's tables are in English; the stored details are shown in the same language.
    i18n.current_locale.set("en")
    try:
        report = asyncio.run(_reconcile(file))
    except AppError as error:
        out.print(f"[red]Refused: {error.translated()}[/red]")
        return REFUSED
    counts, lines = report
    out.print(_counts_table(file.name, counts))
    if lines:
        out.print(_lines_table(lines))
    return ALL_MATCHED if not lines else NEEDS_ATTENTION


async def _reconcile(file: Path) -> tuple[dict[str, int], list[tuple[str, ...]]]:
    """Run the import in one transaction; the rows printed are read before the session closes."""
    from govhub.db import dispose_engine, unit_of_work
    from govhub.payments import reconcile

    try:
        async with unit_of_work() as session:
            run = await reconcile.reconcile(session, data=file.read_bytes(), filename=file.name, actor_id=None,
                                            agency_ids=None)
            problems = await reconcile.problem_lines(session, run)
            return reconcile.outcome_counts(run), [_row(line) for line in problems]
    finally:
        await dispose_engine()  # this thread's pool was made for this event loop only


def _row(line: ReconciliationLine) -> tuple[str, ...]:
    from govhub.payments.reconcile import baht, detail_text

    amount = baht(line.amount_satang) if line.amount_satang is not None else ""
    return (str(line.line_number), line.ref1, line.ref2, amount, line.outcome, detail_text(line.detail))


def _counts_table(filename: str, counts: dict[str, int]) -> Table:
    table = Table(title=f"govhub payments reconcile {filename}")
    table.add_column("outcome")
    table.add_column("lines", justify="right")
    for outcome, count in counts.items():
        table.add_row(outcome, f"{count:,}")
    table.add_row("total", f"{sum(counts.values()):,}", style="bold")
    return table


def _lines_table(rows: list[tuple[str, ...]]) -> Table:
    table = Table(title="Lines that did not match")
    for name, justify in (("line", "right"), ("ref1", "left"), ("ref2", "left"), ("amount (baht)", "right"),
                          ("outcome", "left"), ("detail", "left")):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    for row in rows:
        # Cells come from the bank's file: as plain text, never as rich markup.
        table.add_row(*(Text(cell) for cell in row))
    return table
