"""e-Documents: licenses issued (render and sign) per second, and verifications per second.

The issue's `bench/documents`. One run, on a fresh PostgreSQL database:

  * arranged with govhub's own functions: the demo agencies (`service.create_agency`), the
    receiving accounts, the internal CA and every agency's signing key (`load_demo_payments`);
  * **issuing, in the benchmark process** (no HTTP: licenses are issued by a job when a case
    is approved, never in a web request):
      - baselines: `render.render_document` alone, `signing.sign_pdf` alone (PAdES, pyHanko),
        then render + sign, one document after the other in 1 process;
      - render + sign in 1 process and in P processes in parallel (multiprocessing; fpdf2 and
        pyHanko hold the GIL, so threads would not add throughput);
      - the whole `issuing.issue` path on PostgreSQL: running number, agency signer from the
        database (Fernet-decrypted key), render + sign in a thread, JWS (ES256), PDF written
        to the document store, row inserted, commit; 1 process, then P processes;
  * **verification over HTTP** against `govhub serve --workers W` (C clients, closed loop, a
    new connection per request unless --keep-alive):
      - `GET /healthz` (baseline: the HTTP stack alone);
      - `GET /verify/{id}` with `Accept: application/json`, over every document issued above
        (the answer's status must be "valid");
      - `POST /verify`, the PDF upload check (pyHanko validation against the trust roots,
        SHA-256 lookup, HTML result), with PDFs issued above (the page must say "genuine").
        The upload is rate-limited to 30 per hour per client address; the benchmark acts as
        the reverse proxy uvicorn trusts (127.0.0.1, FORWARDED_ALLOW_IPS) and sends each
        upload with its own X-Forwarded-For address, so the limiter runs (on Redis) on every
        request and never refuses;
      - in-process baselines: `pdf_check.check_signed_pdf` alone and `verification.check_upload`
        (with the database), one after the other;
  * the peak RSS (VmHWM) of the server's processes.

    .venv/bin/python bench/bench_documents.py                     # W = 2, C = 8, P = 2, ~75 s
    .venv/bin/python bench/bench_documents.py --processes 1 --duration 5
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import multiprocessing
import os
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import common  # noqa: E402
from common import OperationFailed, heading, say  # noqa: E402

AGENCY = "NBM"
# What the food-shop permit's template prints (Thai labels, English beneath, Thai values).
FIELDS = (
    ("เลขที่คำขอ", "Application number", "NBM-2569-000123-4"),
    ("ชื่อสถานประกอบการ", "Establishment", "ครัวทดสอบ สาขางามวงศ์วาน"),
    ("ที่ตั้ง", "Address", "99 ถนนงามวงศ์วาน ตำบลบางเขน อำเภอเมืองนนทบุรี จังหวัดนนทบุรี 11000"),
    ("ผู้ขออนุญาต", "Applicant", "นางสาวสุดา ทดสอบ"),
    ("เลขทะเบียนนิติบุคคล", "Juristic person", "0105561234567"),
    ("พื้นที่ประกอบการ", "Floor area", "250 ตารางเมตร"),
    ("จำนวนที่นั่ง", "Seats", "60"),
    ("ประเภทกิจการ", "Business type", "ร้านอาหาร จำหน่ายอาหารปรุงสำเร็จ"),
)


# --- what is issued -------------------------------------------------------------------------------


def sample_content(index: int) -> Any:
    """A food-shop permit's printed content (no database), numbered `index`."""
    from govhub.documents import render

    now = datetime.now(UTC)
    return render.DocumentContent(
        document_id=f"{AGENCY}-L-2569-{index:06d}", kind="license",
        title_th="ใบอนุญาตจัดตั้งสถานที่จำหน่ายอาหาร", title_en="Food shop permit",
        agency_name_th="เทศบาลนครนนทบุรี", agency_name_en="Nakhon Nonthaburi Municipality",
        holder_name="บริษัท ครัวทดสอบ จำกัด",
        fields=tuple(render.DocumentField(*row) for row in FIELDS), issued_at=now,
        valid_from=now.date(), valid_until=now.date() + timedelta(days=365),
        verify_url=f"http://127.0.0.1:8000/verify/0192f0c1-{index:04d}-7000-8000-000000000000",
        footer_note_th="ต้องแสดงใบอนุญาตนี้ไว้ในที่เปิดเผย", footer_note_en="Display this permit where it can be seen.",
    )


