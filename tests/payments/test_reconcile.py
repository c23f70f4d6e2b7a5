"""Bank-statement reconciliation: reading the file, matching lines to payments, the CLI and the finance pages."""

from __future__ import annotations

import asyncio
import csv
import io
import secrets
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import typer
from rich.console import Console
from sqlalchemy import func, select
from typer.testing import CliRunner

from govhub import jobs
from govhub.db import unit_of_work
from govhub.identity import repository as identity_repository
from govhub.identity.demo import load_demo_identity
from govhub.identity.models import OfficerRole
from govhub.kit import i18n
from govhub.kit.clock import BANGKOK, utcnow
from govhub.kit.errors import Conflict, ValidationFailed
from govhub.kit.ids import new_id
from govhub.payments import bills, callbacks, reconcile
from govhub.payments.cli import payments_app
from govhub.payments.models import (
    Bill,
    BillStatus,
    Payment,
    PaymentStatus,
    ReceivingAccount,
    ReconciliationLine,
    ReconciliationRun,
)
from tests import factories as f
from tests.onestop.conftest import officer_of

PAGE = "/backoffice/payments/reconcile"


@pytest.fixture(scope="module")
async def agencies() -> dict[str, str]:
    """The demo agencies' ids by code (loading the demo is idempotent)."""
    async with unit_of_work() as session:
        await load_demo_identity(session)
    async with unit_of_work() as session:
        found = {code: await identity_repository.agency_by_code(session, code) for code in ("NBM", "DOPA")}
    return {code: agency.id for code, agency in found.items() if agency is not None}


@pytest.fixture(autouse=True)
def receipt_job(monkeypatch: pytest.MonkeyPatch) -> None:
    """A credit enqueues the e-receipt job: issuing receipts is tested with documents, here it does nothing."""
    monkeypatch.setitem(jobs._registry, callbacks.RECEIPT_JOB, lambda **payload: None)


# --- arranging bills, payments and statements ---------------------------------------------------


async def _bill(agency_id: str, amount: int = 200_000) -> Bill:
    """An open bill of the agency, paid to an account of its own."""
    async with unit_of_work() as session:
        if await session.scalar(select(ReceivingAccount.id).where(ReceivingAccount.agency_id == agency_id)) is None:
            session.add(ReceivingAccount(
                agency_id=agency_id, kind="agency", name_th="บัญชีทดสอบ", name_en="Test account", bank_code="006",
                account_number="1234567890", biller_id=f"{secrets.randbelow(10**15):015d}"))
            await session.flush()
        return await bills.open_bill(
            session, agency_id=agency_id, payer_account_id=None, payer_name="สมหญิง ทดสอบ",
            fees=[bills.Fee("ค่าธรรมเนียม", "Fee", amount)], description_th="ทดสอบ", description_en="Test",
            ref2=new_id()[:8])


async def _pay(bill: Bill, amount: int | None = None, paid_at: datetime | None = None) -> str:
    """Money for the bill reported by the bank's verified callback; returns what the callback did."""
    notice = callbacks.Notice(
        event_id=new_id(), transaction_id=new_id(), status="paid", ref1=bill.ref1, ref2=bill.ref2,
        amount_satang=bill.amount_satang if amount is None else amount, paid_at=paid_at or utcnow())
    async with unit_of_work() as session:
        outcome = await callbacks.apply_notice(session, provider="bank", notice=notice, body_sha256="0" * 64)
    return outcome.code


def _line(bill: Bill | None, amount: str = "2,000.00", minutes: int = 0, ref1: str = "") -> list[str]:
    """A statement row for the bill, at a time of its own (Bangkok time, as banks print it)."""
    when = (utcnow() + timedelta(minutes=minutes)).astimezone(BANGKOK).replace(tzinfo=None)
    return [ref1 or (bill.ref1 if bill else ""), bill.ref2 if bill else "", amount, when.isoformat(timespec="seconds")]


def _statement(*rows: list[str], header: tuple[str, ...] = ("ref1", "ref2", "amount", "time")) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode()


