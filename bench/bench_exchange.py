"""GDX: a consumer calling a provider's system directly, against the same call through govhub.

One run, on a fresh PostgreSQL database:

  * the provider agency's own system: a small Starlette app (one JSON person record, like
    tests/exchange/provider_app.py) served by uvicorn with --provider-workers processes;
  * `govhub serve --workers W`, with a provider subsystem publishing two remote services on
    that system, both returning personal data (so a purpose is required) and both needing an
    approved access request: `person` and `person-consent`, which also needs the data
    subject's consent; and --consumers consumer subsystems, each an OAuth client
    (client_credentials, client_secret_basic) with an approved access right, and citizens
    who gave each consumer consent;
  * each consumer's token is obtained once from /oidc/token; every GDX call then goes through
    authentication (JWT + client lookup), the policy check (access right), the consent check,
    routing to the provider, field filtering and an evidence record committed before the answer.

Measured, with C concurrent clients (closed loop) for throughput and at a fixed arrival rate
(open loop, latency from the scheduled send time) for the added latency:

  direct          GET {provider}/persons?national_id=...
  gdx             GET {govhub}/gdx/r1/TH/GOV/<provider>/main/person/persons?national_id=...
  gdx + consent   the same through person-consent, with X-GDX-Consent

Also, in the same run: the evidence log's append ceiling on this database (govhub's own
`evidence.append` + commit, 1 session and C sessions, against plain inserts without the
counter), sampled lock waits in PostgreSQL during the GDX runs, `govhub evidence verify` of
the log the run wrote, and bench_evidence_verify.py over --verify-records records.

    .venv/bin/python bench/bench_exchange.py
    .venv/bin/python bench/bench_exchange.py --workers 2,4 --verify-records 0
    .venv/bin/python bench/bench_exchange.py --keep-alive      # reuse connections (see README)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import common  # noqa: E402
from common import HOST, OperationFailed, heading, say  # noqa: E402

PURPOSE = "ตรวจสอบคุณสมบัติผู้ยื่นคำขอรับสวัสดิการ"
FIELDS = ["national_id", "first_name_th", "last_name_th", "birth_date", "address"]
PASSWORD = "bench-exchange-password-2569"
KINDS = ("direct", "gdx", "gdx_consent")
LABELS = {
    "direct": "direct to the provider",
    "gdx": "through GDX (auth, access right, purpose)",
    "gdx_consent": "through GDX + consent check",
}


# --- the provider agency's own system (run by uvicorn in its own processes) -----------------


def _provider_app() -> Any:
    from starlette.applications import Starlette
    from starlette.responses import JSONResponse, PlainTextResponse
    from starlette.routing import Route

    async def person(request: Any) -> JSONResponse:
        return JSONResponse({
            "national_id": request.query_params.get("national_id", ""), "first_name_th": "สมหญิง",
            "last_name_th": "ทดสอบ", "birth_date": "1990-04-21",
            "address": "99 หมู่ 1 ต.บางกระสอ อ.เมืองนนทบุรี จ.นนทบุรี 11000",
        })

    async def healthz(_request: Any) -> PlainTextResponse:
        return PlainTextResponse("ok")

    return Starlette(routes=[Route("/persons", person), Route("/healthz", healthz)])


if os.environ.get("GOVHUB_BENCH_PROVIDER") == "1":  # only in the provider's processes
    provider_app = _provider_app()


class ProviderServer(common.Server):
    """uvicorn serving provider_app above, W processes: the provider's system."""

    def _command(self) -> list[str]:
        return [
            sys.executable, "-m", "uvicorn", "bench_exchange:provider_app", "--app-dir", str(HERE),
            "--host", HOST, "--port", str(self.port), "--workers", str(self.workers),
            "--log-level", "warning", "--no-access-log",
        ]


# --- arrangement, through govhub's own service functions ----------------------------------


@dataclass
class Caller:
    """One consumer subsystem's call: its token, its path and a person who consented to it."""

    client_id: str
    secret: str
    client_path: str
    national_id: str
    consent_id: str
    token: str = ""


@dataclass
class Fixture:
    provider_path: str
    callers: list[Caller] = field(default_factory=list)