def throwaway_signer() -> Any:
    """An agency certificate from a CA made here (the in-process baselines need no database)."""
    from govhub.documents import ca, signing

    root = ca.create_root_ca("bench document CA")
    agency = ca.issue_agency_certificate(root, agency_code=AGENCY, agency_name="Nakhon Nonthaburi Municipality")
    return signing.PdfSigner.from_key(agency.key, agency.certificate, [root.certificate]), root.certificate


def draft(agency: Any, index: int, run: str) -> Any:
    """The Draft `issuing.issue` takes for a food-shop permit."""
    from govhub.documents import issuing, render

    today = datetime.now(UTC).date()
    return issuing.Draft(
        source_key=f"bench:{run}:{index}", kind="license", agency=agency,
        title_th="ใบอนุญาตจัดตั้งสถานที่จำหน่ายอาหาร", title_en="Food shop permit",
        holder_name="บริษัท ครัวทดสอบ จำกัด", holder_account_id=None,
        fields=tuple(render.DocumentField(*row) for row in FIELDS), valid_from=today,
        valid_until=today + timedelta(days=365), note_th="ต้องแสดงใบอนุญาตนี้ไว้ในที่เปิดเผย",
        note_en="Display this permit where it can be seen.",
    )


# --- in-process measurements ----------------------------------------------------------------------


@dataclass
class Timed:
    """Operations timed in this process (or in P processes together)."""

    label: str
    latencies: list[float]
    elapsed: float
    cpu: float  # CPU seconds of the measuring process(es)
    other_cpu: float  # CPU seconds other processes used meanwhile
    processes: int = 1
    unit: str = "docs"
    note: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def n(self) -> int:
        return len(self.latencies)

    @property
    def rate(self) -> float:
        return self.n / self.elapsed if self.elapsed else 0.0

    @property
    def noise_pct(self) -> float:
        return self.other_cpu / (self.elapsed * (os.cpu_count() or 1)) * 100 if self.elapsed else 0.0

    def p(self, q: float) -> float:
        return common.percentile(self.latencies, q) * 1000

    def line(self) -> str:
        return (f"  {self.label:<58}{self.rate:8.1f} {self.unit}/s   p50 {self.p(50):7.1f} ms  p99 {self.p(99):7.1f} ms"
                f"   n={self.n}  CPU {self.cpu / max(self.n, 1) * 1000:.1f} ms/op  noise {self.noise_pct:.0f}%"
                + (f"   {self.note}" if self.note else ""))

    def summary(self) -> dict[str, Any]:
        return {"label": self.label, "processes": self.processes, "unit": self.unit, "rate": round(self.rate, 2),
                "p50_ms": round(self.p(50), 2), "p99_ms": round(self.p(99), 2), "n": self.n,
                "cpu_ms_per_op": round(self.cpu / max(self.n, 1) * 1000, 2), "other_cpu_pct": round(self.noise_pct, 1),
                "note": self.note, **self.extra}


def time_calls(label: str, call: Any, count: int, *, warm: int = 2, unit: str = "docs", note: str = "") -> Timed:
    """`call(i)` `count` times, one after the other, after `warm` untimed calls."""
    for i in range(warm):
        call(-1 - i)
    latencies: list[float] = []
    machine, cpu = common.machine_busy_seconds(), time.process_time()
    started = time.perf_counter()
    for i in range(count):
        begin = time.perf_counter()
        call(i)
        latencies.append(time.perf_counter() - begin)
    elapsed = time.perf_counter() - started
    own = time.process_time() - cpu
    other = max(0.0, common.machine_busy_seconds() - machine - own - 0)
    return Timed(label, latencies, elapsed, own, other, unit=unit, note=note)


