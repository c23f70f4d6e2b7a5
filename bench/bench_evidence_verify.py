"""`govhub evidence verify` over a large log: records per second and peak memory.

Fills a fresh PostgreSQL database with N synthetic evidence records (COPY through asyncpg,
leaf hashes computed as govhub does), publishes signed checkpoints at N/4, N/2, 3N/4 and N
through govhub itself (incrementally), then times `verify_log` in a separate process so that
its peak memory is its own. Also prints, in the same run: the read rate alone (the same
keyset pages, no hashing), a few proofs at size N checked against the signed root, and the
CPU other processes used meanwhile (noise).

    .venv/bin/python bench/bench_evidence_verify.py                  # N = 1,000,000
    .venv/bin/python bench/bench_evidence_verify.py --records 200000 --json out.json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common  # noqa: E402
from common import heading, say  # noqa: E402

COPY_CHUNK = 50_000


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--records", type=int, default=1_000_000, help="evidence records to create (N)"
    )
    parser.add_argument(
        "--checkpoints", type=int, default=4, help="signed checkpoints, evenly spaced"
    )
    parser.add_argument("--json", help="also write the figures to this JSON file")
    parser.add_argument(
        "--measure", action="store_true", help=argparse.SUPPRESS
    )  # the child process
    return parser.parse_args(argv)


# --- filling the log ------------------------------------------------------------------------


def _record(seq: int, rng: random.Random, start: datetime) -> list[Any]:
    """One synthetic call, as FIELDS values (realistic sizes, a tenth of them refused)."""
    refused = rng.random() < 0.1
    return [
        seq,
        start + timedelta(microseconds=seq * 2_300 + rng.randrange(1000)),
        f"{rng.getrandbits(128):032x}",
        f"TH/GOV/{rng.choice(['DBD', 'RD', 'SSO', 'NHSO', 'MOE'])}/system-{rng.randrange(40)}",
        "TH/GOV/DOPA/civil-registry",
        rng.choice(["person-by-id", "address-by-id", "house-members"]),
        f"officer-{rng.randrange(5000)}" if rng.random() < 0.7 else None,
        "ตรวจสอบคุณสมบัติผู้ยื่นคำขอรับสวัสดิการ",
        f"{rng.getrandbits(64):016x}" if rng.random() < 0.5 else None,
        f"{rng.getrandbits(96):024x}",
        f"{rng.getrandbits(256):064x}",
        None if refused else f"{rng.getrandbits(256):064x}",
        "refused" if refused else "allowed",
        rng.choice(["no_access_right", "consent_missing", "provider_timeout"]) if refused else None,
        rng.randrange(300, 90_000),
    ]


async def _copy_range(
    connection: Any, first: int, end: int, rng: random.Random, start: datetime
) -> None:
    from govhub.exchange.evidence import FIELDS, record_leaf_hash

    for chunk in range(first, end, COPY_CHUNK):
        rows = []
        for seq in range(chunk, min(end, chunk + COPY_CHUNK)):
            values = _record(seq, rng, start)
            rows.append((*values, record_leaf_hash(values).hex()))
        await connection.copy_records_to_table(
            "evidence_records", records=rows, columns=[*FIELDS, "leaf_hash"]
        )


async def fill(database_url: str, records: int, checkpoints: int) -> dict[str, float]:
    """COPY the records in, moving the size counter and signing a checkpoint at each step."""
    import asyncpg

    from govhub.db import dispose_engine, unit_of_work
    from govhub.exchange import evidence

    rng = random.Random(2569)
    start = datetime(2026, 11, 1, tzinfo=UTC)
    connection = await asyncpg.connect(
        database_url.replace("postgresql+asyncpg://", "postgresql://")
    )
    copy_seconds = sign_seconds = 0.0
    try:
        steps = sorted({records * (i + 1) // checkpoints for i in range(checkpoints)})
        done = 0
        for size in steps:
            began = time.perf_counter()
            await _copy_range(connection, done, size, rng, start)
            await connection.execute("UPDATE evidence_log_head SET size = $1 WHERE id = 1", size)
            copy_seconds += time.perf_counter() - began
            began = time.perf_counter()
            async with unit_of_work() as session:
                checkpoint = await evidence.publish_checkpoint(session)
            sign_seconds += time.perf_counter() - began
            say(f"  {size:>9,} records, checkpoint root {checkpoint.root_hash[:16]}...")
            done = size
        await connection.execute("ANALYZE")
    finally:
        await connection.close()
        await dispose_engine()
    return {"copy_seconds": copy_seconds, "checkpoint_seconds": sign_seconds}


# --- measuring (in a child process) -----------------------------------------------------------


def _status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


async def _read_only() -> tuple[int, float]:
    """The same keyset pages verify reads, without hashing: the database's share of the time."""
    from govhub.db import unit_of_work
    from govhub.exchange import evidence

    table = evidence.EvidenceRecord.__table__
    columns = [table.c[name] for name in evidence.FIELDS] + [table.c.leaf_hash]
    count = 0
    began = time.perf_counter()
    async with unit_of_work() as session:
        size = await evidence.log_size(session)
        async for rows in evidence._leaf_pages(session, 0, size, columns):
            count += len(rows)
    return count, time.perf_counter() - began


