"""Password sign-in through the real server: GET /sign-in (CSRF token) + POST /sign-in -> 303.

Prints sign-ins per second and the POST's p50/p99 for W web workers, next to the limits
measured in the same run: raw argon2id verification at the production cost in 1 and in W
processes, and GET /healthz at the same concurrency (the HTTP stack alone).

    .venv/bin/python bench/bench_sign_in.py                 # W = 2, 1, 4; 8 clients
    .venv/bin/python bench/bench_sign_in.py --workers 2 --concurrency 16 --duration 15
"""

from __future__ import annotations

import argparse
import asyncio
import random
import re
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common  # noqa: E402
from common import OperationFailed, heading, say  # noqa: E402

PASSWORD = "bench-sign-in-password-2569"
CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')
POST = "POST /sign-in"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", default="2,1,4", help="web worker counts to try, first is the main one")
    parser.add_argument("--concurrency", type=int, default=8, help="concurrent clients (C)")
    parser.add_argument("--duration", type=float, default=12.0, help="seconds of sign-ins for the first W")
    parser.add_argument("--other-duration", type=float, default=5.0, help="seconds of sign-ins for the other W")
    parser.add_argument("--healthz-duration", type=float, default=3.0, help="seconds of GET /healthz")
    parser.add_argument("--hash-duration", type=float, default=3.0, help="seconds per argon2id baseline")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds of discarded sign-ins per server")
    parser.add_argument("--accounts", type=int, default=20, help="citizen accounts to seed")
    parser.add_argument("--noisy-retries", type=int, default=1,
                        help="measure a phase again when other processes disturbed it (within --budget)")
    parser.add_argument("--budget", type=float, default=100.0, help="seconds after which no phase is measured again")
    parser.add_argument("--json", help="also write the figures to this JSON file")
    return parser.parse_args(argv)


async def seed_accounts(count: int) -> list[str]:
    """Register citizens through the service layer (argon2id at the real cost); return IDs."""
    from govhub.db import dispose_engine, unit_of_work
    from govhub.identity import service
    from govhub.identity.models import AccountKind
    from govhub.kit.thai_ids import with_check_digit

    rng = random.Random(2569)
    national_ids: list[str] = []
    try:
        async with unit_of_work() as session:
            for index in range(count):
                national_id = with_check_digit(str(rng.randint(1, 8)) + "".join(rng.choice("0123456789") for _ in range(11)))
                data = service.Registration(
                    kind=AccountKind.CITIZEN,
                    email=f"bench-citizen-{index:03d}@example.go.th",
                    full_name=f"ผู้ทดสอบ ลำดับที่ {index}",
                    password=PASSWORD,
                    national_id=national_id,
                )
                await service.register_account(session, data=data, ip="127.0.0.1")
                national_ids.append(national_id)
    finally:
        await dispose_engine()
    return national_ids


def _client(base_url: str, *, close: bool = False) -> Any:
    import httpx

    # One connection per client, and its own cookie jar. close: a new connection for every
    # request, so that whichever worker is free accepts it (with keep-alive, uvicorn's
    # workers race to accept() and one of them may end up with every connection).
    return httpx.AsyncClient(
        base_url=base_url, timeout=60, follow_redirects=False, limits=httpx.Limits(max_connections=1),
        headers={"connection": "close"} if close else None,
    )