def _process_worker(kind: str, duration: float, barrier: Any, results: Any, run: str, agency_id: str) -> None:
    """One of P processes: `kind` (render_sign or issue) over and over for `duration` seconds."""
    common.quiet_govhub_logs()
    if kind == "issue":
        asyncio.run(_issue_worker(duration, barrier, results, run, agency_id))
        return
    from govhub.documents import render, signing

    pdf_signer, _root = throwaway_signer()

    def once(i: int) -> None:
        signing.sign_pdf(render.render_document(sample_content(i)), pdf_signer, reason="bench", location="bench")

    once(0)
    barrier.wait()
    latencies: list[float] = []
    cpu = time.process_time()
    started = time.perf_counter()
    while time.perf_counter() < started + duration:
        begin = time.perf_counter()
        once(len(latencies))
        latencies.append(time.perf_counter() - begin)
    results.put((latencies, time.perf_counter() - started, time.process_time() - cpu, started))


async def _issue_worker(duration: float, barrier: Any, results: Any, run: str, agency_id: str) -> None:
    from govhub.db import dispose_engine

    await issue_one(agency_id, f"{run}-warm", 0)
    barrier.wait()
    latencies: list[float] = []
    cpu = time.process_time()
    started = time.perf_counter()
    while time.perf_counter() < started + duration:
        begin = time.perf_counter()
        await issue_one(agency_id, run, len(latencies))
        latencies.append(time.perf_counter() - begin)
    results.put((latencies, time.perf_counter() - started, time.process_time() - cpu, started))
    await dispose_engine()


def in_processes(label: str, kind: str, processes: int, duration: float, *, run: str = "", agency_id: str = "",
                 note: str = "") -> Timed:
    """`kind` in `processes` spawned processes at once; their rates add up."""
    context = multiprocessing.get_context("spawn")
    barrier, results = context.Barrier(processes + 1), context.Queue()
    workers = [context.Process(target=_process_worker, args=(kind, duration, barrier, results, f"{run}-p{i}", agency_id))
               for i in range(processes)]
    for process in workers:
        process.start()
    try:
        barrier.wait(timeout=120)
        machine = common.machine_busy_seconds()
        database = common.database_cpu_seconds()
        outcomes = [results.get(timeout=duration + 120) for _ in workers]
        machine = common.machine_busy_seconds() - machine
        database = common.database_cpu_seconds() - database
    finally:
        for process in workers:
            process.join(timeout=30)
            if process.is_alive():
                process.kill()
                process.join()
    latencies = [value for outcome in outcomes for value in outcome[0]]
    # The processes' rates add up: the elapsed time that gives their sum.
    elapsed = len(latencies) / sum(len(outcome[0]) / outcome[1] for outcome in outcomes)
    own = sum(outcome[2] for outcome in outcomes)
    timed = Timed(label, latencies, elapsed, own, max(0.0, machine - own - database), processes=processes, note=note)
    timed.extra["database_cpu_ms_per_op"] = round(database / max(timed.n, 1) * 1000, 2)
    return timed


async def issue_one(agency_id: str, run: str, index: int) -> str:
    """One license through `issuing.issue`, in its own transaction (as the job does)."""
    from govhub.db import unit_of_work
    from govhub.documents import issuing
    from govhub.identity.models import Agency

    async with unit_of_work() as session:
        agency = await session.get(Agency, agency_id)
        document = await issuing.issue(session, draft(agency, index, run))
        return document.id