async def _proofs(samples: int = 20) -> dict[str, Any]:
    """Inclusion and consistency proofs at the largest checkpoint, checked against signed roots."""
    from govhub.db import unit_of_work
    from govhub.exchange import evidence, merkle

    rng = random.Random(6962)
    async with unit_of_work() as session:
        checkpoints = sorted(await evidence.list_checkpoints(session), key=lambda c: c.tree_size)
        latest, first = checkpoints[-1], checkpoints[0]
        size, root = latest.tree_size, bytes.fromhex(latest.root_hash)
        began = time.perf_counter()
        ok = 0
        for index in rng.sample(range(size), samples):
            proof = await evidence.inclusion_proof(session, index, size)
            path = [bytes.fromhex(h) for h in proof.audit_path]
            ok += merkle.verify_inclusion(index, size, bytes.fromhex(proof.leaf_hash), path, root)
        inclusion_ms = (time.perf_counter() - began) * 1000 / samples
        began = time.perf_counter()
        proof = await evidence.consistency_proof(session, first.tree_size, size)
        consistency_ms = (time.perf_counter() - began) * 1000
        path = [bytes.fromhex(h) for h in proof.consistency_path]
        consistent = merkle.verify_consistency(
            first.tree_size, size, bytes.fromhex(first.root_hash), root, path
        )
    return {
        "inclusion_ms": inclusion_ms,
        "inclusion_ok": ok,
        "samples": samples,
        "consistency_ms": consistency_ms,
        "consistency_ok": consistent,
    }


def _process_cpu_seconds(pid: int) -> float:
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _timed_verify() -> dict[str, Any]:
    """verify_log, with the CPU of this process, of its PostgreSQL backend, and of everything else."""
    from sqlalchemy import text

    from govhub.db import unit_of_work
    from govhub.exchange import evidence

    async with unit_of_work() as session:
        backend = int(await session.scalar(text("SELECT pg_backend_pid()")))
        busy, backend_cpu, own_cpu = (
            common.machine_busy_seconds(),
            _process_cpu_seconds(backend),
            time.process_time(),
        )
        report = await evidence.verify_log(session)
        backend_cpu = _process_cpu_seconds(backend) - backend_cpu
        own_cpu = time.process_time() - own_cpu
        others = common.machine_busy_seconds() - busy - backend_cpu - own_cpu
    return {
        "records": report.records,
        "seconds": report.seconds,
        "rate": report.rate,
        "ok": report.ok,
        "checkpoints": report.checkpoints,
        "signatures_ok": report.signatures_ok,
        "problems": [p.message for p in report.problems[:5]],
        "peak_rss_kib": _status_kib("VmHWM"),
        "cpu_seconds": own_cpu,
        "postgres_cpu_seconds": backend_cpu,
        "other_cpu_pct": max(0.0, 100 * others / (report.seconds * (os.cpu_count() or 1))),
    }


