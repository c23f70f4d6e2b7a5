"""Run every benchmark (each in its own process, with its own database) and print a summary.

    make bench                                  # or: .venv/bin/python bench/run_all.py
    .venv/bin/python bench/run_all.py --only sign_in
    .venv/bin/python bench/run_all.py -- --workers 2          # extra arguments for every benchmark

Figures are printed, never asserted. They depend on the machine and on what else runs on
it: each benchmark prints how much CPU other processes used while it measured ("noise").
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import common  # noqa: E402

BENCHMARKS = {
    "sign_in": HERE / "bench_sign_in.py",
    "oidc_token": HERE / "bench_oidc_token.py",
    "exchange": HERE / "bench_exchange.py",
    "onestop": HERE / "bench_onestop.py",
    "documents": HERE / "bench_documents.py",
    "payments": HERE / "bench_payments.py",
    "opendata": HERE / "bench_opendata.py",
}


def _run(name: str, extra: list[str], out: Path) -> tuple[int, float]:
    started = time.perf_counter()
    command = [sys.executable, str(BENCHMARKS[name]), "--json", str(out), *extra]
    completed = subprocess.run(command, cwd=HERE.parent, check=False)
    return completed.returncode, time.perf_counter() - started


def _fmt(value: float, digits: int = 1) -> str:
    return "-" if value is None or value != value else f"{value:.{digits}f}"


def _rows(results: dict[str, dict[str, Any]]) -> list[tuple[str, ...]]:
    rows: list[tuple[str, ...]] = []
    sign_in = results.get("sign_in")
    if sign_in:
        limits = {b["processes"]: b["rate"] for b in sign_in["argon2_baselines"]}
        for row in sign_in["rows"]:
            s, h = row["sign_in"], row["healthz"]
            rows.append((
                "password sign-in (GET+POST /sign-in)", f"W={row['workers']} C={row['concurrency']}",
                f"{_fmt(s['rate'])} sign-ins/s", _fmt(s["p50_ms"], 0), _fmt(s["p99_ms"], 0), str(s["failures"]),
                _fmt(s.get("server_cpu_ms_per_op") or float("nan")),
                f"argon2id raw in {row['workers']} proc: {_fmt(row['argon2_limit_per_s'])}/s;"
                f" /healthz {h['rate']:.0f} req/s (p50 {_fmt(h['p50_ms'])} ms)",
                f"{row['memory_max_mib']:.0f}/{row['memory_sum_mib']:.0f}",
                f"{s['other_cpu_pct']:.0f}%",
            ))
        rows.append((
            "  raw argon2id verify, no server", "1 process", f"{_fmt(limits.get(1, float('nan')))} verifies/s",
            "", "", "", "", "same parameters as the server", "", "",
        ))
    oidc = results.get("oidc_token")
    if oidc:
        for row in oidc["rows"]:
            r = row["result"]
            unit = "req/s" if row["scenario"] == "healthz" else "tokens/s"
            rows.append((
                row["label"], f"W={row['workers']} C={row['concurrency']}", f"{_fmt(r['rate'])} {unit}",
                _fmt(r["p50_ms"], 1), _fmt(r["p99_ms"], 1), str(r["failures"]),
                _fmt(r.get("server_cpu_ms_per_op") or float("nan")), row.get("baseline", ""),
                f"{row['memory_max_mib']:.0f}/{row['memory_sum_mib']:.0f}" if "memory_max_mib" in row else "",
                f"{r['other_cpu_pct']:.0f}%",
            ))
        for baseline in oidc.get("baselines", []):
            rows.append((f"  {baseline['label']}", "in-process", f"{_fmt(baseline['rate'], 0)} {baseline['unit']}",
                         _fmt(baseline.get("p50_ms", float("nan")), 2), _fmt(baseline.get("p99_ms", float("nan")), 2),
                         "", "", baseline.get("note", ""), "", ""))
    exchange = results.get("exchange")
    if exchange:
        rows.extend(_exchange_rows(exchange))
    onestop = results.get("onestop")
    if onestop:
        rows.extend(_onestop_rows(onestop))
    for name in ("documents", "payments", "opendata"):
        if results.get(name):
            rows.extend(_documents_payments_rows(name, results[name]))
    return rows


def _exchange_rows(exchange: dict[str, Any]) -> list[tuple[str, ...]]:
    """Direct call, GDX call and GDX call with consent per W; the evidence log's figures."""
    rows: list[tuple[str, ...]] = []
    labels = {
        "direct": "GDX bench: consumer -> provider directly",
        "gdx": "GDX bench: through GDX (auth, policy, evidence)",
        "gdx_consent": "GDX bench: through GDX + consent check",
    }
    for row in exchange["rows"]:
        closed, paced = row["phases"]["closed"], row["phases"]["paced"]
        direct = closed["direct"]
        for kind in ("direct", "gdx", "gdx_consent"):
            r = closed[kind]
            if kind == "direct":
                cpu = r["provider_cpu_ms_per_op"]
                note = f"provider: Starlette, {row['provider_workers']} uvicorn workers (CPU ms/op: the provider's)"
                memory = f"{row['provider_memory_sum_mib']:.0f} (provider)"
            else:
                ratio = r["rate"] / direct["rate"] * 100 if direct["rate"] else float("nan")
                added50 = paced[kind]["p50_ms"] - paced["direct"]["p50_ms"]
                added99 = paced[kind]["p99_ms"] - paced["direct"]["p99_ms"]
                note = (f"{ratio:.0f}% of direct; adds {added50:+.1f}/{added99:+.1f} ms p50/p99 at {row['rate']:.0f} req/s;"
                        f" machine idle {r['machine_idle_pct']:.0f}%")
                cpu = r["govhub_cpu_ms_per_op"]
                memory = f"{row['memory_max_mib']:.0f}/{row['memory_sum_mib']:.0f}"
            rows.append((
                labels[kind], f"W={row['workers']} C={row['concurrency']}", f"{_fmt(r['rate'])} req/s",
                _fmt(r["p50_ms"]), _fmt(r["p99_ms"]), str(r["failures"]), _fmt(cpu), note, memory,
                f"{r['other_cpu_pct']:.0f}%",
            ))
    appends = exchange.get("appends") or []
    if len(appends) == 3:
        single, many, plain = appends
        rows.append((
            "  evidence.append + commit, no HTTP", f"{many['sessions']} sessions", f"{_fmt(many['rate'], 0)} appends/s",
            _fmt(many["p50_ms"], 1), _fmt(many["p99_ms"], 1), "", "",
            f"1 session {single['rate']:.0f}/s; plain INSERT + commit, no counter: {plain['rate']:.0f}/s", "", "",
        ))
    verify = exchange.get("verify")
    if verify:
        rows.append((
            f"  govhub evidence verify, {verify['records']:,} records", "1 process", f"{_fmt(verify['rate'], 0)} records/s",
            "", "", "0" if verify["ok"] else "1", "", f"{verify['seconds']:.1f} s; reading alone {verify['read_rate']:.0f} records/s",
            f"{verify['peak_rss_kib'] / 1024:.0f}", f"{verify['other_cpu_pct']:.0f}%",
        ))
    return rows


