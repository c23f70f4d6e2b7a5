"""Bank-statement reconciliation: the bank's lines (Ref1, Ref2, amount, time) matched to recorded payments.

A statement only confirms money that callbacks already recorded: a line matches a payment of
its bill with the same amount and sets the payment's `reconciled_at`. It never credits or
changes a bill (money the bank shows without a callback is reported as `not_recorded` for
a finance officer to investigate), and each payment is confirmed by one line of one file.

A run imported from a finance officer's page sees only the bills of the agencies where the
officer holds the finance role; a line of another agency's bill is reported exactly as a
line whose bill does not exist. The run keeps that scope in `counts` (the table has no
agency column): `counts["agencies"]` lists the agencies it may be shown to, and
`counts["all_agencies"]` marks an operator's run from the command line.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from govhub.config import get_settings
from govhub.kit import i18n
from govhub.kit.clock import BANGKOK, BUDDHIST_ERA_OFFSET, format_datetime, utcnow
from govhub.kit.errors import Conflict, ValidationFailed
from govhub.kit.i18n import N_, gettext
from govhub.kit.ids import new_id
from govhub.payments.models import Bill, Payment, PaymentStatus, ReconciliationLine, ReconciliationRun

MAX_LINES = 100_000
MAX_AMOUNT_SATANG = 999_999_999_999
REF_MAX = 64
# Rows per query or insert: well under SQLite's and asyncpg's bound-parameter limits.
CHUNK = 500
COLUMNS = ("ref1", "ref2", "amount", "time")
HEADER_NAMES = {
    "ref1": "ref1", "ref2": "ref2", "amount": "amount", "time": "time",
    "อ้างอิง1": "ref1", "อ้างอิง2": "ref2", "จำนวนเงิน": "amount", "เวลา": "time",
}
META_KEYS = ("agencies", "all_agencies")

MATCHED = "matched"
ALREADY_RECONCILED = "already_reconciled"
DUPLICATE = "duplicate"
AMOUNT_MISMATCH = "amount_mismatch"
NOT_RECORDED = "not_recorded"
UNMATCHED = "unmatched"
INVALID = "invalid"
OUTCOME_LABELS = {
    MATCHED: N_("Matched"),
    ALREADY_RECONCILED: N_("Already reconciled"),
    DUPLICATE: N_("Duplicate line"),
    AMOUNT_MISMATCH: N_("Amount differs"),
    NOT_RECORDED: N_("Not recorded: no payment received"),
    UNMATCHED: N_("No such bill"),
    INVALID: N_("Invalid line"),
}
OUTCOMES = tuple(OUTCOME_LABELS)

# Payments a statement line may confirm: money that reached the bank, whatever became of it
# since (a refunded payment was still received first).
RECEIVED = (PaymentStatus.CREDITED, PaymentStatus.HELD, PaymentStatus.REFUNDED)

_AMOUNT = re.compile(r"^(\d{1,3}(,\d{3})+|\d+)(\.\d{1,2})?$")
_THAI_DATE = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})\s+(\d{1,2}):(\d{2})(?::(\d{2}))?$")
_ISO_YEAR = re.compile(r"^(\d{4})(-.*)$")


@dataclass(frozen=True)
class StatementLine:
    """One line of a bank statement as read; `problem` (a detail) is set when it cannot be used."""

    line_number: int
    ref1: str
    ref2: str
    amount_satang: int | None
    paid_at: datetime | None
    problem: str = ""

    @property
    def key(self) -> tuple[str, str, int | None, datetime | None]:
        """What makes two lines the same transfer."""
        return (self.ref1, self.ref2, self.amount_satang, self.paid_at)


@dataclass
class _Verdict:
    outcome: str
    detail: str = ""
    bill_id: str | None = None
    payment_id: str | None = None


# --- details: stored as a message id and its values, shown in the reader's language -------------


def detail(message: str, **params: Any) -> str:
    """A line's detail as stored: the untranslated message and its values, as JSON."""
    return json.dumps({"message": message, "params": params}, ensure_ascii=False)