async def _measure() -> dict[str, Any]:
    from govhub.db import dispose_engine

    result: dict[str, Any] = {"rss_before_kib": _status_kib("VmRSS")}
    try:
        result.update(await _timed_verify())
        read_count, read_seconds = await _read_only()
        result.update(read_rate=read_count / read_seconds, read_seconds=read_seconds)
        result["proofs"] = await _proofs()
    finally:
        await dispose_engine()
    return result


def measure_in_child(env: dict[str, str]) -> dict[str, Any]:
    """Run the measurement in a fresh process, so that its peak memory is verify's own."""
    completed = subprocess.run(
        [sys.executable, __file__, "--measure"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        cwd=common.REPO,
    )
    if completed.returncode != 0:
        raise common.OperationFailed(f"measurement failed:\n{completed.stderr[-3000:]}")
    return json.loads(completed.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


# --- report -----------------------------------------------------------------------------------


def report(args: argparse.Namespace, fill: dict[str, float], result: dict[str, Any]) -> None:
    heading("Result")
    say(f"machine: {common.machine_description()}; govhub {common.revision()}")
    say(
        f"log: {args.records:,} records, {result['checkpoints']} checkpoints (filled by COPY in "
        f"{fill['copy_seconds']:.1f} s; checkpoints signed in {fill['checkpoint_seconds']:.1f} s)"
    )
    verdict = "intact" if result["ok"] else f"NOT intact: {result['problems']}"
    signatures = f"{result['signatures_ok']}/{result['checkpoints']} signatures valid"
    say(
        f"verify_log: {result['records']:,} records in {result['seconds']:.1f} s"
        f" = {result['rate']:,.0f} records/s ({verdict}; {signatures})"
    )
    say(
        f"  peak memory of the verifying process: {result['peak_rss_kib'] / 1024:.0f} MiB (of which"
        f" {result['rss_before_kib'] / 1024:.0f} MiB before verify started: interpreter and imports)"
    )
    say(
        f"  CPU during verify: verifier {result['cpu_seconds']:.1f} s, its PostgreSQL backend"
        f" {result['postgres_cpu_seconds']:.1f} s; noise (other processes)"
        f" {result['other_cpu_pct']:.0f}% of the CPUs"
    )
    say(
        f"  baseline, same run: the same pages read without hashing: {result['read_rate']:,.0f} records/s"
    )
    proofs = result["proofs"]
    consistent = "verifies" if proofs["consistency_ok"] else "FAILS"
    say(
        f"proofs at size {args.records:,}: inclusion {proofs['inclusion_ms']:.1f} ms each"
        f" ({proofs['inclusion_ok']}/{proofs['samples']} verify against the signed root),"
        f" consistency {proofs['consistency_ms']:.1f} ms ({consistent})"
    )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.measure:
        print(json.dumps(asyncio.run(_measure())))
        return 0
    database = common.BenchDatabase()
    try:
        database.create()
        env = common.bench_env(database.url, common.free_port())
        common.use_bench_env(env)
        database.migrate()
        heading(f"Filling {args.records:,} evidence records")
        fill_times = asyncio.run(fill(database.url, args.records, args.checkpoints))
        heading("Verifying (separate process)")
        result = measure_in_child(env)
        report(args, fill_times, result)
        if args.json:
            figures = {
                "records": args.records,
                "machine": common.machine_description(),
                "revision": common.revision(),
                **fill_times,
                **result,
            }
            Path(args.json).write_text(json.dumps(figures, indent=2))
        return 0 if result["ok"] else 1
    finally:
        database.drop()


if __name__ == "__main__":
    raise SystemExit(main())