async def issue_sequentially(agency_id: str, count: int) -> Timed:
    from govhub.db import dispose_engine

    try:
        for i in range(2):
            await issue_one(agency_id, "warm", i)
        latencies: list[float] = []
        machine, database, cpu = common.machine_busy_seconds(), common.database_cpu_seconds(), time.process_time()
        started = time.perf_counter()
        for i in range(count):
            begin = time.perf_counter()
            await issue_one(agency_id, "seq", i)
            latencies.append(time.perf_counter() - begin)
        elapsed = time.perf_counter() - started
        own, database = time.process_time() - cpu, common.database_cpu_seconds() - database
        other = max(0.0, common.machine_busy_seconds() - machine - own - database)
    finally:
        await dispose_engine()
    timed = Timed("issuing.issue on PostgreSQL, 1 process", latencies, elapsed, own, other,
                  note="number, signer, render+sign, JWS, store, insert, commit")
    timed.extra["database_cpu_ms_per_op"] = round(database / max(count, 1) * 1000, 2)
    return timed


async def arrange() -> str:
    """The demo agencies, the internal CA and their signing keys; NBM's agency id."""
    from govhub.db import dispose_engine

    try:
        return await common.agencies_with_signing_keys(AGENCY)
    finally:
        await dispose_engine()


async def issued_documents() -> tuple[list[str], list[bytes], int]:
    """Every document issued (ids), a few of their PDFs from the store, and the row count."""
    from sqlalchemy import func, select

    from govhub.db import dispose_engine, unit_of_work
    from govhub.documents import issuing
    from govhub.documents.models import IssuedDocument

    try:
        async with unit_of_work() as session:
            ids = list((await session.scalars(select(IssuedDocument.id).order_by(IssuedDocument.issued_at))).all())
            count = int(await session.scalar(select(func.count()).select_from(IssuedDocument)) or 0)
        pdfs = [await issuing.store().get(issuing.storage_key(document_id)) for document_id in ids[:16]]
    finally:
        await dispose_engine()
    return ids, pdfs, count


async def check_upload_in_process(pdfs: list[bytes], count: int) -> Timed:
    """`verification.check_upload` (trust roots from the database, pyHanko, SHA-256 lookup)."""
    from govhub.db import dispose_engine, unit_of_work
    from govhub.documents import verification

    async def once(i: int) -> None:
        async with unit_of_work() as session:
            check = await verification.check_upload(session, pdfs[i % len(pdfs)])
            if not check.genuine:
                raise RuntimeError(f"an issued PDF was not found genuine: {check.signature.problem}")

    try:
        await once(0)
        latencies: list[float] = []
        machine, cpu = common.machine_busy_seconds(), time.process_time()
        started = time.perf_counter()
        for i in range(count):
            begin = time.perf_counter()
            await once(i)
            latencies.append(time.perf_counter() - begin)
        elapsed, own = time.perf_counter() - started, time.process_time() - cpu
        other = max(0.0, common.machine_busy_seconds() - machine - own)
    finally:
        await dispose_engine()
    return Timed("verification.check_upload, in-process (with PostgreSQL)", latencies, elapsed, own, other,
                 unit="checks", note="noise includes PostgreSQL")


# --- over HTTP ------------------------------------------------------------------------------------


KEEP_ALIVE = False
_addresses = itertools.count(1)


def client(base_url: str) -> Any:
    import httpx

    headers = None if KEEP_ALIVE else {"connection": "close"}
    return httpx.AsyncClient(base_url=base_url, timeout=60, headers=headers, limits=httpx.Limits(max_connections=1))


class Uploader:
    """A browser with the verify form's CSRF cookie and token (fetched on first use)."""

    def __init__(self, base_url: str) -> None:
        self.http = client(base_url)
        self.token: str | None = None

    async def aclose(self) -> None:
        await self.http.aclose()


