"""e-Payment: bank callbacks processed per second on PostgreSQL, and receipts issued by a worker.

The issue's `bench/payments`. One run, on a fresh PostgreSQL database:

  * arranged with govhub's own functions: the demo agencies (`service.create_agency`), the
    receiving accounts, internal CA and agency keys (`load_demo_payments`), and --bills bills
    of NBM opened with `bills.open_bill` (one fee each, no case behind them: a credit then
    only queues the e-receipt; a bill of a case would also move the case on);
  * `govhub serve --workers W`, driven by C clients (closed loop, a new connection per
    request unless --keep-alive), each a bank posting `POST /payments/callbacks/bank` with a
    JSON notice signed as a bank signs it (`X-Govhub-Signature: t=<unix>,v1=<hex HMAC-SHA256 of
    "<t>." + body>`, computed here from the shared secret, not with govhub's code):
      - baselines: `GET /healthz` (the HTTP stack), and a callback with a wrong signature,
        refused with 401 (HTTP + body + signature check, no database write);
      - **credits**: each bill paid once by its own notice; the answer must be "credited".
        Each credit inserts the callback's receipt, reads the bill, checks the transaction,
        inserts the payment, marks the bill paid (version check), writes the e-receipt job to
        the outbox and commits; after the commit the web worker dispatches the job to Redis
        (claim in a second transaction, push to the queue). No job worker runs meanwhile;
      - **replays**: the same notices again (same event id, a fresh signature as a retrying
        bank sends it): "duplicate", stopped by the unique (provider, event_id) insert;
      - **renotified**: the same transfers under new event ids: "duplicate", stopped by the
        payment's unique (provider, transaction_id) after the bill is read;
  * afterwards, in the database: every bill paid, exactly one payment per bill, payments =
    bills, one outbox job per credit, all dispatched. Anything else fails the run (exit 1)
    with DOUBLE CREDIT or MISMATCH printed;
  * then, with the web server stopped, the queued e-receipt jobs are run by `govhub worker`
    (for each of --receipt-workers: that many worker processes, --receipt-threads threads
    each) for --receipt-seconds: receipts issued per second (render + sign + JWS + store).

    .venv/bin/python bench/bench_payments.py                       # W = 2, C = 8, 2,000 bills, ~2 minutes
    .venv/bin/python bench/bench_payments.py --bills 500 --receipt-seconds 0
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import hmac
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import common  # noqa: E402
from common import Exhausted, OperationFailed, heading, say  # noqa: E402

CALLBACK = "/payments/callbacks/bank"
BANK_SECRET = "bench-only-bank-callback-secret-0123456789abcdef"
AGENCY = "NBM"
FEE_SATANG = 150_000


@dataclass
class Notice:
    bill_id: str
    body: bytes  # the notice as the bank sends it
    renotified: bytes  # the same transfer under another event id


def bank_signature(body: bytes, secret: str = BANK_SECRET, at: int | None = None) -> str:
    """The header a bank sends: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>." + body>."""
    timestamp = int(time.time()) if at is None else at
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


# --- arrangement ------------------------------------------------------------------------------------


async def arrange(count: int, batch: int = 250) -> list[Notice]:
    """Agencies, accounts, CA and keys; `count` open bills of NBM; a paid notice for each."""
    from govhub.db import dispose_engine, unit_of_work
    from govhub.payments import bills

    notices: list[Notice] = []
    try:
        agency_id = await common.agencies_with_signing_keys(AGENCY)
        for offset in range(0, count, batch):
            async with unit_of_work() as session:
                for i in range(offset, min(count, offset + batch)):
                    bill = await bills.open_bill(
                        session, agency_id=agency_id, payer_account_id=None, payer_name=f"ผู้ชำระ ทดสอบ {i}",
                        fees=[bills.Fee("ค่าธรรมเนียมใบอนุญาต", "Permit fee", FEE_SATANG)],
                        description_th="ค่าธรรมเนียมใบอนุญาตจัดตั้งสถานที่จำหน่ายอาหาร",
                        description_en="Food shop permit fee", ref2=f"NBM2569{i:06d}")
                    notice = {"event_id": f"evt-{uuid.uuid4().hex}", "transaction_id": f"TXN{uuid.uuid4().hex[:24]}",
                              "status": "paid", "ref1": bill.ref1, "ref2": bill.ref2,
                              "amount_satang": bill.amount_satang, "paid_at": datetime.now(UTC).isoformat()}
                    again = {**notice, "event_id": f"evt-{uuid.uuid4().hex}"}
                    notices.append(Notice(bill.id, json.dumps(notice).encode(), json.dumps(again).encode()))
    finally:
        await dispose_engine()
    return notices