async def prepare(provider_url: str, consumers: int, citizens: int) -> Fixture:
    """Provider, services, consumers with approved access rights, citizens' consents."""
    from govhub.db import dispose_engine, unit_of_work
    from govhub.exchange import service as gdx
    from govhub.exchange.models import AccessPolicy, AccessRequestStatus, DataClassification
    from govhub.identity import keys
    from govhub.identity import service as identity
    from govhub.identity.clients import register_client
    from govhub.identity.models import AccountKind
    from govhub.kit.thai_ids import with_check_digit

    async def party(session: Any, code: str) -> tuple[Any, str, str]:
        agency = await identity.create_agency(session, code=code, name_th="หน่วยงาน " + code,
                                              name_en="Agency " + code, actor_id=None)
        member = await gdx.ensure_member(session, agency=agency)
        registered = await register_client(
            session, name="system " + code, client_type="confidential", token_endpoint_auth_method="client_secret_basic",
            redirect_uris=[], grant_types=["client_credentials"], scopes=["gdx"], agency_id=agency.id, actor_id=None,
        )
        subsystem = await gdx.register_subsystem(session, member=member, code="main", name="main system",
                                                 oauth_client_id=registered.client.client_id)
        return subsystem, registered.client.client_id, registered.secret or ""

    try:
        async with unit_of_work() as session:
            await keys.rotate_signing_key(session)  # as at installation: one active token key
            provider, _, _ = await party(session, "BPROV" + secrets.token_hex(2).upper())
            common_values = dict(
                title_th="ข้อมูลบุคคล", title_en="Person", backend="remote", remote_url=provider_url,
                returned_fields=FIELDS, personal_fields=FIELDS, classification=DataClassification.CONFIDENTIAL,
                access_policy=AccessPolicy.APPROVAL_REQUIRED, key_parameter="national_id", timeout_ms=5000,
            )
            services = [
                await gdx.publish_service(session, provider=provider, code="person", requires_consent=False,
                                          **common_values),
                await gdx.publish_service(session, provider=provider, code="person-consent", requires_consent=True,
                                          **common_values),
            ]
            people = []
            for index in range(citizens):
                national_id = with_check_digit(f"1{index:02d}" + "".join(secrets.choice("0123456789") for _ in range(9)))
                account = await identity.register_account(session, data=identity.Registration(
                    kind=AccountKind.CITIZEN, email=f"bench-gdx-{index}@example.go.th",
                    full_name=f"ผู้ทดสอบ แลกเปลี่ยน {index}", password=PASSWORD, national_id=national_id,
                ))
                people.append(account)
            fixture = Fixture(provider_path=provider.client_path)
            for index in range(consumers):
                consumer, client_id, secret = await party(session, f"BCONS{index}" + secrets.token_hex(2).upper())
                for service in services:
                    request = await gdx.request_access(
                        session, service=service, consumer=consumer, purpose=PURPOSE,
                        legal_basis="พ.ร.บ. การอำนวยความสะดวก พ.ศ. 2558", requested_by=client_id,
                    )
                    await gdx.decide_access(session, request=request, service=service,
                                            decision=AccessRequestStatus.APPROVED, reason="", decided_by="bench")
                for account in people:
                    consent = await gdx.give_consent(session, account=account, service=services[1], consumer=consumer,
                                                     purpose=PURPOSE, fields=FIELDS, days=30)
                    fixture.callers.append(Caller(client_id, secret, consumer.client_path, account.national_id,
                                                  consent.id))
    finally:
        await dispose_engine()
    return fixture


async def get_tokens(base_url: str, fixture: Fixture) -> None:
    """One client-credentials token per consumer client, from /oidc/token."""
    import httpx

    tokens: dict[str, str] = {}
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as http:
        for caller in fixture.callers:
            if caller.client_id not in tokens:
                response = await http.post("/oidc/token", data={"grant_type": "client_credentials", "scope": "gdx"},
                                           auth=(caller.client_id, caller.secret))
                if response.status_code != 200:
                    raise RuntimeError(f"token endpoint answered {response.status_code}: {response.text[:300]}")
                tokens[caller.client_id] = response.json()["access_token"]
            caller.token = tokens[caller.client_id]


# --- the calls ---------------------------------------------------------------------------------


KEEP_ALIVE = False