def verify_json(ids: list[str]) -> Any:
    async def operation(http: Any, index: int) -> dict[str, float]:
        document_id = ids[index % len(ids)]
        started = time.perf_counter()
        response = await http.get(f"/verify/{document_id}", headers={"accept": "application/json"})
        elapsed = time.perf_counter() - started
        if response.status_code != 200:
            raise OperationFailed(f"GET /verify/id {response.status_code}")
        body = response.json()
        if body.get("documentId") != document_id or body.get("status") != "valid":
            raise OperationFailed(f"GET /verify/id: {body.get('status')}")
        return {"request": elapsed}

    return operation


def verify_upload(pdfs: list[bytes]) -> Any:
    import re

    token = re.compile(r'name="csrf_token" value="([^"]+)"')

    async def operation(browser: Uploader, index: int) -> dict[str, float]:
        if browser.token is None:
            page = await browser.http.get("/verify?lang=en")
            found = token.search(page.text)
            if found is None:
                raise OperationFailed("GET /verify: no CSRF field")
            browser.token = found.group(1)
        number = next(_addresses)
        address = f"10.{number >> 16 & 255}.{number >> 8 & 255}.{number & 255}"
        started = time.perf_counter()
        response = await browser.http.post(
            "/verify?lang=en", data={"csrf_token": browser.token}, headers={"x-forwarded-for": address},
            files={"document": ("license.pdf", pdfs[index % len(pdfs)], "application/pdf")})
        elapsed = time.perf_counter() - started
        if response.status_code != 200:
            raise OperationFailed(f"POST /verify {response.status_code}")
        if "The file is genuine" not in response.text:
            raise OperationFailed("POST /verify: not genuine")
        return {"request": elapsed}

    return operation


async def over_http(args: argparse.Namespace, server: common.Server, ids: list[str], pdfs: list[bytes]) -> dict[str, Any]:
    c = args.concurrency
    plain = lambda _i: client(server.base_url)  # noqa: E731
    phases: dict[str, common.LoadResult] = {}
    phases["healthz"] = await common.closed_loop("GET /healthz", server=server, concurrency=c, duration=args.duration / 2,
                                                 warmup=1, make_client=plain, operation=common.healthz)
    phases["verify_json"] = await common.closed_loop(
        "GET /verify/{id} (JSON)", server=server, concurrency=c, duration=args.duration, warmup=1,
        make_client=plain, operation=verify_json(ids))
    phases["verify_upload"] = await common.closed_loop(
        "POST /verify (PDF upload check)", server=server, concurrency=c, duration=args.duration, warmup=1,
        make_client=lambda _i: Uploader(server.base_url), operation=verify_upload(pdfs))
    return phases


# --- report -------------------------------------------------------------------------------------


def http_row(label: str, result: common.LoadResult, unit: str, note: str = "") -> dict[str, Any]:
    return {"label": label, "unit": unit, "note": note, **result.summary("request")}


def print_table(rows: list[dict[str, Any]], config: str, memory: str) -> None:
    header = ("measured", "config", "throughput", "p50 ms", "p99 ms", "fail", "CPU ms/op", "noise")
    table = [header]
    for row in rows:
        cpu = row.get("server_cpu_ms_per_op", row.get("cpu_ms_per_op"))
        table.append((row["label"], row.get("config", config), f"{row['rate']:.1f} {row['unit']}/s",
                      f"{row['p50_ms']:.1f}", f"{row['p99_ms']:.1f}", str(row.get("failures", 0)),
                      "-" if cpu is None else f"{cpu:.1f}", f"{row['other_cpu_pct']:.0f}%"))
    widths = [max(len(r[i]) for r in table) for i in range(len(header))]
    for index, row in enumerate(table):
        say("  ".join(cell.ljust(widths[i]) if i in (0, 1) else cell.rjust(widths[i]) for i, cell in enumerate(row)))
        if index == 0:
            say("  ".join("-" * w for w in widths))
    say(f"peak RSS of the server: {memory}")
    say("CPU ms/op: of the measuring processes in-process, of the server's processes over HTTP (PostgreSQL and"
        " the load generator excluded); noise: other processes' share of all cores")