async def _reconcile(data: bytes, agency_ids: set[str] | None = None) -> ReconciliationRun:
    async with unit_of_work() as session:
        return await reconcile.reconcile(session, data=data, filename="statement.csv", actor_id=None,
                                         agency_ids=agency_ids)


async def _lines(run_id: str) -> list[ReconciliationLine]:
    async with unit_of_work() as session:
        return list(await session.scalars(select(ReconciliationLine).where(ReconciliationLine.run_id == run_id)
                                          .order_by(ReconciliationLine.line_number)))


async def _payments(bill_id: str) -> list[Payment]:
    async with unit_of_work() as session:
        return list(await session.scalars(select(Payment).where(Payment.bill_id == bill_id).order_by(Payment.paid_at)))


async def _reload(bill: Bill) -> Bill:
    async with unit_of_work() as session:
        fresh = await session.get(Bill, bill.id)
        assert fresh is not None
        return fresh


def _english(stored: str) -> str:
    """A stored detail as an English reader sees it (outside a request the language is Thai)."""
    token = i18n.current_locale.set("en")
    try:
        return reconcile.detail_text(stored)
    finally:
        i18n.current_locale.reset(token)


def _outcomes(lines: list[ReconciliationLine]) -> list[str]:
    return [line.outcome for line in lines]


# --- reading the file ---------------------------------------------------------------------------------


def test_reads_thai_headers_a_bom_quoted_baht_and_buddhist_era_times():
    data = "\ufeffอ้างอิง1,อ้างอิง2,จำนวนเงิน,เวลา\r\n256900000011,abc1,\"2,000.00\",23/11/2569 14:05\r\n".encode()
    [line] = reconcile.parse_statement(data)
    assert (line.line_number, line.ref1, line.ref2, line.amount_satang) == (2, "256900000011", "ABC1", 200_000)
    assert line.paid_at == datetime(2026, 11, 23, 14, 5, tzinfo=BANGKOK)
    assert not line.problem


def test_amounts_are_exact_satang_and_times_iso_8601():
    data = _statement(["2026-11-23T07:05:00Z", "0.07", "", "1"], ["2569-11-23 14:05", "1234567.89", "", "2"],
                      header=("TIME", "Amount", "Ref2", "REF1"))
    first, second = reconcile.parse_statement(data)
    assert (first.ref1, first.amount_satang, second.amount_satang) == ("1", 7, 123_456_789)
    assert first.paid_at == second.paid_at == datetime(2026, 11, 23, 14, 5, tzinfo=BANGKOK)


@pytest.mark.parametrize("row, reason", [
    (["", "", "100.00", "2026-11-23T10:00"], "Ref1 is missing."),
    (["1", "", "12.345", "2026-11-23T10:00"], "The amount 12.345 is not baht with at most two decimals."),
    (["1", "", "-5.00", "2026-11-23T10:00"], "The amount -5.00 is not baht with at most two decimals."),
    (["1", "", "0.00", "2026-11-23T10:00"], "The amount must be more than zero and at most 9,999,999,999.99 baht."),
    (["1", "", "5.00", "yesterday"], "The time yesterday is not ISO 8601 or DD/MM/YYYY HH:MM."),
    (["1", "", "5.00", "31/02/2026 10:00"], "The time 31/02/2026 10:00 is not ISO 8601 or DD/MM/YYYY HH:MM."),
])
def test_a_line_that_cannot_be_read_is_kept_with_the_reason(row, reason):
    [line] = reconcile.parse_statement(_statement(row))
    assert line.amount_satang is None or line.paid_at is None or not line.ref1
    assert _english(line.problem) == reason


@pytest.mark.parametrize("data, message", [
    (b"\x89PNG\r\n\x1a\n\x00\x00", "not a CSV text file"),
    ("ref1;ref2;amount;time\n1;2;3;4\n".encode(), "no header row"),
    (b"", "no header row"),
    (b'ref1,ref2,amount,time\n"1,2,3', "not a CSV text file"),
    (b"ref1,ref2,amount,time\n" + b"1,2,1.00,2026-01-01\n" * 100_001, "more than 100,000 lines"),
    (b"ref1,ref2,amount,time\n" + b"#" * (5 * 1024 * 1024), "too large"),
])
def test_refuses_a_file_that_is_not_a_statement(data, message):
    with pytest.raises(ValidationFailed) as refused:
        reconcile.parse_statement(data)
    assert message in str(refused.value) and refused.value.field == "statement"