def http_client(base_url: str, connections: int = 1) -> Any:
    """By default a new connection per request (Connection: close), so that whichever uvicorn
    worker is free accepts it; with --keep-alive, one connection per client, reused."""
    import httpx

    headers = None if KEEP_ALIVE else {"connection": "close"}
    return httpx.AsyncClient(base_url=base_url, timeout=30, headers=headers,
                             limits=httpx.Limits(max_connections=connections, max_keepalive_connections=connections))


def make_operation(kind: str, fixture: Fixture) -> Any:
    """operation(client, iteration) -> {"GET": seconds}; the client's base URL picks the target."""
    perf = time.perf_counter
    callers = fixture.callers
    purpose = quote(PURPOSE)
    service = "person-consent" if kind == "gdx_consent" else "person"
    gdx_path = f"/gdx/r1/{fixture.provider_path}/{service}/persons"

    async def direct(http: Any, iteration: int) -> dict[str, float]:
        caller = callers[iteration % len(callers)]
        headers = {"X-Road-Client": caller.client_path, "X-Road-Id": uuid.uuid4().hex}
        started = perf()
        response = await http.get("/persons", params={"national_id": caller.national_id}, headers=headers)
        elapsed = perf() - started
        if response.status_code != 200 or response.json().get("national_id") != caller.national_id:
            raise OperationFailed(f"direct {response.status_code}")
        return {"GET": elapsed}

    async def through_gdx(http: Any, iteration: int) -> dict[str, float]:
        caller = callers[iteration % len(callers)]
        request_id = uuid.uuid4().hex
        headers = {"authorization": f"Bearer {caller.token}", "X-Road-Client": caller.client_path,
                   "X-Road-Id": request_id, "X-GDX-Purpose": purpose}
        if kind == "gdx_consent":
            headers["X-GDX-Consent"] = caller.consent_id
        started = perf()
        response = await http.get(gdx_path, params={"national_id": caller.national_id}, headers=headers)
        elapsed = perf() - started
        if response.status_code != 200:
            try:
                code = response.json()["error"]["code"]
            except (ValueError, KeyError, TypeError):
                code = ""
            raise OperationFailed(f"gdx {response.status_code} {code}".strip())
        if response.headers.get("x-road-id") != request_id or response.json().get("national_id") != caller.national_id:
            raise OperationFailed("gdx answer without its X-Road-Id or record")
        return {"GET": elapsed}

    return direct if kind == "direct" else through_gdx


# --- measurement helpers ------------------------------------------------------------------------


class LockSampler:
    """Samples pg_stat_activity of the benchmark database: how many sessions wait on a lock
    (the evidence counter's row) or on WAL I/O (the commit's fsync), while a phase runs."""

    def __init__(self, database: str, every: float = 0.05) -> None:
        self.database, self.every = database, every
        self.samples: list[tuple[int, int, int]] = []
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        import asyncpg

        connection = await asyncpg.connect(common._plain(common.ADMIN_URL))
        try:
            while not self._stop.is_set():
                row = await connection.fetchrow(
                    "SELECT count(*) FILTER (WHERE wait_event_type = 'Lock'"
                    "   AND query LIKE '%evidence_log_head%') AS lock,"
                    " count(*) FILTER (WHERE wait_event IN ('WALSync', 'WALWrite', 'WALFlush')"
                    "   OR (wait_event_type = 'LWLock' AND wait_event LIKE 'WAL%')) AS wal,"
                    " count(*) FILTER (WHERE state <> 'idle') AS busy"
                    " FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
                    self.database,
                )
                self.samples.append((row["lock"], row["wal"], row["busy"]))
                try:
                    await asyncio.wait_for(self._stop.wait(), timeout=self.every)
                except TimeoutError:
                    pass
        finally:
            await connection.close()

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> dict[str, float]:
        self._stop.set()
        if self._task is not None:
            await self._task
        n = len(self.samples) or 1
        return {
            "samples": len(self.samples),
            "lock_waiters_mean": round(sum(s[0] for s in self.samples) / n, 2),
            "lock_waiting_share": round(sum(1 for s in self.samples if s[0]) / n, 3),
            "wal_waiters_mean": round(sum(s[1] for s in self.samples) / n, 2),
            "busy_sessions_mean": round(sum(s[2] for s in self.samples) / n, 2),
        }