def detail_text(stored: str) -> str:
    """A stored detail in the current language (text that is not a stored message is shown as is)."""
    try:
        parsed = json.loads(stored)
        return gettext(parsed["message"], **parsed.get("params", {}))
    except (ValueError, TypeError, KeyError):
        return stored


def baht(satang: int) -> str:
    """Satang as baht with separators: 200000 -> '2,000.00'."""
    whole, rest = divmod(satang, 100)
    return f"{whole:,}.{rest:02d}"


# --- reading the file ----------------------------------------------------------------------------


def parse_statement(data: bytes) -> list[StatementLine]:
    """The lines of a CSV statement; refuses a file that is too big, not CSV text or has no known header."""
    if len(data) > get_settings().max_statement_bytes:
        raise ValidationFailed(N_("The statement file is too large (at most 5 MB)."), field="statement")
    rows = _rows(_text(data))
    columns = _header(next(rows, None))
    lines = []
    for number, row in rows:
        if not any(cell.strip() for cell in row):
            continue
        if len(lines) >= MAX_LINES:
            raise ValidationFailed(N_("The statement has more than 100,000 lines; split it into smaller files."),
                                   field="statement")
        lines.append(_line(number, row, columns))
    return lines


def _text(data: bytes) -> str:
    """The file as text: UTF-8, with or without a byte-order mark, and no binary content."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise _not_csv() from None
    if "\x00" in text:
        raise _not_csv()
    return text


def _not_csv() -> ValidationFailed:
    return ValidationFailed(N_("The file is not a CSV text file (UTF-8)."), field="statement")


def _rows(text: str) -> Iterator[tuple[int, list[str]]]:
    """(line number, cells) of each CSV record."""
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        for row in reader:
            yield reader.line_num, row
    except csv.Error:
        raise _not_csv() from None


def _header(first: tuple[int, list[str]] | None) -> dict[str, int]:
    """Where each needed column is, from the header row (English or Thai names, any case or order)."""
    names = [HEADER_NAMES.get(cell.strip().lstrip("\ufeff").lower()) for cell in (first[1] if first else [])]
    columns = {name: index for index, name in reversed(list(enumerate(names))) if name}
    if set(columns) != set(COLUMNS):
        raise ValidationFailed(
            N_("The file has no header row ref1,ref2,amount,time (or อ้างอิง1,อ้างอิง2,จำนวนเงิน,เวลา)."),
            field="statement")
    return columns


def _line(number: int, row: list[str], columns: dict[str, int]) -> StatementLine:
    cells = {name: (row[index].strip() if index < len(row) else "") for name, index in columns.items()}
    ref1, ref2 = cells["ref1"].upper()[:REF_MAX], cells["ref2"].upper()[:REF_MAX]
    amount, amount_problem = _amount(cells["amount"])
    paid_at, time_problem = _time(cells["time"])
    problem = ("" if ref1 else detail(N_("Ref1 is missing."))) or amount_problem or time_problem
    return StatementLine(number, ref1, ref2, amount, paid_at, problem)


def _amount(text: str) -> tuple[int | None, str]:
    """Baht as written ('2000.00', '2,000.00') in satang, exactly; or why it is not an amount."""
    if not _AMOUNT.match(text):
        return None, detail(N_("The amount %(amount)s is not baht with at most two decimals."), amount=text[:40])
    try:
        satang = int(Decimal(text.replace(",", "")) * 100)
    except InvalidOperation:
        return None, detail(N_("The amount %(amount)s is not baht with at most two decimals."), amount=text[:40])
    if not 0 < satang <= MAX_AMOUNT_SATANG:
        return None, detail(N_("The amount must be more than zero and at most 9,999,999,999.99 baht."))
    return satang, ""


def _time(text: str) -> tuple[datetime | None, str]:
    """An ISO 8601 or DD/MM/YYYY HH:MM time (Buddhist-era years allowed; Bangkok time unless it says)."""
    try:
        moment = _thai_time(text) or _iso_time(text)
    except ValueError:
        moment = None
    if moment is None:
        return None, detail(N_("The time %(time)s is not ISO 8601 or DD/MM/YYYY HH:MM."), time=text[:40])
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=BANGKOK)
    return moment.astimezone(UTC), ""


def _gregorian(year: int) -> int:
    # Thai banks often print the Buddhist-era year (2569 for 2026).
    return year - BUDDHIST_ERA_OFFSET if year > 2400 else year


def _thai_time(text: str) -> datetime | None:
    found = _THAI_DATE.match(text)
    if not found:
        return None
    day, month, year, hour, minute, second = (int(part or 0) for part in found.groups())
    return datetime(_gregorian(year), month, day, hour, minute, second)


def _iso_time(text: str) -> datetime | None:
    found = _ISO_YEAR.match(text)
    if not found:
        return None
    return datetime.fromisoformat(f"{_gregorian(int(found.group(1))):04d}{found.group(2)}")


# --- matching ------------------------------------------------------------------------------------


async def reconcile(
    session: AsyncSession, *, data: bytes, filename: str, actor_id: str | None, agency_ids: set[str] | None,
) -> ReconciliationRun:
    """Import a statement once and match each line; agency_ids None sees every agency's bills."""
    lines = parse_statement(data)
    digest = hashlib.sha256(data).hexdigest()
    await _refuse_seen_file(session, digest)
    now = utcnow()
    run = ReconciliationRun(file_sha256=digest, filename=filename[:255], imported_at=now, imported_by=actor_id,
                            counts={})
    await _add_run(session, run)
    bills = await _bills_by_ref1(session, {line.ref1 for line in lines if not line.problem}, agency_ids)
    payments = await _payments_of(session, [bill.id for group in bills.values() for bill in group])
    earlier = await _earlier_runs(session, [p.id for group in payments.values() for p in group if p.reconciled_at])
    verdicts = _judge(lines, bills, payments, earlier)
    await _mark_reconciled(session, [v.payment_id for v in verdicts if v.outcome == MATCHED and v.payment_id], now)
    run.counts = _counts(verdicts, bills, agency_ids)
    await _add_lines(session, run, lines, verdicts)
    return run