# --- the bank's side over HTTP ------------------------------------------------------------------------


KEEP_ALIVE = False


def client(base_url: str) -> Any:
    import httpx

    headers = {"content-type": "application/json"}
    if not KEEP_ALIVE:
        headers["connection"] = "close"
    return httpx.AsyncClient(base_url=base_url, timeout=60, headers=headers, limits=httpx.Limits(max_connections=1))


def callbacks(notices: list[Notice], *, pick: str, expect: str, limit: int | None, secret: str = BANK_SECRET) -> Any:
    """operation(client, i): post notice i (its body, or its renotified body), check the outcome."""

    async def operation(http: Any, index: int) -> dict[str, float]:
        if limit is not None and index >= limit:
            raise Exhausted()
        notice = notices[index % len(notices)]
        body = notice.body if pick == "body" else notice.renotified
        started = time.perf_counter()
        response = await http.post(CALLBACK, content=body, headers={"x-govhub-signature": bank_signature(body, secret)})
        elapsed = time.perf_counter() - started
        if expect == "refused":
            if response.status_code != 401:
                raise OperationFailed(f"forged callback answered {response.status_code}")
            return {"request": elapsed}
        if response.status_code != 200:
            raise OperationFailed(f"callback {response.status_code}")
        outcome = response.json().get("outcome")
        if outcome != expect:
            raise OperationFailed(f"outcome {outcome}")
        return {"request": elapsed}

    return operation


async def drive(args: argparse.Namespace, server: common.Server, notices: list[Notice]) -> dict[str, common.LoadResult]:
    c, n = args.concurrency, len(notices)
    make = lambda _i: client(server.base_url)  # noqa: E731
    phases: dict[str, common.LoadResult] = {}
    phases["healthz"] = await common.closed_loop("GET /healthz", server=server, concurrency=c, duration=args.duration,
                                                 warmup=1, make_client=make, operation=common.healthz)
    phases["refused"] = await common.closed_loop(
        "forged callback -> 401", server=server, concurrency=c, duration=args.duration, warmup=1, make_client=make,
        operation=callbacks(notices, pick="body", expect="refused", limit=None, secret="not-the-bank-secret"))
    # No warm-up for the credits: every notice pays its own bill once, and all of them are measured.
    phases["credited"] = await common.closed_loop(
        "callback credits a bill", server=server, concurrency=c, duration=3600, make_client=make,
        operation=callbacks(notices, pick="body", expect="credited", limit=n))
    phases["replayed"] = await common.closed_loop(
        "replayed callback (same event id)", server=server, concurrency=c, duration=3600, make_client=make,
        operation=callbacks(notices, pick="body", expect="duplicate", limit=min(n, args.duplicates)))
    phases["renotified"] = await common.closed_loop(
        "same transfer, new event id", server=server, concurrency=c, duration=3600, make_client=make,
        operation=callbacks(notices, pick="renotified", expect="duplicate", limit=min(n, args.duplicates)))
    return phases


# --- what the database says afterwards -------------------------------------------------------------------


COUNTS = {
    "bills": "SELECT count(*) FROM payment_bills",
    "bills_paid": "SELECT count(*) FROM payment_bills WHERE status = 'paid'",
    "payments": "SELECT count(*) FROM payments",
    "payments_credited": "SELECT count(*) FROM payments WHERE status = 'credited'",
    "bills_paid_twice": "SELECT count(*) FROM (SELECT bill_id FROM payments GROUP BY bill_id HAVING count(*) > 1) t",
    "bills_with_a_payment": "SELECT count(DISTINCT bill_id) FROM payments",
    "callbacks_recorded": "SELECT count(*) FROM payment_callbacks",
    "callbacks_credited": "SELECT count(*) FROM payment_callbacks WHERE outcome = 'credited'",
    "callbacks_duplicate": "SELECT count(*) FROM payment_callbacks WHERE outcome = 'duplicate'",
    "receipt_jobs": "SELECT count(*) FROM job_outbox WHERE name = 'documents.issue_receipt'",
    "receipt_jobs_dispatched": "SELECT count(*) FROM job_outbox WHERE name = 'documents.issue_receipt'"
                               " AND dispatched_at IS NOT NULL",
    "receipts_issued": "SELECT count(*) FROM documents_issued WHERE kind = 'receipt'",
    "payments_with_receipt": "SELECT count(*) FROM payments WHERE receipt_document_id IS NOT NULL",
}