async def measure_server(
    server: common.Server, national_ids: list[str], *, concurrency: int, duration: float, warmup: float,
    healthz_duration: float, retries: int, deadline: float,
) -> dict[str, Any]:
    """Sign-ins (with a /healthz probe alongside), then /healthz alone, at C clients."""
    perf = time.perf_counter

    async def sign_in(client: Any, iteration: int) -> dict[str, float]:
        client.cookies.clear()  # a new browser: no session, no CSRF cookie yet
        started = perf()
        page = await client.get("/sign-in")
        got_form = perf()
        if page.status_code != 200:
            raise OperationFailed(f"GET /sign-in {page.status_code}")
        match = CSRF_FIELD.search(page.text)
        if match is None:
            raise OperationFailed("no CSRF field")
        form = {"csrf_token": match.group(1), "identifier": national_ids[iteration % len(national_ids)], "password": PASSWORD}
        posted = perf()
        # Connection: close, so that the next sign-in (another person) opens a new
        # connection that any idle worker may accept, as browsers spread over workers do.
        response = await client.post("/sign-in", data=form, headers={"connection": "close"})
        done = perf()
        if response.status_code != 303:
            raise OperationFailed(f"POST /sign-in {response.status_code}")
        if "govhub_session" not in response.cookies:
            raise OperationFailed("303 without a session cookie")
        return {POST: done - posted, "GET /sign-in": got_form - started, "GET+POST": done - started}

    async def healthz(client: Any, _iteration: int) -> dict[str, float]:
        started = perf()
        response = await client.get("/healthz")
        if response.status_code != 200:
            raise OperationFailed(f"GET /healthz {response.status_code}")
        return {"GET /healthz": perf() - started}

    make = lambda _index: _client(server.base_url)  # noqa: E731
    if warmup > 0:
        await common.closed_loop("warm-up", concurrency=concurrency, duration=warmup, make_client=make, operation=sign_in)

    async def sign_ins_with_probe() -> tuple[common.LoadResult, list[float]]:
        stop = asyncio.Event()
        prober = asyncio.create_task(probe_during(server.base_url + "/healthz", stop))
        result = await common.closed_loop(
            "sign-in", concurrency=concurrency, duration=duration, make_client=make, operation=sign_in, server=server
        )
        stop.set()
        return result, await prober

    async def healthz_alone() -> common.LoadResult:
        return await common.closed_loop(
            "healthz", concurrency=concurrency, duration=healthz_duration, operation=healthz, server=server,
            warmup=0.5, make_client=lambda _index: _client(server.base_url, close=True),
        )

    sign_ins, probe_latencies = await common.quietest(
        sign_ins_with_probe, noise=lambda pair: pair[0].noise_pct, retries=retries, deadline=deadline
    )
    health = await common.quietest(healthz_alone, noise=lambda r: r.noise_pct, retries=retries, deadline=deadline)
    return {"sign_ins": sign_ins, "probe": probe_latencies, "healthz": health}