async def _refuse_seen_file(session: AsyncSession, digest: str) -> None:
    earlier = await session.scalar(select(ReconciliationRun).where(ReconciliationRun.file_sha256 == digest))
    if earlier is not None:
        raise _seen_file(earlier.imported_at)


def _seen_file(imported_at: datetime) -> Conflict:
    when = format_datetime(imported_at, i18n.current_locale.get())
    return Conflict(N_("This statement file was already imported on %(date)s."), code="statement_imported",
                    date=when)


async def _add_run(session: AsyncSession, run: ReconciliationRun) -> None:
    """Record the run first: the digest's unique key refuses the same file imported at the same moment."""
    session.add(run)
    try:
        await session.flush()
    except IntegrityError:
        # The session must be rolled back now, as it is for every refusal (nothing is kept).
        raise _seen_file(run.imported_at) from None


def _chunks(values: list[str]) -> Iterator[list[str]]:
    for start in range(0, len(values), CHUNK):
        yield values[start:start + CHUNK]


async def _bills_by_ref1(session: AsyncSession, refs: set[str], agency_ids: set[str] | None) -> dict[str, list[Bill]]:
    """The bills the caller may see, by Ref1 (a bill of another agency is left out, as if it did not exist)."""
    found: dict[str, list[Bill]] = {}
    for chunk in _chunks(sorted(refs)):
        query = select(Bill).where(Bill.ref1.in_(chunk))
        if agency_ids is not None:
            query = query.where(Bill.agency_id.in_(sorted(agency_ids)))
        for bill in await session.scalars(query):
            found.setdefault(bill.ref1, []).append(bill)
    return found


async def _payments_of(session: AsyncSession, bill_ids: list[str]) -> dict[str, list[Payment]]:
    """Every received payment of these bills, by bill, oldest first."""
    found: dict[str, list[Payment]] = {}
    for chunk in _chunks(bill_ids):
        rows = await session.scalars(select(Payment).where(Payment.bill_id.in_(chunk), Payment.status.in_(RECEIVED))
                                     .order_by(Payment.paid_at, Payment.id))
        for payment in rows:
            found.setdefault(payment.bill_id, []).append(payment)
    return found