@dataclass
class Phase:
    """One measured phase: the load result plus the provider's CPU and PostgreSQL's waits."""

    kind: str
    mode: str  # "closed" (C clients, throughput) or "paced" (fixed arrival rate, latency)
    result: common.LoadResult
    provider_cpu: float
    waits: dict[str, float]

    @property
    def server_cpu(self) -> float:
        return sum(self.result.server_cpu_by_pid.values())

    def idle_pct(self) -> float:
        cores = os.cpu_count() or 1
        return max(0.0, 100 - self.result.machine_cpu / (self.result.elapsed * cores) * 100)

    def summary(self) -> dict[str, Any]:
        r = self.result
        ok = r.ok or 1
        return {
            **r.summary("GET"),
            "kind": self.kind, "mode": self.mode, "concurrency": r.concurrency,
            "govhub_cpu_ms_per_op": round(self.server_cpu / ok * 1000, 2),
            "govhub_cpu_by_process_s": [round(v, 2) for v in r.server_cpu_by_pid.values() if v >= 0.05],
            "provider_cpu_ms_per_op": round(self.provider_cpu / ok * 1000, 2),
            "database_cpu_ms_per_op": round(r.database_cpu / ok * 1000, 2),
            "load_generator_cpu_ms_per_op": round(r.client_cpu / ok * 1000, 2),
            "machine_idle_pct": round(self.idle_pct(), 1),
            "elapsed_s": round(r.elapsed, 2),
            "waits": self.waits,
        }


async def paced_loop(
    name: str, *, rate: float, duration: float, make_client: Any, operation: Any, server: common.Server,
    connections: int,
) -> common.LoadResult:
    """Open loop: request i is due at start + i/rate, whatever the earlier ones are doing;
    its latency counts from when it was due (no coordinated omission)."""
    from collections import Counter

    client = make_client(connections)
    timings: list[float] = []
    failures: Counter[str] = Counter()
    total = int(rate * duration)
    cpu_before = server.cpu_by_pid()
    machine_before, database_before = common.machine_busy_seconds(), common.database_cpu_seconds()
    client_cpu_before = time.process_time()
    started = time.perf_counter()

    async def one(index: int) -> None:
        due = started + index / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        try:
            await operation(client, index)
        except OperationFailed as error:
            failures[error.reason] += 1
            return
        except Exception as error:  # noqa: BLE001 - a benchmark counts, it does not crash
            failures[type(error).__name__] += 1
            return
        timings.append(time.perf_counter() - due)

    try:
        await asyncio.gather(*(one(index) for index in range(total)))
    finally:
        await client.aclose()
    elapsed = time.perf_counter() - started
    cpu_after = server.cpu_by_pid()
    return common.LoadResult(
        name, connections, elapsed, len(timings), failures, {"GET": timings}, time.process_time() - client_cpu_before,
        {pid: cpu_after[pid] - cpu_before.get(pid, 0.0) for pid in cpu_after},
        common.machine_busy_seconds() - machine_before, False, common.database_cpu_seconds() - database_before,
    )


async def run_phases(
    args: argparse.Namespace, fixture: Fixture, govhub: common.Server, provider: ProviderServer, database: str,
) -> list[Phase]:
    phases: list[Phase] = []
    targets = {"direct": provider.base_url, "gdx": govhub.base_url, "gdx_consent": govhub.base_url}
    # Warm every path (JIT-free Python, but pools, caches and the first token verification).
    for kind in KINDS:
        await common.closed_loop(kind, concurrency=args.concurrency, duration=args.warmup,
                                 make_client=lambda _i, k=kind: http_client(targets[k]),
                                 operation=make_operation(kind, fixture))
    for mode in ("closed", "paced"):
        for kind in KINDS:
            operation = make_operation(kind, fixture)
            sampler = LockSampler(database)
            provider_before = sum(provider.cpu_by_pid().values())
            sampler.start()
            if mode == "closed":
                result = await common.closed_loop(
                    kind, concurrency=args.concurrency, duration=args.duration, server=govhub,
                    make_client=lambda _i, k=kind: http_client(targets[k]), operation=operation,
                )
            else:
                result = await paced_loop(
                    kind, rate=args.rate, duration=args.paced_duration, server=govhub, operation=operation,
                    make_client=lambda n, k=kind: http_client(targets[k], n), connections=args.concurrency,
                )
            waits = await sampler.stop()
            phase = Phase(kind, mode, result, sum(provider.cpu_by_pid().values()) - provider_before, waits)
            phases.append(phase)
            report_phase(phase)
    return phases