# --- main -----------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", type=int, default=2, help="govhub web worker processes (W)")
    parser.add_argument("--concurrency", "-c", type=int, default=8, help="concurrent HTTP clients (C)")
    parser.add_argument("--processes", "-p", type=int, default=2, help="parallel issuing processes (P)")
    parser.add_argument("--count", type=int, default=20, help="documents per one-process baseline")
    parser.add_argument("--duration", type=float, default=10.0,
                        help="seconds per parallel issuing run and per HTTP phase (/healthz: half)")
    parser.add_argument("--keep-alive", action="store_true", help="reuse each client's connection")
    parser.add_argument("--json", help="also write the figures to this JSON file")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    global KEEP_ALIVE
    args = parse_args(argv)
    KEEP_ALIVE = args.keep_alive
    heading("e-Documents benchmark: licenses issued (render + sign) and verifications per second")
    say(f"machine: {common.machine_description()}; govhub {common.revision()}; load average"
        f" {os.getloadavg()[0]:.2f}")
    database = common.BenchDatabase()
    port = common.free_port()
    directory = common.run_dir()
    server: common.Server | None = None
    began = time.perf_counter()
    succeeded = failed = False
    results: dict[str, Any] = {"issuing": [], "verification": []}
    with common.terminate_cleanly():
        try:
            database.create()
            env = common.bench_env(database.url, port, GOVHUB_ISSUED_DOCUMENT_STORE_PATH=str(directory / "issued"),
                                   FORWARDED_ALLOW_IPS="127.0.0.1")
            common.use_bench_env(env)
            database.migrate()
            common.quiet_govhub_logs()
            agency_id = asyncio.run(arrange())
            say(f"database {database.name}: demo agencies, internal CA and agency keys loaded")

            from govhub.documents import pdf_check, render, signing

            heading(f"Issuing in the benchmark process (no HTTP): {args.count} documents per one-process run,"
                    f" {args.duration:.0f} s per {args.processes}-process run")
            pdf_signer, _root = throwaway_signer()
            sample = render.render_document(sample_content(0))
            signed = signing.sign_pdf(sample, pdf_signer, reason="bench", location="bench")
            say(f"  a license: {len(sample):,} bytes rendered, {len(signed):,} signed")
            timed = [
                time_calls("baseline: render_document alone", lambda i: render.render_document(sample_content(i)),
                           args.count),
                time_calls("baseline: sign_pdf alone (PAdES, pyHanko)",
                           lambda _i: signing.sign_pdf(sample, pdf_signer, reason="bench", location="bench"),
                           args.count * 2),
                time_calls("render + sign, 1 process", lambda i: signing.sign_pdf(
                    render.render_document(sample_content(i)), pdf_signer, reason="bench", location="bench"), args.count),
            ]
            for t in timed:
                say(t.line())
            timed.append(in_processes(f"render + sign, {args.processes} processes", "render_sign", args.processes,
                                      args.duration))
            say(timed[-1].line())
            timed.append(asyncio.run(issue_sequentially(agency_id, args.count)))
            say(timed[-1].line())
            timed.append(in_processes(f"issuing.issue on PostgreSQL, {args.processes} processes", "issue",
                                      args.processes, args.duration, run="par", agency_id=agency_id,
                                      note="each process its own engine, one transaction per document"))
            say(timed[-1].line())
            render_alone, sign_alone, both = timed[0], timed[1], timed[2]
            say(f"  signing adds {both.p(50) - render_alone.p(50):+.1f} ms at p50 to rendering"
                f" ({render_alone.p(50):.1f} -> {both.p(50):.1f} ms; sign alone {sign_alone.p(50):.1f} ms):"
                f" {(1 - both.rate / render_alone.rate) * 100:.0f}% fewer documents per second")
            issue_cpu = timed[4].cpu / max(timed[4].n, 1) - both.cpu / max(both.n, 1)
            say(f"  the issue path costs {timed[4].p(50) - both.p(50):+.1f} ms at p50 and {issue_cpu * 1000:+.1f} ms of"
                f" CPU over render + sign (database, signer, JWS, store); {args.processes} processes give"
                f" {timed[5].rate / timed[4].rate:.2f}x one (render + sign: {timed[3].rate / both.rate:.2f}x)")

            ids, pdfs, count = asyncio.run(issued_documents())
            say(f"  {count} documents recorded in the database")

            heading("Verification baselines in the benchmark process")
            trust_root = internal_ca_certificate()
            checks = [time_calls("baseline: pdf_check.check_signed_pdf alone",
                                 lambda i: pdf_check.check_signed_pdf(pdfs[i % len(pdfs)], [trust_root]),
                                 args.count * 3, unit="checks")]
            say(checks[0].line())
            checks.append(asyncio.run(check_upload_in_process(pdfs, args.count * 3)))
            say(checks[1].line())

            server = common.Server(env, workers=args.workers, port=port, run_dir=directory)
            server.start()
            heading(f"Verification over HTTP: govhub serve --workers {args.workers}, C = {args.concurrency},"
                    f" {'keep-alive connections' if KEEP_ALIVE else 'a new connection per request'};"
                    f" {len(ids)} documents, {len(pdfs)} distinct PDFs uploaded")
            phases = asyncio.run(over_http(args, server, ids, pdfs))
            for name, result in phases.items():
                say(f"  {result.name:<36}" + result.line("request", "req"))
                say(f"  {'':<36}{result.cpu_line()}; noise {result.noise_pct:.0f}%")
            memory = server.memory()
            say("  " + memory.describe())
            failures = sum(sum(r.failures.values()) for r in phases.values())
            if failures:
                failed = True
                say("  server errors:\n" + (server.errors()[-3000:] or "(none logged)"))
            server.stop()
            server = None

            config_http = f"W={args.workers} C={args.concurrency}"
            rows = []
            for t in timed:
                rows.append({**t.summary(), "config": f"in-process, {t.processes} proc"})
            for t in checks:
                rows.append({**t.summary(), "config": "in-process, 1 proc"})
            labels = {"healthz": ("baseline: GET /healthz", "req"), "verify_json": ("GET /verify/{id} JSON", "req"),
                      "verify_upload": ("POST /verify, PDF upload check", "checks")}
            for name, result in phases.items():
                label, unit = labels[name]
                rows.append({**http_row(label, result, unit), "config": config_http})
            heading("Summary")
            print_table(rows, config_http, f"max {memory.max_mib:.0f} MiB, sum {memory.sum_mib:.0f} MiB")
            results.update(rows=rows, memory_max_mib=round(memory.max_mib, 1), memory_sum_mib=round(memory.sum_mib, 1),
                           documents=count, failures=failures)
            succeeded = True
        finally:
            common.tear_down(server, database=database, directory=directory, keep_logs=not succeeded or failed)
    say(f"(total run {time.perf_counter() - began:.0f} s; load average now {os.getloadavg()[0]:.2f})")
    results.update(benchmark="documents", machine=common.machine_description(), revision=common.revision(),
                   workers=args.workers, concurrency=args.concurrency, processes=args.processes,
                   total_s=round(time.perf_counter() - began, 1))
    common.write_results(args.json, results)
    return 1 if failed or not succeeded else 0


def internal_ca_certificate() -> Any:
    """The internal CA's certificate: the trust root of the issued PDFs (from the database)."""
    from govhub.db import dispose_engine, unit_of_work
    from govhub.documents import keys

    async def read() -> Any:
        try:
            async with unit_of_work() as session:
                return (await keys.trust_roots(session))[0]
        finally:
            await dispose_engine()

    return asyncio.run(read())


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(main())