async def _earlier_runs(session: AsyncSession, payment_ids: list[str]) -> dict[str, datetime]:
    """When an earlier run confirmed each of these payments."""
    found: dict[str, datetime] = {}
    for chunk in _chunks(payment_ids):
        rows = await session.execute(
            select(ReconciliationLine.payment_id, ReconciliationRun.imported_at)
            .join(ReconciliationRun, ReconciliationRun.id == ReconciliationLine.run_id)
            .where(ReconciliationLine.payment_id.in_(chunk), ReconciliationLine.outcome == MATCHED))
        found.update({payment_id: imported_at for payment_id, imported_at in rows})
    return found


def _judge(
    lines: list[StatementLine], bills: dict[str, list[Bill]], payments: dict[str, list[Payment]],
    earlier: dict[str, datetime],
) -> list[_Verdict]:
    """Each line's verdict, in file order; a payment is claimed by one line at most."""
    seen: dict[tuple[Any, ...], int] = {}
    claimed: set[str] = set()
    verdicts = []
    for line in lines:
        if line.problem:
            verdicts.append(_Verdict(INVALID, line.problem))
        elif line.key in seen:
            verdicts.append(_Verdict(DUPLICATE, detail(N_("The same as line %(line)d."), line=seen[line.key])))
        else:
            seen[line.key] = line.line_number
            bill = _bill_of(line, bills)
            received = payments.get(bill.id, []) if bill else []
            verdicts.append(_verdict(line, bill, received, claimed, earlier))
    return verdicts


def _bill_of(line: StatementLine, bills: dict[str, list[Bill]]) -> Bill | None:
    """The bill the line quotes: its Ref1, and its Ref2 when the bank gave one (as callbacks check)."""
    return next((bill for bill in bills.get(line.ref1, []) if not line.ref2 or line.ref2 == bill.ref2), None)


def _verdict(
    line: StatementLine, bill: Bill | None, received: list[Payment], claimed: set[str], earlier: dict[str, datetime],
) -> _Verdict:
    if bill is None:
        return _Verdict(UNMATCHED, detail(N_("No bill has these references.")))
    free = [payment for payment in received if payment.id not in claimed]
    same = sorted((p for p in free if p.amount_satang == line.amount_satang), key=lambda p: _distance(p, line))
    # An unconfirmed payment first: a payment confirmed earlier is only "already reconciled" if none is left.
    payment = next((p for p in same if p.reconciled_at is None), None) or next(iter(same), None)
    if payment is not None:
        claimed.add(payment.id)
        return _confirmed(bill, payment, earlier)
    if free:
        recorded = ", ".join(baht(p.amount_satang) for p in free)
        return _Verdict(AMOUNT_MISMATCH, detail(
            N_("The statement says %(statement)s baht; the payment recorded for this bill is %(recorded)s baht."),
            statement=baht(line.amount_satang or 0), recorded=recorded), bill.id)
    return _Verdict(NOT_RECORDED, detail(
        N_("No payment of this bill was recorded for this money: check with the bank before doing anything.")),
        bill.id)


def _distance(payment: Payment, line: StatementLine) -> float:
    """How far apart the bank's time and the callback's are (the closest payment is the likeliest)."""
    if line.paid_at is None:
        return 0.0
    paid_at = payment.paid_at if payment.paid_at.tzinfo else payment.paid_at.replace(tzinfo=UTC)
    return abs((paid_at - line.paid_at).total_seconds())


def _confirmed(bill: Bill, payment: Payment, earlier: dict[str, datetime]) -> _Verdict:
    """Matched, or already confirmed by an earlier run."""
    if payment.reconciled_at is None:
        return _Verdict(MATCHED, "", bill.id, payment.id)
    when = earlier.get(payment.id, payment.reconciled_at).astimezone(BANGKOK)
    return _Verdict(ALREADY_RECONCILED, detail(
        N_("This payment was already confirmed by the statement imported on %(date)s."),
        date=f"{when:%Y-%m-%d %H:%M}"), bill.id, payment.id)