def _onestop_rows(onestop: dict[str, Any]) -> list[tuple[str, ...]]:
    """Applications with and without GDX prefill, officers' actions, catalog search."""
    rows: list[tuple[str, ...]] = []
    phases = onestop["phases"]
    config = f"W={onestop['workers']} C={onestop['concurrency']}"
    memory = f"{onestop['memory_max_mib']:.0f}/{onestop['memory_sum_mib']:.0f}"
    prefill, typed, healthz = phases["prefill"], phases["typed"], phases["healthz"]
    for label, phase, note in (
        ("one-stop application, GDX prefill (11 requests)", prefill,
         f"same flow typed, no GDX: {_fmt(typed['rate'])}/s; /healthz {healthz['rate']:.0f} req/s"),
        ("one-stop application, values typed (baseline)", typed, "consent=no: no consent, no exchange calls"),
    ):
        submit, apply = phase["timings"]["submit"], phase["timings"]["apply"]
        rows.append((
            label, config, f"{_fmt(phase['rate'])} applications/s", _fmt(phase["p50_ms"], 0), _fmt(phase["p99_ms"], 0),
            str(phase["failures"]), _fmt(phase["server_cpu_ms_per_op"] or float("nan")),
            f"{note}; POST submit p50/p99 {_fmt(submit['p50_ms'], 0)}/{_fmt(submit['p99_ms'], 0)} ms,"
            f" POST apply {_fmt(apply['p50_ms'], 0)}/{_fmt(apply['p99_ms'], 0)} ms", memory,
            f"{phase['other_cpu_pct']:.0f}%",
        ))
    officers = phases["officers"]
    rows.append((
        "one-stop officer action (POST, then the case page)", config, f"{_fmt(officers['actions_rate'])} actions/s",
        _fmt(officers["action_p50_ms"], 0), _fmt(officers["action_p99_ms"], 0), str(officers["failures"]),
        _fmt((officers["server_cpu_ms_per_op"] or float("nan")) / 4),
        "accept, inspected, approve, confirm_payment by 3 officers; CPU: a case's 12 requests / 4", memory,
        f"{officers['other_cpu_pct']:.0f}%",
    ))
    big, small = phases["search_big"], phases["search_demo"]
    catalog = onestop["catalog"]
    rows.append((
        f"catalog search, {catalog['services']:,} services", config, f"{_fmt(big['rate'])} req/s",
        _fmt(big["p50_ms"], 0), _fmt(big["p99_ms"], 0), str(big["failures"]),
        _fmt(big["server_cpu_ms_per_op"] or float("nan")),
        f"demo catalog (34): {_fmt(small['rate'])} req/s, p99 {_fmt(small['p99_ms'], 0)} ms; PostgreSQL"
        f" {_fmt(big['database_cpu_ms_per_op'] or float('nan'))} ms/req; {catalog['services'] - 34:,} loaded in"
        f" {catalog['load_s']:.0f} s", memory, f"{big['other_cpu_pct']:.0f}%",
    ))
    return rows