async def counts(names: tuple[str, ...] = tuple(COUNTS)) -> dict[str, int]:
    from sqlalchemy import text

    from govhub.db import dispose_engine, unit_of_work

    try:
        async with unit_of_work() as session:
            return {name: int(await session.scalar(text(COUNTS[name])) or 0) for name in names}
    finally:
        await dispose_engine()


def problems_in(found: dict[str, int], bills: int, renotified: int) -> list[str]:
    """What is wrong with the money after the run (an empty list: nothing)."""
    wrong = []
    if found["bills_paid_twice"] or found["payments"] > bills or found["callbacks_credited"] > bills:
        wrong.append(f"DOUBLE CREDIT: {found['bills_paid_twice']} bills with more than one payment,"
                     f" {found['payments']} payments and {found['callbacks_credited']} credited callbacks for {bills} bills")
    expected = {"bills": bills, "bills_paid": bills, "payments": bills, "payments_credited": bills,
                "bills_with_a_payment": bills, "callbacks_credited": bills, "callbacks_duplicate": renotified,
                "callbacks_recorded": bills + renotified, "receipt_jobs": bills, "receipt_jobs_dispatched": bills}
    for name, value in expected.items():
        if found[name] != value:
            wrong.append(f"MISMATCH: {name} = {found[name]}, expected {value}")
    return wrong


# --- receipts by the job worker ----------------------------------------------------------------------------


def queued_jobs() -> int:
    """Jobs waiting in the benchmark's Redis queue (huey's list for the 'govhub' queue)."""
    try:
        import redis
    except ImportError:
        return -1
    connection = redis.Redis.from_url(common.REDIS_URL)
    try:
        return sum(int(connection.llen(key)) for key in connection.scan_iter(match="huey.redis.govhub*")
                   if connection.type(key) == b"list")
    finally:
        connection.close()


def run_workers(env: dict[str, str], directory: Path, processes: int, threads: int, seconds: float) -> dict[str, Any]:
    """`processes` x `govhub worker --threads T` for `seconds` after the first receipt; receipts/s."""
    script = Path(sys.executable).with_name("govhub")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "govhub.cli"]
    started_workers: list[subprocess.Popen[bytes]] = []
    before = asyncio.run(counts(("receipts_issued",)))["receipts_issued"]
    try:
        for index in range(processes):
            log = (directory / f"worker-{processes}-{index}.log").open("wb")
            started_workers.append(subprocess.Popen(
                [*command, "worker", "--threads", str(threads)], env=env, cwd=directory, stdout=log,
                stderr=subprocess.STDOUT, start_new_session=True))
            log.close()
        # Wait for the first receipt (imports, connections), then measure a fixed window.
        deadline = time.monotonic() + 60
        first = before
        while time.monotonic() < deadline:
            first = asyncio.run(counts(("receipts_issued",)))["receipts_issued"]
            if first > before:
                break
            if any(worker.poll() is not None for worker in started_workers):
                raise RuntimeError("a govhub worker exited early; see its log in " + str(directory))
            time.sleep(0.2)
        cpu_before = {w.pid: sum(common._cpu_seconds(p) for p in common.descendants(w.pid)) for w in started_workers}
        machine, database = common.machine_busy_seconds(), common.database_cpu_seconds()
        started = time.perf_counter()
        time.sleep(seconds)
        last = asyncio.run(counts(("receipts_issued",)))["receipts_issued"]
        elapsed = time.perf_counter() - started
        worker_cpu = sum(sum(common._cpu_seconds(p) for p in common.descendants(w.pid)) - cpu_before[w.pid]
                         for w in started_workers)
        machine, database = common.machine_busy_seconds() - machine, common.database_cpu_seconds() - database
        rss = [common._status_kib(p, "VmHWM") / 1024 for w in started_workers for p in common.descendants(w.pid)]
    finally:
        for worker in started_workers:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(worker.pid, signal.SIGTERM)
        for worker in started_workers:
            try:
                worker.wait(timeout=30)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(worker.pid, signal.SIGKILL)
                worker.wait(timeout=10)
    issued = last - first
    other = max(0.0, machine - worker_cpu - database)
    return {"processes": processes, "threads": threads, "receipts": issued, "elapsed_s": round(elapsed, 2),
            "rate": round(issued / elapsed, 2) if elapsed else 0.0,
            "worker_cpu_ms_per_receipt": round(worker_cpu / issued * 1000, 1) if issued else None,
            "database_cpu_ms_per_receipt": round(database / issued * 1000, 1) if issued else None,
            "other_cpu_pct": round(other / (elapsed * (os.cpu_count() or 1)) * 100, 1),
            "rss_max_mib": round(max(rss, default=0), 1)}