async def _mark_reconciled(session: AsyncSession, payment_ids: list[str], now: datetime) -> None:
    """Confirm the matched payments, unless another import confirmed one of them meanwhile."""
    for chunk in _chunks(payment_ids):
        result = await session.execute(
            update(Payment).where(Payment.id.in_(chunk), Payment.reconciled_at.is_(None)).values(reconciled_at=now))
        # A concurrent import of another statement got there first: its lines are the ones that count.
        if result.rowcount != len(chunk):  # type: ignore[attr-defined]
            raise Conflict(N_("Another statement was being imported at the same time; import this file again."),
                           code="reconcile_race")


def _counts(verdicts: Iterable[_Verdict], bills: dict[str, list[Bill]], agency_ids: set[str] | None) -> dict[str, Any]:
    """How many lines had each outcome, and whom the run may be shown to."""
    counts: dict[str, Any] = {outcome: 0 for outcome in OUTCOMES}
    counts.update(Counter(verdict.outcome for verdict in verdicts))
    if agency_ids is None:
        # An operator's run saw every agency: only finance officers of every agency it touched may read it.
        touched = {bill.agency_id for group in bills.values() for bill in group}
        counts.update(agencies=sorted(touched), all_agencies=True)
    else:
        counts.update(agencies=sorted(agency_ids), all_agencies=False)
    return counts


async def _add_lines(
    session: AsyncSession, run: ReconciliationRun, lines: list[StatementLine], verdicts: list[_Verdict],
) -> None:
    rows = [
        {"id": new_id(), "run_id": run.id, "line_number": line.line_number, "ref1": line.ref1, "ref2": line.ref2,
         "amount_satang": line.amount_satang, "paid_at": line.paid_at, "outcome": verdict.outcome,
         "detail": verdict.detail, "bill_id": verdict.bill_id, "payment_id": verdict.payment_id}
        for line, verdict in zip(lines, verdicts, strict=True)
    ]
    for start in range(0, len(rows), CHUNK):
        await session.execute(insert(ReconciliationLine), rows[start:start + CHUNK])
    await session.flush()


# --- reading runs --------------------------------------------------------------------------------


def outcome_counts(run: ReconciliationRun) -> dict[str, int]:
    """The run's count of each outcome, in the order they are reported."""
    return {outcome: int(run.counts.get(outcome, 0)) for outcome in OUTCOMES}


def may_read(run: ReconciliationRun, finance_agencies: set[str]) -> bool:
    """True if the reader is a finance officer of every agency whose bills the run could see."""
    agencies = set(run.counts.get("agencies") or [])
    return bool(agencies) and agencies <= finance_agencies


async def recent_runs(session: AsyncSession, finance_agencies: set[str], *, limit: int = 50) -> list[ReconciliationRun]:
    """The newest runs this finance officer may read."""
    # The scope lives in JSON, read the same way on SQLite and PostgreSQL: filtered here.
    rows = await session.scalars(select(ReconciliationRun).order_by(ReconciliationRun.imported_at.desc()).limit(1000))
    return [run for run in rows if may_read(run, finance_agencies)][:limit]


async def lines_of(
    session: AsyncSession, run: ReconciliationRun, *, outcome: str | None, limit: int,
) -> list[ReconciliationLine]:
    """The run's lines in file order, of one outcome if asked."""
    query = select(ReconciliationLine).where(ReconciliationLine.run_id == run.id)
    if outcome:
        query = query.where(ReconciliationLine.outcome == outcome)
    return list(await session.scalars(query.order_by(ReconciliationLine.line_number).limit(limit)))


async def problem_lines(session: AsyncSession, run: ReconciliationRun) -> list[ReconciliationLine]:
    """Every line of the run that did not match, in file order."""
    return list(await session.scalars(
        select(ReconciliationLine).where(ReconciliationLine.run_id == run.id, ReconciliationLine.outcome != MATCHED)
        .order_by(ReconciliationLine.line_number)))