async def probe_during(url: str, stop: asyncio.Event) -> list[float]:
    return await common.probe(url, every=0.1, stop=stop)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    worker_counts = [int(value) for value in args.workers.split(",") if value.strip()]
    concurrency = args.concurrency
    heading("Sign-in benchmark: GET /sign-in + POST /sign-in (argon2id at the production cost)")
    say(f"machine: {common.machine_description()}; govhub {common.revision()}")

    database = common.BenchDatabase()
    port = common.free_port()
    directory = common.run_dir()
    server: common.Server | None = None
    began = time.perf_counter()
    rows: list[dict[str, Any]] = []
    baselines: dict[int, common.HashBaseline] = {}
    succeeded = failures_seen = False
    with common.terminate_cleanly():
        try:
            database.create()
            env = common.bench_env(database.url, port)
            common.use_bench_env(env)
            database.migrate()
            common.quiet_govhub_logs()
            params = common.argon2_settings()
            say(
                f"argon2id: time_cost {params['time_cost']}, memory {params['memory_kib'] // 1024} MiB, "
                f"parallelism {params['parallelism']} (Settings defaults, not lowered)"
            )
            seeding = time.perf_counter()
            national_ids = asyncio.run(seed_accounts(args.accounts))
            say(f"database {database.name}: migrated, {len(national_ids)} citizens registered in {time.perf_counter() - seeding:.1f} s")

            heading("Baseline: raw argon2id verify, same parameters, no server")
            for processes in sorted({1, *worker_counts}):
                baseline = common.argon2_baseline(params, processes=processes, duration=args.hash_duration)
                baselines[processes] = baseline
                say(baseline.line())

            for position, workers in enumerate(worker_counts):
                duration = args.duration if position == 0 else args.other_duration
                heading(f"Server: govhub serve --workers {workers}, {concurrency} clients, {duration:.0f} s")
                server = common.Server(env, workers=workers, port=port, run_dir=directory)
                server.start()
                measured = asyncio.run(
                    measure_server(
                        server, national_ids, concurrency=concurrency, duration=duration, warmup=args.warmup,
                        healthz_duration=args.healthz_duration, retries=args.noisy_retries,
                        deadline=time.monotonic() + max(0.0, args.budget - (time.perf_counter() - began)),
                    )
                )
                memory = server.memory()
                sign_ins, health, probe_latencies = measured["sign_ins"], measured["healthz"], measured["probe"]
                if sign_ins.failures or health.failures:
                    failures_seen = True
                    say("  server errors:\n" + (server.errors()[-3000:] or "(none logged)"))
                server.stop()
                server = None
                say("  sign-in        " + sign_ins.line(POST, "sign-ins"))
                say("                 " + " " * 17 + f"GET /sign-in p50 {sign_ins.p('GET /sign-in', 50):.1f} ms, whole sign-in p50 {sign_ins.p('GET+POST', 50):.1f} ms  p99 {sign_ins.p('GET+POST', 99):.1f} ms")
                say("                 " + sign_ins.cpu_line())
                say(
                    f"  healthz probe during sign-ins (new connection every 100 ms): p50 "
                    f"{common.percentile(probe_latencies, 50) * 1000:.1f} ms  p99 {common.percentile(probe_latencies, 99) * 1000:.1f} ms"
                    f"  max {max(probe_latencies, default=float('nan')) * 1000:.1f} ms  n={len(probe_latencies)}"
                )
                say("  healthz alone  " + health.line("GET /healthz", "req") + "  (new connection per request)")
                say("                 " + health.cpu_line())
                say("  " + memory.describe())
                hash_limit = baselines[workers].rate
                say(
                    f"  => {sign_ins.rate:.1f} sign-ins/s = {sign_ins.rate / hash_limit * 100:.0f}% of the raw argon2id limit"
                    f" in {workers} process{'es' if workers > 1 else ''} ({hash_limit:.1f}/s)"
                )
                rows.append(
                    {
                        "workers": workers,
                        "concurrency": concurrency,
                        "duration_s": round(sign_ins.elapsed, 1),
                        "sign_in": sign_ins.summary(POST),
                        "sign_in_full_p50_ms": round(sign_ins.p("GET+POST", 50), 2),
                        "healthz_probe_during_sign_in": {
                            "p50_ms": round(common.percentile(probe_latencies, 50) * 1000, 2),
                            "p99_ms": round(common.percentile(probe_latencies, 99) * 1000, 2),
                            "n": len(probe_latencies),
                        },
                        "healthz": health.summary("GET /healthz"),
                        "argon2_limit_per_s": round(hash_limit, 2),
                        "memory_max_mib": round(memory.max_mib, 1),
                        "memory_sum_mib": round(memory.sum_mib, 1),
                        "processes": len(memory.per_process_kib),
                    }
                )
            succeeded = True
        finally:
            common.tear_down(server, database=database, directory=directory,
                             keep_logs=not succeeded or failures_seen)

    heading("Sign-in summary")
    say(f"{'W':>2} {'C':>3} {'sign-ins/s':>10} {'POST p50':>9} {'POST p99':>9} {'fail':>5} {'argon2 limit/s':>14}"
        f" {'healthz req/s':>13} {'healthz p50/p99':>16} {'probe p50/p99':>16} {'RSS max/sum MiB':>16} {'noise':>6}")
    for row in rows:
        s, h, p = row["sign_in"], row["healthz"], row["healthz_probe_during_sign_in"]
        say(
            f"{row['workers']:>2} {row['concurrency']:>3} {s['rate']:>10.1f} {s['p50_ms']:>7.0f}ms {s['p99_ms']:>7.0f}ms {s['failures']:>5}"
            f" {row['argon2_limit_per_s']:>14.1f} {h['rate']:>13.0f} {h['p50_ms']:>7.1f}/{h['p99_ms']:<6.1f}ms"
            f" {p['p50_ms']:>7.1f}/{p['p99_ms']:<6.1f}ms {row['memory_max_mib']:>7.0f}/{row['memory_sum_mib']:<7.0f}"
            f" {s['other_cpu_pct']:>5.0f}%"
        )
    say("noise = CPU used by other processes on the machine during the sign-in run, as a share of all cores")
    say(f"(raw argon2id in one process: {baselines[1].rate:.1f} verifies/s, {baselines[1].p50_ms:.0f} ms each; "
        f"total run {time.perf_counter() - began:.0f} s)")
    common.write_results(
        args.json,
        {
            "benchmark": "sign_in",
            "machine": common.machine_description(), "revision": common.revision(),
            "argon2": params,
            "argon2_baselines": [vars(baseline) for baseline in baselines.values()],
            "rows": rows,
        },
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