# --- matching --------------------------------------------------------------------------------------


async def test_a_clean_statement_matches_every_payment_and_changes_no_bill(agencies):
    paid = [await _bill(agencies["NBM"]), await _bill(agencies["DOPA"], 15_050)]
    for bill in paid:
        assert await _pay(bill) == "credited"
    before = [await _reload(bill) for bill in paid]
    run = await _reconcile(_statement(_line(paid[0]), _line(paid[1], "150.50", minutes=1)))
    assert reconcile.outcome_counts(run) == {**{o: 0 for o in reconcile.OUTCOMES}, "matched": 2}
    assert run.counts["all_agencies"] is True and set(run.counts["agencies"]) == set(agencies.values())
    lines = await _lines(run.id)
    assert _outcomes(lines) == ["matched", "matched"]
    for bill, old, line in zip(paid, before, lines, strict=True):
        [payment] = await _payments(bill.id)
        assert payment.reconciled_at is not None and (line.payment_id, line.bill_id) == (payment.id, bill.id)
        fresh = await _reload(bill)
        assert (fresh.status, fresh.version, fresh.paid_at) == (BillStatus.PAID, old.version, old.paid_at)


async def test_reports_duplicates_mismatches_unknown_refs_unpaid_bills_and_invalid_lines(agencies):
    paid, short, unpaid = [await _bill(agencies["NBM"]) for _ in range(3)]
    assert await _pay(paid) == "credited"
    assert await _pay(short, amount=150_000) == "amount_mismatch"  # held, the bill stays open
    again = _line(paid)
    run = await _reconcile(_statement(
        again, again, _line(short, "2,000.00", minutes=1), _line(None, ref1="9999999999999", minutes=2),
        _line(unpaid, minutes=3), [paid.ref1, paid.ref2, "two thousand", "2026-11-23 10:00"]))
    lines = await _lines(run.id)
    assert _outcomes(lines) == ["matched", "duplicate", "amount_mismatch", "unmatched", "not_recorded", "invalid"]
    details = [_english(line.detail) for line in lines]
    assert details[1] == "The same as line 2."
    assert "2,000.00" in details[2] and "1,500.00" in details[2]
    assert "two thousand" in details[5]
    counts = reconcile.outcome_counts(run)
    assert counts["matched"] == 1 and counts["not_recorded"] == 1 and sum(counts.values()) == 6
    # Money at the bank without a callback credits nothing: the bill stays open, no payment appears.
    assert (await _reload(unpaid)).status == BillStatus.OPEN and await _payments(unpaid.id) == []
    [held] = await _payments(short.id)
    assert held.reconciled_at is None and (await _reload(short)).status == BillStatus.OPEN


async def test_the_same_file_twice_is_refused_and_changes_nothing(agencies):
    bill = await _bill(agencies["NBM"])
    await _pay(bill)
    data = _statement(_line(bill))
    first = await _reconcile(data)
    [payment] = await _payments(bill.id)
    with pytest.raises(Conflict) as refused:
        await _reconcile(data)
    assert "already imported on" in str(refused.value)
    async with unit_of_work() as session:
        runs = await session.scalar(select(func.count()).select_from(ReconciliationRun)
                                    .where(ReconciliationRun.file_sha256 == first.file_sha256))
    assert runs == 1 and len(await _lines(first.id)) == 1
    assert [p.reconciled_at for p in await _payments(bill.id)] == [payment.reconciled_at]


async def test_a_payment_confirmed_by_an_earlier_statement_is_already_reconciled(agencies):
    bill = await _bill(agencies["NBM"])
    await _pay(bill)
    await _reconcile(_statement(_line(bill)))
    [payment] = await _payments(bill.id)
    later = await _reconcile(_statement(_line(bill, minutes=1)))
    [line] = await _lines(later.id)
    assert (line.outcome, line.payment_id) == ("already_reconciled", payment.id)
    assert "already confirmed by the statement imported on" in _english(line.detail)
    assert [p.reconciled_at for p in await _payments(bill.id)] == [payment.reconciled_at]