def _documents_payments_rows(name: str, result: dict[str, Any]) -> list[tuple[str, ...]]:
    """e-Documents (issuing in-process, verification over HTTP) and e-Payment (callbacks, receipts)."""
    rows: list[tuple[str, ...]] = []
    memory = f"{result['memory_max_mib']:.0f}/{result['memory_sum_mib']:.0f}" if "memory_max_mib" in result else ""
    for row in result.get("rows", []):
        http = row["config"].startswith("W=")
        cpu = row.get("server_cpu_ms_per_op", row.get("cpu_ms_per_op"))
        rows.append((
            f"{name}: {row['label']}", row["config"], f"{_fmt(row['rate'])} {row['unit']}/s",
            _fmt(row["p50_ms"]), _fmt(row["p99_ms"]), str(row.get("failures", 0)),
            _fmt(cpu if cpu is not None else float("nan")), row.get("note", "") if not http else "",
            memory if http else "", f"{row['other_cpu_pct']:.0f}%",
        ))
    if name == "payments" and result.get("database"):
        found = result["database"]
        rows.append((
            "payments: afterwards in the database", "", f"{found['bills_paid']}/{found['bills']} bills paid", "", "",
            str(len(result.get("problems", []))), "",
            f"payments {found['payments']}, bills paid twice {found['bills_paid_twice']},"
            f" receipt jobs {found['receipt_jobs']}", "", "",
        ))
    return rows


def print_summary(results: dict[str, dict[str, Any]], durations: dict[str, float]) -> None:
    header = ("benchmark", "config", "throughput", "p50 ms", "p99 ms", "fail", "CPU ms/op", "baseline (same run)",
              "RSS max/sum MiB", "noise")
    rows = [header, *_rows(results)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    common.heading("Summary")
    machine = next((r["machine"] for r in results.values() if "machine" in r), common.machine_description())
    revision = next((r["revision"] for r in results.values() if "revision" in r), common.revision())
    print(f"machine: {machine}; govhub {revision}")
    for index, row in enumerate(rows):
        print("  ".join(cell.ljust(widths[i]) if i in (0, 1, 7) else cell.rjust(widths[i]) for i, cell in enumerate(row)))
        if index == 0:
            print("  ".join("-" * width for width in widths))
    print("W = web worker processes (govhub serve --workers W), C = concurrent clients; p50/p99 of the measured request")
    print("CPU ms/op = CPU time of the server processes per completed operation (PostgreSQL and the load generator excluded)")
    print("noise = CPU other processes used during the measurement, as a share of all cores (0% = quiet machine)")
    print("durations: " + ", ".join(f"{name} {seconds:.0f} s" for name, seconds in durations.items()))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", choices=sorted(BENCHMARKS), action="append", help="run only this benchmark")
    parser.add_argument("--wait-quiet", type=float, default=0.0, metavar="SECONDS",
                        help="first wait up to SECONDS for other processes to leave the CPUs idle")
    parser.add_argument("extra", nargs="*", help="arguments passed to every benchmark (after --)")
    args = parser.parse_args(argv)
    names = args.only or list(BENCHMARKS)

    print(f"machine: {common.machine_description()}; govhub {common.revision()}")
    busy = common.wait_for_quiet(args.wait_quiet) if args.wait_quiet > 0 else common.wait_for_quiet(0, sample=1.0)
    print(f"other processes use {busy * 100:.0f}% of the CPUs right now (load average {os.getloadavg()[0]:.2f})")
    if busy > 0.15:
        print("note: the machine is busy; figures will be lower and noisier than on a quiet machine")

    results: dict[str, dict[str, Any]] = {}
    durations: dict[str, float] = {}
    failed: list[str] = []
    with tempfile.TemporaryDirectory(prefix="govhub-bench-results-") as directory:
        for name in names:
            out = Path(directory) / f"{name}.json"
            code, seconds = _run(name, args.extra, out)
            durations[name] = seconds
            if code != 0 or not out.exists():
                failed.append(f"{name} (exit {code})")
                continue
            results[name] = json.loads(out.read_text())

    print_summary(results, durations)
    leftovers = common.leftover_bench_databases()
    if leftovers:
        print(f"WARNING: benchmark databases left behind: {', '.join(leftovers)}")
    if failed:
        print(f"FAILED: {', '.join(failed)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