def report_phase(phase: Phase) -> None:
    r = phase.result
    s = phase.summary()
    label = f"{LABELS[phase.kind]}" + (f" @ {r.ok / r.elapsed:.0f}/s paced" if phase.mode == "paced" else "")
    say(f"  {label:<48}" + r.line("GET", "req"))
    per_process = ", ".join(f"{v:.1f}" for v in s["govhub_cpu_by_process_s"]) or "-"
    say(" " * 50 + f"CPU ms/request: govhub {s['govhub_cpu_ms_per_op']} (per process s: {per_process}),"
        f" provider {s['provider_cpu_ms_per_op']}, PostgreSQL {s['database_cpu_ms_per_op']},"
        f" load generator {s['load_generator_cpu_ms_per_op']}; machine idle {s['machine_idle_pct']:.0f}%,"
        f" noise {r.noise_pct:.0f}%")
    if phase.kind != "direct":
        w = phase.waits
        say(" " * 50 + f"PostgreSQL sessions (sampled {w['samples']}x): busy {w['busy_sessions_mean']},"
            f" waiting on a lock {w['lock_waiters_mean']} (in {w['lock_waiting_share'] * 100:.0f}% of samples),"
            f" waiting on WAL I/O {w['wal_waiters_mean']}")


# --- the evidence log's append ceiling (in this process, no HTTP) ------------------------------


async def append_ceiling(concurrency: int, duration: float) -> list[dict[str, Any]]:
    """evidence.append + commit as fast as possible: 1 session, then `concurrency` sessions;
    and, for comparison, the same number of sessions committing plain inserts (no counter)."""
    import hashlib

    from sqlalchemy import text

    from govhub.db import dispose_engine, unit_of_work
    from govhub.exchange import evidence

    digest = hashlib.sha256(b"bench").hexdigest()

    def entry() -> Any:
        return evidence.EvidenceEntry(
            request_id=uuid.uuid4().hex, consumer="TH/GOV/BENCH/main", provider="TH/GOV/BPROV/main",
            service_code="person", status="allowed", request_hash=digest, response_hash=digest, purpose=PURPOSE,
            duration_ms=1.5,
        )

    async def append_once() -> None:
        async with unit_of_work() as session:
            await evidence.append(session, entry=entry())

    async def insert_once() -> None:
        async with unit_of_work() as session:
            await session.execute(text("INSERT INTO bench_scratch (request_id, body) VALUES (:r, :b)"),
                                  {"r": uuid.uuid4().hex, "b": digest})

    async def run(label: str, once: Any, sessions: int) -> dict[str, Any]:
        latencies: list[float] = []
        machine_before, database_before = common.machine_busy_seconds(), common.database_cpu_seconds()
        own_before = time.process_time()
        started = time.perf_counter()
        deadline = started + duration

        async def worker() -> None:
            while time.perf_counter() < deadline:
                begin = time.perf_counter()
                await once()
                latencies.append(time.perf_counter() - begin)

        await asyncio.gather(*(worker() for _ in range(sessions)))
        elapsed = time.perf_counter() - started
        busy = common.machine_busy_seconds() - machine_before
        return {
            "label": label, "sessions": sessions, "rate": len(latencies) / elapsed,
            "p50_ms": common.percentile(latencies, 50) * 1000, "p99_ms": common.percentile(latencies, 99) * 1000,
            "machine_idle_pct": max(0.0, 100 - busy / (elapsed * (os.cpu_count() or 1)) * 100),
            "database_cpu_ms_per_op": (common.database_cpu_seconds() - database_before) / max(1, len(latencies)) * 1000,
            "own_cpu_ms_per_op": (time.process_time() - own_before) / max(1, len(latencies)) * 1000,
        }

    try:
        async with unit_of_work() as session:
            await session.execute(text(
                "CREATE TABLE IF NOT EXISTS bench_scratch (id bigserial PRIMARY KEY, request_id text, body text)"
            ))
        results = [
            await run("evidence.append + commit", append_once, 1),
            await run("evidence.append + commit", append_once, concurrency),
            await run("plain INSERT + commit, no counter", insert_once, concurrency),
        ]
        async with unit_of_work() as session:
            await session.execute(text("DROP TABLE bench_scratch"))
    finally:
        await dispose_engine()
    return results