async def test_a_double_payment_is_matched_line_by_line_and_the_bill_credited_once(agencies):
    bill = await _bill(agencies["NBM"])
    assert [await _pay(bill), await _pay(bill)] == ["credited", "already_paid"]
    run = await _reconcile(_statement(_line(bill), _line(bill, minutes=1), _line(bill, minutes=2)))
    lines = await _lines(run.id)
    assert _outcomes(lines) == ["matched", "matched", "not_recorded"]
    payments = await _payments(bill.id)
    assert {p.status for p in payments} == {PaymentStatus.CREDITED, PaymentStatus.HELD}
    assert {line.payment_id for line in lines[:2]} == {p.id for p in payments}
    assert all(p.reconciled_at is not None for p in payments)
    fresh = await _reload(bill)
    assert fresh.status == BillStatus.PAID and fresh.version == 2  # opened once, credited once


async def test_an_agencys_import_sees_only_its_own_bills(agencies):
    theirs = await _bill(agencies["NBM"])
    await _pay(theirs)
    run = await _reconcile(_statement(_line(theirs), _line(None, ref1="8888888888888")), {agencies["DOPA"]})
    lines = await _lines(run.id)
    assert _outcomes(lines) == ["unmatched", "unmatched"]
    assert lines[0].detail == lines[1].detail and lines[0].bill_id is None
    assert run.counts["agencies"] == [agencies["DOPA"]] and run.counts["all_agencies"] is False
    assert [p.reconciled_at for p in await _payments(theirs.id)] == [None]


# --- the command -----------------------------------------------------------------------------------


async def _cli(path: Path) -> Any:
    """`govhub payments reconcile PATH` in a thread: the command runs its own event loop."""
    root = typer.Typer()
    root.add_typer(payments_app, name="payments")
    runner = CliRunner(env={"COLUMNS": "250"})  # rich wraps long cells at 80 columns otherwise
    return await asyncio.to_thread(runner.invoke, root, ["payments", "reconcile", str(path)])


async def test_the_command_exits_0_when_all_matched_1_when_not_and_2_when_refused(agencies, tmp_path):
    bill, unpaid = await _bill(agencies["NBM"]), await _bill(agencies["NBM"])
    await _pay(bill)
    clean, mixed = tmp_path / "clean.csv", tmp_path / "mixed.csv"
    clean.write_bytes(_statement(_line(bill)))
    mixed.write_bytes(_statement(_line(unpaid), ["", "", "1.00", "2026-11-23 10:00"]))
    done = await _cli(clean)
    assert done.exit_code == 0, done.output
    assert "matched" in done.output and "Lines that did not match" not in done.output
    problems = await _cli(mixed)
    assert problems.exit_code == 1, problems.output
    assert "not_recorded" in problems.output and "invalid" in problems.output and unpaid.ref1 in problems.output
    again = await _cli(clean)
    assert again.exit_code == 2 and "already imported on" in again.output
    (tmp_path / "bad.csv").write_bytes(b"no,header\n")
    assert (await _cli(tmp_path / "bad.csv")).exit_code == 2


async def test_run_reconcile_prints_every_line_that_did_not_match(agencies, tmp_path):
    from govhub.payments.cli import run_reconcile

    unpaid = await _bill(agencies["DOPA"])
    path = tmp_path / "statement.csv"
    path.write_bytes(_statement(_line(unpaid, "99.00")))
    out = io.StringIO()
    assert await asyncio.to_thread(run_reconcile, Console(file=out, width=200), path) == 1
    assert "99.00" in out.getvalue() and "No payment of this bill was recorded" in out.getvalue()


# --- the pages ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
async def finance(app, agencies):  # type: ignore[no-untyped-def]
    browser = await officer_of(app, "NBM", OfficerRole.FINANCE)
    yield browser
    await browser.aclose()


async def _upload(browser: httpx.AsyncClient, data: bytes, name: str = "statement.csv") -> httpx.Response:
    token = f.csrf_from((await browser.get(PAGE)).text)
    return await browser.post(PAGE, data={"csrf_token": token}, files={"statement": (name, data, "text/csv")})