# --- main ---------------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", type=int, default=2, help="govhub web worker processes (W)")
    parser.add_argument("--concurrency", "-c", type=int, default=8, help="concurrent banks posting callbacks (C)")
    parser.add_argument("--bills", type=int, default=2000, help="bills opened, each credited once by its callback")
    parser.add_argument("--duplicates", type=int, default=1000, help="replayed and renotified callbacks (each kind)")
    parser.add_argument("--duration", type=float, default=5.0, help="seconds of each baseline (/healthz, 401)")
    parser.add_argument("--receipt-workers", default="1,2",
                        help="comma-separated numbers of `govhub worker` processes to measure in turn ('' = none)")
    parser.add_argument("--receipt-threads", type=int, default=2, help="threads per worker (govhub worker's default)")
    parser.add_argument("--receipt-seconds", type=float, default=15.0, help="seconds measured per worker setting (0 = skip)")
    parser.add_argument("--keep-alive", action="store_true", help="reuse each bank's connection")
    parser.add_argument("--json", help="also write the figures to this JSON file")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    global KEEP_ALIVE
    args = parse_args(argv)
    KEEP_ALIVE = args.keep_alive
    heading("e-Payment benchmark: bank callbacks processed per second on PostgreSQL")
    say(f"machine: {common.machine_description()}; govhub {common.revision()}; load average {os.getloadavg()[0]:.2f}")
    database = common.BenchDatabase()
    port = common.free_port()
    directory = common.run_dir()
    server: common.Server | None = None
    began = time.perf_counter()
    succeeded = failed = False
    results: dict[str, Any] = {}
    with common.terminate_cleanly():
        try:
            database.create()
            env = common.bench_env(database.url, port, GOVHUB_ISSUED_DOCUMENT_STORE_PATH=str(directory / "issued"),
                                   GOVHUB_PAYMENT_BANK_CALLBACK_SECRET=BANK_SECRET)
            common.use_bench_env(env)
            database.migrate()
            common.quiet_govhub_logs()
            started = time.perf_counter()
            notices = asyncio.run(arrange(args.bills))
            say(f"database {database.name}: demo agencies, CA and keys; {len(notices):,} bills opened with"
                f" bills.open_bill in {time.perf_counter() - started:.1f} s")

            server = common.Server(env, workers=args.workers, port=port, run_dir=directory)
            server.start()
            heading(f"Callbacks over HTTP: govhub serve --workers {args.workers}, C = {args.concurrency},"
                    f" {'keep-alive connections' if KEEP_ALIVE else 'a new connection per request'}; no job worker runs")
            phases = asyncio.run(drive(args, server, notices))
            for result in phases.values():
                say(f"  {result.name:<36}" + result.line("request", "req"))
                say(f"  {'':<36}{result.cpu_line()}; noise {result.noise_pct:.0f}%")
            memory = server.memory()
            say("  " + memory.describe())
            http_failures = sum(sum(r.failures.values()) for r in phases.values())
            if http_failures:
                failed = True
                say("  server errors:\n" + (server.errors()[-3000:] or "(none logged)"))
            server.stop()
            server = None

            heading("The money afterwards (in the database)")
            found = asyncio.run(counts())
            say("  " + ", ".join(f"{k} {v}" for k, v in found.items()))
            renotified = phases["renotified"].ok
            wrong = problems_in(found, len(notices), renotified)
            for line in wrong:
                say(f"  {line}")
            if wrong:
                failed = True
            else:
                say(f"  OK: {found['bills_paid']} of {found['bills']} bills paid, each credited exactly once;"
                    f" payments {found['payments']} = bills {found['bills']}; {found['receipt_jobs']} e-receipt jobs in"
                    f" the outbox, {found['receipt_jobs_dispatched']} dispatched; {renotified} renotified transfers"
                    " recorded as duplicates, replays not recorded")
            queued = queued_jobs()
            say(f"  jobs waiting in the Redis queue: {queued}")

            workers_out: list[dict[str, Any]] = []
            settings = [int(x) for x in args.receipt_workers.split(",") if x.strip()] if args.receipt_seconds > 0 else []
            if settings:
                heading(f"e-Receipts issued by `govhub worker --threads {args.receipt_threads}` from the queued jobs"
                        f" ({args.receipt_seconds:.0f} s each, the web server stopped)")
            for processes in settings:
                out = run_workers(env, directory, processes, args.receipt_threads, args.receipt_seconds)
                workers_out.append(out)
                say(f"  {processes} worker process{'es' if processes > 1 else ''} x {args.receipt_threads} threads:"
                    f" {out['rate']:.1f} receipts/s ({out['receipts']} in {out['elapsed_s']:.0f} s); CPU per receipt:"
                    f" worker {out['worker_cpu_ms_per_receipt']} ms, PostgreSQL {out['database_cpu_ms_per_receipt']} ms;"
                    f" peak RSS {out['rss_max_mib']:.0f} MiB per process; noise {out['other_cpu_pct']:.0f}%")
            if workers_out:
                after = asyncio.run(counts(("receipts_issued", "payments_with_receipt", "payments")))
                say(f"  receipts issued in all {after['receipts_issued']}, payments linked to a receipt"
                    f" {after['payments_with_receipt']} (of {after['payments']})")
                if after["receipts_issued"] != after["payments_with_receipt"] or after["receipts_issued"] > after["payments"]:
                    failed = True
                    say("  MISMATCH: receipts and payments linked to them differ")

            heading("Summary")
            config = f"W={args.workers} C={args.concurrency}"
            rows: list[dict[str, Any]] = []
            labels = {"healthz": ("baseline: GET /healthz", "req"),
                      "refused": ("baseline: forged callback -> 401", "req"),
                      "credited": ("callback credits a bill (outbox job queued)", "callbacks"),
                      "replayed": ("replayed callback -> duplicate", "callbacks"),
                      "renotified": ("same transfer, new event id -> duplicate", "callbacks")}
            for name, result in phases.items():
                label, unit = labels[name]
                rows.append({"label": label, "config": config, "unit": unit, **result.summary("request")})
            for out in workers_out:
                rows.append({"label": "e-receipt issued by govhub worker", "unit": "receipts",
                             "config": f"{out['processes']} proc x {out['threads']} thr", "rate": out["rate"],
                             "p50_ms": float("nan"), "p99_ms": float("nan"), "failures": 0,
                             "server_cpu_ms_per_op": out["worker_cpu_ms_per_receipt"],
                             "other_cpu_pct": out["other_cpu_pct"]})
            print_table(rows)
            say(f"peak RSS of the web server: max {memory.max_mib:.0f} MiB, sum {memory.sum_mib:.0f} MiB")
            results.update(rows=rows, database=found, problems=wrong, workers_runs=workers_out,
                           memory_max_mib=round(memory.max_mib, 1), memory_sum_mib=round(memory.sum_mib, 1),
                           failures=http_failures)
            succeeded = True
        finally:
            common.tear_down(server, database=database, directory=directory, keep_logs=not succeeded or failed)
    say(f"(total run {time.perf_counter() - began:.0f} s; load average now {os.getloadavg()[0]:.2f})")
    results.update(benchmark="payments", machine=common.machine_description(), revision=common.revision(),
                   workers=args.workers, concurrency=args.concurrency, bills=args.bills,
                   total_s=round(time.perf_counter() - began, 1))
    common.write_results(args.json, results)
    if failed:
        say("FAILED: see the lines above")
    return 1 if failed or not succeeded else 0


def print_table(rows: list[dict[str, Any]]) -> None:
    header = ("measured", "config", "throughput", "p50 ms", "p99 ms", "fail", "CPU ms/op", "noise")
    table = [header]
    for row in rows:
        cpu = row.get("server_cpu_ms_per_op")
        p50, p99 = row["p50_ms"], row["p99_ms"]
        table.append((row["label"], row["config"], f"{row['rate']:.1f} {row['unit']}/s",
                      "-" if p50 != p50 else f"{p50:.1f}", "-" if p99 != p99 else f"{p99:.1f}", str(row["failures"]),
                      "-" if cpu is None else f"{cpu:.1f}", f"{row['other_cpu_pct']:.0f}%"))
    widths = [max(len(r[i]) for r in table) for i in range(len(header))]
    for index, row in enumerate(table):
        say("  ".join(cell.ljust(widths[i]) if i in (0, 1) else cell.rjust(widths[i]) for i, cell in enumerate(row)))
        if index == 0:
            say("  ".join("-" * w for w in widths))
    say("CPU ms/op: of the server's (or worker's) processes per operation, PostgreSQL and the load generator"
        " excluded; noise: other processes' share of all cores")


if __name__ == "__main__":
    sys.exit(main())