async def verify_run_log() -> dict[str, Any]:
    """Sign a checkpoint of what the run logged, then verify the whole log."""
    from govhub.db import dispose_engine, unit_of_work
    from govhub.exchange import evidence

    try:
        async with unit_of_work() as session:
            checkpoint = await evidence.publish_checkpoint(session)
        async with unit_of_work() as session:
            report = await evidence.verify_log(session)
    finally:
        await dispose_engine()
    return {"tree_size": checkpoint.tree_size, "records": report.records, "ok": report.ok,
            "seconds": report.seconds, "rate": report.rate,
            "problems": [p.message for p in report.problems[:3]]}


def verify_million(records: int) -> dict[str, Any] | None:
    """bench_evidence_verify.py in its own process and database (it fills N records by COPY)."""
    with tempfile.TemporaryDirectory(prefix="govhub-bench-verify-") as directory:
        out = Path(directory) / "verify.json"
        command = [sys.executable, str(HERE / "bench_evidence_verify.py"), "--records", str(records), "--json", str(out)]
        completed = subprocess.run(command, cwd=HERE.parent, check=False, capture_output=True, text=True)
        for line in completed.stdout.splitlines():
            if line.strip():
                say("  " + line)
        if completed.returncode != 0 or not out.exists():
            say(f"  bench_evidence_verify.py failed (exit {completed.returncode}): {completed.stderr[-2000:]}")
            return None
        return json.loads(out.read_text())  # type: ignore[no-any-return]