async def _runs_count() -> int:
    async with unit_of_work() as session:
        return int(await session.scalar(select(func.count()).select_from(ReconciliationRun)) or 0)


async def test_a_finance_officer_uploads_a_statement_and_reads_the_report_in_thai(finance, agencies):
    bill, unpaid = await _bill(agencies["NBM"]), await _bill(agencies["NBM"])
    await _pay(bill)
    response = await _upload(finance, _statement(_line(bill), _line(unpaid)))
    assert response.status_code == 303, response.text
    report_url = response.headers["location"]
    report = await finance.get(report_url + "?lang=th")
    assert report.status_code == 200
    assert "ตรงกับการชำระเงิน" in report.text and 'scope="col"' in report.text and "<caption>" in report.text
    assert bill.ref1 in report.text and unpaid.ref1 in report.text
    assert 'data-outcome="not_recorded"' in report.text
    english = await finance.get(report_url + "?outcome=not_recorded&lang=en")
    assert "Not recorded: no payment received" in english.text and bill.ref1 not in english.text
    listing = await finance.get(PAGE + "?lang=en")
    assert report_url in listing.text and 'for="statement"' in listing.text
    assert (await _reload(unpaid)).status == BillStatus.OPEN


async def test_a_refused_file_is_shown_on_the_form_and_nothing_is_kept(finance, agencies):
    before = await _runs_count()
    response = await _upload(finance, b"\x00\x01binary")
    assert response.status_code == 422
    assert 'class="error-summary"' in response.text and 'aria-invalid="true"' in response.text
    bill = await _bill(agencies["NBM"])
    await _pay(bill)
    data = _statement(_line(bill))
    assert (await _upload(finance, data)).status_code == 303
    again = await _upload(finance, data)
    assert again.status_code == 409 and 'class="error-summary"' in again.text
    assert await _runs_count() == before + 1
    missing = await finance.post(PAGE, data={"csrf_token": f.csrf_from((await finance.get(PAGE)).text)})
    assert missing.status_code == 422 and 'id="statement-error"' in missing.text


async def test_only_finance_officers_may_use_the_pages(app, client, agencies):
    reviewer = await officer_of(app, "NBM", OfficerRole.REVIEWER)
    page = await reviewer.get(PAGE + "?lang=en")
    assert page.status_code == 403 and "Only finance officers" in page.text
    token = f.csrf_from((await reviewer.get("/account")).text)
    posted = await reviewer.post(PAGE + "?lang=en", data={"csrf_token": token},
                                 files={"statement": ("s.csv", b"x", "text/csv")})
    assert posted.status_code == 403 and "Only finance officers" in posted.text
    await reviewer.aclose()
    await f.register_citizen(client)
    assert (await client.get(PAGE)).status_code == 404


async def test_another_agencys_finance_officer_cannot_see_the_run_and_sees_its_bills_unmatched(app, finance, agencies):
    bill = await _bill(agencies["NBM"])
    await _pay(bill)
    response = await _upload(finance, _statement(_line(bill)))
    report_url = response.headers["location"]
    dopa = await officer_of(app, "DOPA", OfficerRole.FINANCE)
    assert (await dopa.get(report_url)).status_code == 404
    assert report_url not in (await dopa.get(PAGE)).text
    theirs = await _bill(agencies["NBM"])
    await _pay(theirs)
    own = await _upload(dopa, _statement(_line(theirs), _line(None, ref1="7777777777777")))
    lines = (await dopa.get(own.headers["location"] + "?lang=en")).text
    assert lines.count('data-outcome="unmatched"') == 3  # the counts row and both lines
    assert "No bill has these references." in lines
    assert [p.reconciled_at for p in await _payments(theirs.id)] == [None]
    await dopa.aclose()


async def test_an_upload_without_the_csrf_token_is_refused(finance, agencies):
    before = await _runs_count()
    bill = await _bill(agencies["NBM"])
    response = await finance.post(PAGE, files={"statement": ("s.csv", _statement(_line(bill)), "text/csv")})
    assert response.status_code == 403 and await _runs_count() == before