# --- main -----------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", default="2", help="govhub web worker counts to try (comma-separated)")
    parser.add_argument("--provider-workers", type=int, default=2, help="uvicorn processes of the provider's system")
    parser.add_argument("--concurrency", type=int, default=16, help="concurrent clients (C)")
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per throughput phase")
    parser.add_argument("--warmup", type=float, default=1.0, help="discarded seconds per kind before measuring")
    parser.add_argument("--rate", type=float, default=50.0, help="arrival rate of the latency phases (requests/s)")
    parser.add_argument("--paced-duration", type=float, default=20.0,
                        help="seconds per latency phase (1,000 requests at 50/s: p99 is then the 10th slowest, not the 3rd)")
    parser.add_argument("--consumers", type=int, default=4, help="consumer subsystems (clients with a token each)")
    parser.add_argument("--citizens", type=int, default=4, help="citizens who consented to every consumer")
    parser.add_argument("--append-duration", type=float, default=3.0, help="seconds per evidence-append baseline")
    parser.add_argument("--verify-records", type=int, default=1_000_000,
                        help="records for bench_evidence_verify.py (0 = skip; it takes about a minute per million)")
    parser.add_argument("--keep-alive", action="store_true",
                        help="reuse each client's connection (uvicorn workers may then share the load unevenly)")
    parser.add_argument("--json", help="also write the figures to this JSON file")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    global KEEP_ALIVE
    args = parse_args(argv)
    KEEP_ALIVE = args.keep_alive
    worker_counts = [int(value) for value in args.workers.split(",") if value.strip()]
    heading("GDX exchange benchmark: direct call against the same call through govhub")
    say(f"machine: {common.machine_description()}; govhub {common.revision()}")
    connections = "keep-alive connections" if KEEP_ALIVE else "a new connection per request (Connection: close)"

    database = common.BenchDatabase()
    port, provider_port = common.free_port(), common.free_port()
    directory = common.run_dir()
    govhub: common.Server | None = None
    provider: ProviderServer | None = None
    began = time.perf_counter()
    rows: list[dict[str, Any]] = []
    appends: list[dict[str, Any]] = []
    run_log: dict[str, Any] = {}
    million: dict[str, Any] | None = None
    succeeded = failures_seen = False
    with common.terminate_cleanly():
        try:
            database.create()
            env = common.bench_env(database.url, port)
            common.use_bench_env(env)
            database.migrate()
            common.quiet_govhub_logs()
            provider_env = {k: v for k, v in env.items() if not k.startswith("GOVHUB_")} | {"GOVHUB_BENCH_PROVIDER": "1"}
            provider = ProviderServer(provider_env, workers=args.provider_workers, port=provider_port, run_dir=directory)
            provider.start()
            started = time.perf_counter()
            fixture = asyncio.run(prepare(provider.base_url, args.consumers, args.citizens))
            say(f"database {database.name}: provider subsystem {fixture.provider_path} with services person and"
                f" person-consent (remote, {len(FIELDS)} personal fields, approval required); {args.consumers} consumers"
                f" with approved access; {args.citizens} citizens consented to each; in {time.perf_counter() - started:.1f} s")
            say(f"provider system: uvicorn --workers {args.provider_workers} on {provider.base_url} (Starlette, one JSON record)")

            heading(f"Evidence log append ceiling on this database, no HTTP (govhub's evidence.append, {args.append_duration:.0f} s each)")
            appends = asyncio.run(append_ceiling(args.concurrency, args.append_duration))
            for a in appends:
                say(f"  {a['label']:<36} {a['sessions']:>2} session(s): {a['rate']:7.0f} commits/s   p50 {a['p50_ms']:.2f} ms"
                    f"  p99 {a['p99_ms']:.2f} ms   machine idle {a['machine_idle_pct']:.0f}%")

            for workers in worker_counts:
                govhub = common.Server(env, workers=workers, port=port, run_dir=directory)
                govhub.start()
                asyncio.run(get_tokens(govhub.base_url, fixture))
                heading(f"govhub serve --workers {workers}; C = {args.concurrency} clients for {args.duration:.0f} s"
                        f" (throughput), then {args.rate:.0f} requests/s for {args.paced_duration:.0f} s (latency);"
                        f" {connections}")
                phases = asyncio.run(run_phases(args, fixture, govhub, provider, database.name))
                memory, provider_memory = govhub.memory(), provider.memory()
                say("  govhub " + memory.describe())
                say("  provider " + provider_memory.describe())
                if any(p.result.failures for p in phases):
                    failures_seen = True
                    say("  server errors:\n" + (govhub.errors()[-3000:] or "(none logged)"))
                govhub.stop()
                govhub = None
                by: dict[str, dict[str, Any]] = {}
                for phase in phases:
                    by.setdefault(phase.mode, {})[phase.kind] = phase.summary()
                rows.append({
                    "workers": workers, "provider_workers": args.provider_workers, "concurrency": args.concurrency,
                    "keep_alive": KEEP_ALIVE, "rate": args.rate, "phases": by,
                    "memory_max_mib": round(memory.max_mib, 1), "memory_sum_mib": round(memory.sum_mib, 1),
                    "provider_memory_sum_mib": round(provider_memory.sum_mib, 1),
                    "append_ceiling": round(appends[1]["rate"], 1),
                })
                report_comparison(rows[-1])

            heading("govhub evidence verify of the log this run wrote")
            run_log = asyncio.run(verify_run_log())
            say(f"  checkpoint at {run_log['tree_size']:,} records; verify_log: {run_log['records']:,} records,"
                f" {'intact' if run_log['ok'] else 'NOT intact: ' + str(run_log['problems'])}")
            if not run_log["ok"]:
                failures_seen = True
            succeeded = True
        finally:
            common.tear_down(govhub, provider, database=database, directory=directory,
                             keep_logs=not succeeded or failures_seen)

    if args.verify_records > 0:
        heading(f"govhub evidence verify over {args.verify_records:,} records (bench_evidence_verify.py, own database)")
        million = verify_million(args.verify_records)

    heading("GDX exchange summary")
    for row in rows:
        report_comparison(row, brief=True)
    if appends:
        single, many, plain = appends
        say(f"evidence append ceiling: {single['rate']:.0f}/s with 1 session, {many['rate']:.0f}/s with {many['sessions']}"
            f" (machine idle {many['machine_idle_pct']:.0f}%); plain inserts without the counter: {plain['rate']:.0f}/s")
    if million:
        say(f"govhub evidence verify: {million['records']:,} records in {million['seconds']:.1f} s ="
            f" {million['rate']:,.0f} records/s ({'intact' if million['ok'] else 'NOT intact'});"
            f" noise {million['other_cpu_pct']:.0f}%")
    say(f"(total run {time.perf_counter() - began:.0f} s)")
    common.write_results(args.json, {
        "benchmark": "exchange", "machine": common.machine_description(), "revision": common.revision(),
        "rows": rows, "appends": appends, "run_log": run_log, "verify": million,
    })
    return 1 if failures_seen or not succeeded else 0


def report_comparison(row: dict[str, Any], *, brief: bool = False) -> None:
    """Direct against GDX: throughput ratio and added latency."""
    p = row["phases"]
    direct, paced_direct = p["closed"]["direct"], p["paced"]["direct"]
    if not brief:
        heading(f"W = {row['workers']}: GDX against direct")
    for kind in ("gdx", "gdx_consent"):
        closed, paced = p["closed"][kind], p["paced"][kind]
        ratio = closed["rate"] / direct["rate"] if direct["rate"] else float("nan")
        say(f"  W={row['workers']} C={row['concurrency']} {LABELS[kind]}: {closed['rate']:.0f} req/s against direct"
            f" {direct['rate']:.0f} req/s = {ratio * 100:.0f}% (target >= 50%);"
            f" govhub CPU {closed['govhub_cpu_ms_per_op']} ms/request, machine idle {closed['machine_idle_pct']:.0f}%")
        say(f"      added latency at {row['rate']:.0f} req/s: p50 {paced['p50_ms'] - paced_direct['p50_ms']:+.1f} ms"
            f" ({paced_direct['p50_ms']:.1f} -> {paced['p50_ms']:.1f}), p99 {paced['p99_ms'] - paced_direct['p99_ms']:+.1f} ms"
            f" ({paced_direct['p99_ms']:.1f} -> {paced['p99_ms']:.1f}; target < 10 ms);"
            f" at C={row['concurrency']} (saturated): p50 {closed['p50_ms']:.1f} vs {direct['p50_ms']:.1f},"
            f" p99 {closed['p99_ms']:.1f} vs {direct['p99_ms']:.1f} ms")
        say("      " + limit_analysis(closed, row.get("append_ceiling")))
    say(f"      peak RSS govhub: max {row['memory_max_mib']:.0f} MiB per process, {row['memory_sum_mib']:.0f} MiB in all"
        f" ({row['workers']} workers + supervisor); provider {row['provider_memory_sum_mib']:.0f} MiB in all")


def limit_analysis(phase: dict[str, Any], append_ceiling: float | None) -> str:
    """What limited a saturated GDX phase: the CPUs, or the evidence counter's lock."""
    cores = os.cpu_count() or 1
    cpu_ms = (phase["govhub_cpu_ms_per_op"] + phase["provider_cpu_ms_per_op"] + phase["database_cpu_ms_per_op"]
              + phase["load_generator_cpu_ms_per_op"])
    ceiling = cores * 1000 / cpu_ms if cpu_ms else float("nan")
    waits = phase["waits"]
    queued_ms = waits["lock_waiters_mean"] / phase["rate"] * 1000 if phase["rate"] else float("nan")
    cpu_bound = phase["machine_idle_pct"] < 15
    busiest = max(phase["govhub_cpu_by_process_s"], default=0.0) / phase["elapsed_s"] if phase.get("elapsed_s") else 0.0
    verdict = "the CPUs" if cpu_bound else "not the CPUs (they were idle)"
    if not cpu_bound and busiest > 0.85:
        verdict = (f"one govhub worker, busy {busiest * 100:.0f}% of a core while the others idle"
                   " (keep-alive connections all accepted by one worker)")
    elif not cpu_bound and waits["lock_waiting_share"] > 0.8:
        verdict = "the evidence counter (CPUs idle while sessions queue on its lock)"
    text = (f"limit: {verdict}: machine idle {phase['machine_idle_pct']:.0f}%, {cpu_ms:.1f} ms of CPU per call in all"
            f" (govhub {phase['govhub_cpu_ms_per_op']}, load generator {phase['load_generator_cpu_ms_per_op']},"
            f" PostgreSQL {phase['database_cpu_ms_per_op']}, provider {phase['provider_cpu_ms_per_op']}) ="
            f" {ceiling:.0f} calls/s on {cores} cores; evidence counter: {waits['lock_waiters_mean']} sessions waiting"
            f" on its lock on average ({waits['lock_waiting_share'] * 100:.0f}% of samples), i.e. {queued_ms:.0f} ms"
            f" of each call's {phase['p50_ms']:.0f} ms p50 spent queueing for it (Little's law)")
    if append_ceiling:
        text += f"; its ceiling alone on this database: {append_ceiling:.0f} appends/s"
    return text


if __name__ == "__main__":
    sys.exit(main())
