"""Shared benchmark harness: a throw-away PostgreSQL database, a real `govhub serve`, load.

Nothing here imports govhub at module level: govhub reads its settings once, so a benchmark
first creates its database, calls `use_bench_env()`, and only then imports govhub.

Each benchmark:
  * creates a fresh database `govhub_bench_<random>` and migrates it;
  * starts `govhub serve --workers W` as a subprocess on a free loopback port, with fixed
    secrets shared by every worker and the production argon2id cost (never lowered);
  * drives it with asyncio + httpx clients, timing every request with time.perf_counter;
  * reads the peak resident memory (VmHWM) of every server process before stopping it;
  * stops the server and drops the database, whatever happened (try/finally, SIGTERM too).

Figures are printed, never asserted: they depend on the machine.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import math
import os
import platform
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
HOST = "127.0.0.1"

# An admin URL for CREATE/DROP DATABASE (trust auth on loopback in development).
ADMIN_URL = os.environ.get("GOVHUB_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
# The job queue (which the measured paths do not use) goes to a Redis database of its own;
# the keys a run creates there are deleted at the end.
REDIS_URL = os.environ.get("GOVHUB_BENCH_REDIS_URL", "redis://127.0.0.1:6379/15")
# The rate limiter shares its counters through Redis, as production requires.
RATE_LIMIT_STORAGE_URL = os.environ.get("GOVHUB_BENCH_RATE_LIMIT_STORAGE_URL", REDIS_URL)

# Fixed secrets: every web worker and the benchmark process itself must agree on them.
SECRET_KEY = "bench-only-secret-key-0123456789abcdefghijklmnop"
DATA_KEYS = base64.urlsafe_b64encode(b"govhub-bench-fernet-key-32bytes!").decode()
PII_HASH_KEY = "bench-only-pii-hash-key-0123456789abcdefghijk"
assert len(base64.urlsafe_b64decode(DATA_KEYS)) == 32

# Settings the benchmark must never inherit from the caller's environment: the argon2id
# cost in particular stays at the Settings defaults (the production cost).
_CLEARED_PREFIX = "GOVHUB_"
_KEPT_PREFIX = "GOVHUB_BENCH_"  # the harness's own settings

# A phase measured while other processes used more than this share of the CPUs (percent) is
# measured again, once per --noisy-retries, while the benchmark's time budget allows.
NOISE_THRESHOLD_PCT = 15.0


# --- environment ------------------------------------------------------------------------


def free_port() -> int:
    """A TCP port nobody listens on right now (loopback)."""
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def bench_env(database_url: str, port: int, **extra: str) -> dict[str, str]:
    """The environment for the server and for the benchmark process (no other GOVHUB_*)."""
    env = {
        key: value for key, value in os.environ.items()
        if not key.startswith(_CLEARED_PREFIX) or key.startswith(_KEPT_PREFIX)
    }
    env.update(
        {
            "GOVHUB_ENVIRONMENT": "development",
            "GOVHUB_DATABASE_URL": database_url,
            "GOVHUB_HOST": HOST,
            "GOVHUB_PORT": str(port),
            "GOVHUB_BASE_URL": f"http://{HOST}:{port}",
            "GOVHUB_SECRET_KEY": SECRET_KEY,
            "GOVHUB_DATA_KEYS": DATA_KEYS,
            "GOVHUB_PII_HASH_KEY": PII_HASH_KEY,
            "GOVHUB_RATE_LIMIT_STORAGE_URL": RATE_LIMIT_STORAGE_URL,
            # The limiter still runs on every sign-in; it must just not refuse a benchmark
            # that signs in hundreds of times from one address.
            "GOVHUB_SIGN_IN_RATE_PER_IP": "1000000/minute",
            "GOVHUB_JOB_BACKEND": "redis",
            "GOVHUB_JOB_REDIS_URL": REDIS_URL,
            "GOVHUB_LOG_LEVEL": "WARNING",
        }
    )
    env.update(extra)
    return env


def use_bench_env(env: dict[str, str]) -> None:
    """Make this process see exactly the benchmark's GOVHUB_* settings (before importing govhub)."""
    if "govhub.config" in sys.modules:
        raise RuntimeError("set the benchmark environment before importing govhub")
    for key in [key for key in os.environ if key.startswith(_CLEARED_PREFIX) and not key.startswith(_KEPT_PREFIX)]:
        del os.environ[key]
    os.environ.update({key: value for key, value in env.items() if key.startswith(_CLEARED_PREFIX)})


def argon2_settings() -> dict[str, int]:
    """The argon2id parameters the server uses (the Settings defaults: production cost)."""
    from govhub.config import Settings, get_settings

    settings = get_settings()
    used = {
        "time_cost": settings.argon2_time_cost,
        "memory_kib": settings.argon2_memory_kib,
        "parallelism": settings.argon2_parallelism,
    }
    defaults = {
        "time_cost": Settings.model_fields["argon2_time_cost"].default,
        "memory_kib": Settings.model_fields["argon2_memory_kib"].default,
        "parallelism": Settings.model_fields["argon2_parallelism"].default,
    }
    if used != defaults:
        raise RuntimeError(f"argon2 cost {used} differs from the production defaults {defaults}")
    return used


def quiet_govhub_logs() -> None:
    """Log like the server does (JSON, WARNING and up) while seeding in this process."""
    from govhub.config import get_settings
    from govhub.kit.observability import configure_logging

    configure_logging(get_settings().log_level, True)


def revision() -> str:
    """The commit measured, marked dirty when the working tree differs from it."""
    if os.environ.get("GOVHUB_BENCH_REVISION"):  # e.g. when PYTHONPATH points at an exported tree
        return os.environ["GOVHUB_BENCH_REVISION"]
    try:
        described = subprocess.run(
            ["git", "describe", "--always", "--dirty"], cwd=REPO, capture_output=True, text=True, timeout=10, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return described.stdout.strip() or "unknown"


def machine_description() -> str:
    """CPU count, model and memory, for the report."""
    model = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    memory = ""
    with contextlib.suppress(OSError, ValueError, IndexError):
        kib = int(Path("/proc/meminfo").read_text().splitlines()[0].split()[1])
        memory = f", {kib / 1024 / 1024:.0f} GiB"
    return f"{os.cpu_count()} cores ({model or platform.machine()}){memory}, Python {platform.python_version()}"


# --- database ---------------------------------------------------------------------------


def _plain(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://")


def _admin(statement: str) -> None:
    import asyncpg

    async def run() -> None:
        connection = await asyncpg.connect(_plain(ADMIN_URL))
        try:
            await connection.execute(statement)
        finally:
            await connection.close()

    asyncio.run(run())


@dataclass
class BenchDatabase:
    """A PostgreSQL database that exists for one benchmark run."""

    name: str = field(default_factory=lambda: f"govhub_bench_{secrets.token_hex(4)}")
    created: bool = False

    @property
    def url(self) -> str:
        base = _plain(ADMIN_URL).rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
        return f"{base}/{self.name}"

    def create(self) -> None:
        _admin(f'CREATE DATABASE "{self.name}"')
        self.created = True

    def migrate(self) -> None:
        """Run the packaged Alembic migrations (govhub.migrations.runner.upgrade)."""
        from govhub.migrations.runner import upgrade

        upgrade(self.url)

    def drop(self) -> None:
        if self.created:
            _admin(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
            self.created = False


def leftover_bench_databases() -> list[str]:
    """Names of govhub_bench_* databases that exist right now (should be none after a run)."""
    import asyncpg

    async def run() -> list[str]:
        connection = await asyncpg.connect(_plain(ADMIN_URL))
        try:
            rows = await connection.fetch("SELECT datname FROM pg_database WHERE datname LIKE 'govhub_bench_%'")
        finally:
            await connection.close()
        return [row["datname"] for row in rows]

    return asyncio.run(run())


def clean_redis() -> int:
    """Delete the rate-limit and job-queue keys in the benchmark's Redis database."""
    try:
        import redis
    except ImportError:
        return 0
    client = redis.Redis.from_url(REDIS_URL)
    removed = 0
    try:
        for pattern in ("LIMITS:*", "LIMITER*", "huey.*govhub*"):
            keys = list(client.scan_iter(match=pattern, count=500))
            if keys:
                removed += int(client.delete(*keys))
    except redis.RedisError:
        return removed
    finally:
        client.close()
    return removed


# --- the server under test -----------------------------------------------------------------


def _children(pid: int) -> list[int]:
    found: list[int] = []
    with contextlib.suppress(OSError):
        for task in Path(f"/proc/{pid}/task").iterdir():
            with contextlib.suppress(OSError):
                found.extend(int(child) for child in (task / "children").read_text().split())
    return found


def descendants(pid: int) -> list[int]:
    """pid and every process below it (from /proc/<pid>/task/*/children)."""
    result, queue = [], [pid]
    while queue:
        current = queue.pop()
        if current in result or not Path(f"/proc/{current}").exists():
            continue
        result.append(current)
        queue.extend(_children(current))
    return result


def _status_kib(pid: int, field_name: str) -> int:
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field_name + ":"):
                return int(line.split()[1])
    return 0


def _cpu_seconds(pid: int) -> float:
    """utime + stime of one process, in seconds."""
    with contextlib.suppress(OSError, ValueError, IndexError):
        stat = Path(f"/proc/{pid}/stat").read_text()
        fields = stat[stat.rindex(")") + 2 :].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return 0.0


def _cmdline(pid: int) -> str:
    with contextlib.suppress(OSError):
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
    return ""


@dataclass
class MemoryReport:
    """Peak resident set (VmHWM) of every server process."""

    per_process_kib: dict[int, int]
    roles: dict[int, str]

    @property
    def max_mib(self) -> float:
        return max(self.per_process_kib.values(), default=0) / 1024

    @property
    def sum_mib(self) -> float:
        return sum(self.per_process_kib.values()) / 1024

    def describe(self) -> str:
        parts = ", ".join(
            f"{self.roles[pid]} {kib / 1024:.0f}" for pid, kib in sorted(self.per_process_kib.items())
        )
        return (
            f"peak RSS (VmHWM) of {len(self.per_process_kib)} server processes: "
            f"max {self.max_mib:.0f} MiB, sum {self.sum_mib:.0f} MiB ({parts} MiB)"
        )


class Server:
    """`govhub serve --workers W` in a subprocess of its own process group."""

    def __init__(self, env: dict[str, str], *, workers: int, port: int, run_dir: Path) -> None:
        self.env, self.workers, self.port, self.run_dir = env, workers, port, run_dir
        self.base_url = f"http://{HOST}:{port}"
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path = run_dir / f"server-w{workers}-{port}.log"
        self._seen: set[int] = set()

    def _command(self) -> list[str]:
        script = Path(sys.executable).with_name("govhub")
        base = [str(script)] if script.exists() else [sys.executable, "-m", "govhub.cli"]
        return [*base, "serve", "--workers", str(self.workers), "--host", HOST, "--port", str(self.port)]

    def start(self, timeout: float = 60.0) -> None:
        import httpx

        with self.log_path.open("wb") as log:
            # cwd is a temporary directory: no .env file and no var/ of the repository is read.
            self.process = subprocess.Popen(
                self._command(), env=self.env, cwd=self.run_dir, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited with {self.process.returncode}:\n{self.log_tail()}")
            try:
                ok = httpx.get(f"{self.base_url}/healthz", timeout=2).status_code == 200
            except httpx.HTTPError:
                ok = False
            # With W > 1 the supervisor answers nothing itself: wait for all W workers.
            if ok and len(self.worker_pids()) >= self.workers:
                break
            time.sleep(0.2)
        else:
            raise RuntimeError(f"server did not come up in {timeout:.0f} s:\n{self.log_tail()}")
        # Each worker may still be importing: give every one of them a moment to accept.
        self._settle()

    def _settle(self, seconds: float = 1.5) -> None:
        """Wait until every worker has been idle-ready (its CPU time stops growing)."""
        end = time.monotonic() + 15
        previous = self.cpu_by_pid()
        while time.monotonic() < end:
            time.sleep(seconds / 3)
            current = self.cpu_by_pid()
            if all(abs(current.get(pid, 0) - previous.get(pid, 0)) < 0.05 for pid in current):
                return
            previous = current

    def pids(self) -> list[int]:
        if self.process is None:
            return []
        found = descendants(self.process.pid)
        self._seen.update(found)
        return found

    def worker_pids(self) -> list[int]:
        """The processes that serve requests (the supervisor's children with W > 1)."""
        pids = self.pids()
        if self.workers == 1 or self.process is None:
            return pids[:1]
        return [pid for pid in pids if pid != self.process.pid and "resource_tracker" not in _cmdline(pid)]

    def role(self, pid: int) -> str:
        if self.process is not None and pid == self.process.pid:
            return "supervisor" if self.workers > 1 else "server"
        return "tracker" if "resource_tracker" in _cmdline(pid) else "worker"

    def cpu_by_pid(self) -> dict[int, float]:
        return {pid: _cpu_seconds(pid) for pid in self.pids()}

    def memory(self) -> MemoryReport:
        pids = self.pids()
        return MemoryReport({pid: _status_kib(pid, "VmHWM") for pid in pids}, {pid: self.role(pid) for pid in pids})

    def log_tail(self, lines: int = 40) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        return ""

    def errors(self) -> str:
        """The last error lines the server logged (shown when requests failed)."""
        with contextlib.suppress(OSError):
            text = self.log_path.read_text(errors="replace").splitlines()
            return "\n".join(line for line in text if '"error"' in line or "Traceback" in line or "Error" in line)[-8000:]
        return ""

    def stop(self, timeout: float = 20.0) -> None:
        """Graceful stop (SIGTERM to uvicorn), then SIGKILL to the group; verify all are gone."""
        if self.process is None:
            return
        self.pids()
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=5)
        # Workers are in the supervisor's session; none may outlive it.
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            alive = [pid for pid in self._seen if _alive_in_session(pid, self.process.pid)]
            if not alive:
                break
            time.sleep(0.2)
        else:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
        self.process = None


def wait_for_quiet(max_wait: float, *, threshold: float = 0.15, sample: float = 3.0) -> float:
    """Wait (up to max_wait seconds) until other processes use under `threshold` of the
    cores over a `sample`-second window; return the share measured last."""
    cores = os.cpu_count() or 1
    deadline = time.monotonic() + max_wait
    while True:
        before = machine_busy_seconds()
        time.sleep(sample)
        share = (machine_busy_seconds() - before) / (sample * cores)
        if share < threshold or time.monotonic() >= deadline:
            return share


def database_cpu_seconds() -> float:
    """CPU seconds used so far by PostgreSQL's processes on this machine (part of the system
    under test, so it is not counted as noise)."""
    total = 0.0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError, ValueError, IndexError):
            stat = (entry / "stat").read_text()
            if stat[stat.index("(") + 1 : stat.rindex(")")] in ("postgres", "postmaster"):
                fields = stat[stat.rindex(")") + 2 :].split()
                total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def machine_busy_seconds() -> float:
    """CPU seconds all processes on the machine have used since boot (from /proc/stat)."""
    with contextlib.suppress(OSError, ValueError, IndexError):
        fields = [int(value) for value in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        # user nice system idle iowait irq softirq steal: everything but idle and iowait.
        busy = fields[0] + fields[1] + fields[2] + fields[5] + fields[6] + (fields[7] if len(fields) > 7 else 0)
        return busy / os.sysconf("SC_CLK_TCK")
    return 0.0


def _alive_in_session(pid: int, session_id: int) -> bool:
    with contextlib.suppress(OSError, ValueError, IndexError):
        stat = Path(f"/proc/{pid}/stat").read_text()
        fields = stat[stat.rindex(")") + 2 :].split()
        return fields[0] != "Z" and int(fields[3]) == session_id
    return False


# --- load and statistics -----------------------------------------------------------------


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100) of values; nan when empty."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]


@dataclass
class LoadResult:
    """What a closed-loop run measured."""

    name: str
    concurrency: int
    elapsed: float
    ok: int
    failures: Counter[str]
    timings: dict[str, list[float]]
    client_cpu: float = 0.0
    server_cpu_by_pid: dict[int, float] = field(default_factory=dict)
    machine_cpu: float = 0.0
    exhausted: bool = False
    database_cpu: float = 0.0

    @property
    def rate(self) -> float:
        return self.ok / self.elapsed if self.elapsed else 0.0

    def p(self, timing: str, q: float) -> float:
        return percentile(self.timings.get(timing, []), q) * 1000

    def line(self, timing: str, unit: str) -> str:
        values = self.timings.get(timing, [])
        failed = sum(self.failures.values())
        return (
            f"{self.rate:8.1f} {unit}/s   {timing}: p50 {self.p(timing, 50):7.1f} ms  p99 {self.p(timing, 99):7.1f} ms"
            f"  max {max(values, default=math.nan) * 1000:7.1f} ms   n={len(values)} failures={failed}"
            + (f" {dict(self.failures)}" if failed else "")
        )

    @property
    def noise_pct(self) -> float:
        """Other processes' CPU as a percentage of all cores during the run."""
        return self.other_cpu / (self.elapsed * (os.cpu_count() or 1)) * 100 if self.elapsed else 0.0

    @property
    def other_cpu(self) -> float:
        """CPU seconds used by processes outside this benchmark during the run (noise)."""
        return max(0.0, self.machine_cpu - self.client_cpu - self.database_cpu - sum(self.server_cpu_by_pid.values()))

    def cpu_line(self) -> str:
        server = sum(self.server_cpu_by_pid.values())
        workers = ", ".join(f"{cpu:.1f}" for cpu in self.server_cpu_by_pid.values() if cpu >= 0.05)
        return (
            f"CPU seconds over {self.elapsed:.1f} s ({self.elapsed * (os.cpu_count() or 1):.1f} available): server {server:.1f}"
            f" (per process {workers or '-'}), PostgreSQL {self.database_cpu:.1f}, load generator {self.client_cpu:.1f},"
            f" other processes {self.other_cpu:.1f}"
            + (f"; per request: server {server / self.ok * 1000:.1f} ms, PostgreSQL {self.database_cpu / self.ok * 1000:.1f} ms" if self.ok else "")
        )

    def summary(self, timing: str) -> dict[str, Any]:
        return {
            "rate": round(self.rate, 2),
            "p50_ms": round(self.p(timing, 50), 2),
            "p99_ms": round(self.p(timing, 99), 2),
            "n": len(self.timings.get(timing, [])),
            "failures": sum(self.failures.values()),
            "other_cpu_pct": round(self.noise_pct, 1),
            "server_cpu_ms_per_op": round(sum(self.server_cpu_by_pid.values()) / self.ok * 1000, 2) if self.ok else None,
            "database_cpu_ms_per_op": round(self.database_cpu / self.ok * 1000, 2) if self.ok else None,
        }


class OperationFailed(Exception):
    """An operation got an unexpected answer; its reason is counted, not raised."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Exhausted(Exception):
    """The operation ran out of prepared material (codes): this client stops."""


Operation = Callable[[Any, int], Awaitable[dict[str, float]]]


async def healthz(http: Any, _index: int, *, timing: str = "request") -> dict[str, float]:
    """One GET /healthz: the HTTP stack's baseline operation for closed_loop."""
    started = time.perf_counter()
    response = await http.get("/healthz")
    if response.status_code != 200:
        raise OperationFailed(f"GET /healthz {response.status_code}")
    return {timing: time.perf_counter() - started}


async def closed_loop(
    name: str,
    *,
    concurrency: int,
    duration: float,
    make_client: Callable[[int], Any],
    operation: Operation,
    server: Server | None = None,
    warmup: float = 0.0,
) -> LoadResult:
    """C clients, each repeating `operation(client, index)` until `duration` has passed.

    `operation` returns named latencies (seconds); it raises OperationFailed to count a
    failure. Operations started before the deadline finish and are counted (closed loop).
    """
    if warmup > 0:
        await closed_loop(
            name, concurrency=concurrency, duration=warmup, make_client=make_client, operation=operation
        )
    timings: dict[str, list[float]] = {}
    failures: Counter[str] = Counter()
    ok = 0
    exhausted: list[bool] = []
    clients = [make_client(index) for index in range(concurrency)]
    counter = iter(range(10**12))

    async def worker(client: Any) -> None:
        nonlocal ok
        while time.perf_counter() < deadline:
            try:
                measured = await operation(client, next(counter))
            except Exhausted:
                exhausted.append(True)
                return
            except OperationFailed as error:
                failures[error.reason] += 1
                continue
            except Exception as error:  # noqa: BLE001 - a benchmark counts, it does not crash
                failures[type(error).__name__] += 1
                await asyncio.sleep(0.01)
                continue
            ok += 1
            for key, value in measured.items():
                timings.setdefault(key, []).append(value)

    cpu_before = server.cpu_by_pid() if server else {}
    machine_before, database_before = machine_busy_seconds(), database_cpu_seconds()
    client_cpu_before = time.process_time()
    started = time.perf_counter()
    deadline = started + duration
    try:
        await asyncio.gather(*(worker(client) for client in clients))
    finally:
        for client in clients:
            with contextlib.suppress(Exception):
                await client.aclose()
    elapsed = time.perf_counter() - started
    client_cpu = time.process_time() - client_cpu_before
    machine_cpu = machine_busy_seconds() - machine_before
    database_cpu = database_cpu_seconds() - database_before
    cpu_after = server.cpu_by_pid() if server else {}
    server_cpu = {pid: cpu_after[pid] - cpu_before.get(pid, 0.0) for pid in cpu_after}
    return LoadResult(
        name, concurrency, elapsed, ok, failures, timings, client_cpu, server_cpu, machine_cpu, bool(exhausted),
        database_cpu,
    )


async def quietest(
    measure: Callable[[], Awaitable[Any]], *, noise: Callable[[Any], float], retries: int, deadline: float
) -> Any:
    """Run measure(); while other processes disturbed it (noise above the threshold), run it
    again, up to `retries` times and only before `deadline` (time.monotonic()); keep the
    quietest result."""
    best = await measure()
    for _ in range(retries):
        if noise(best) <= NOISE_THRESHOLD_PCT or time.monotonic() >= deadline:
            break
        say(f"    (other processes used {noise(best):.0f}% of the CPUs during that run: measuring again)")
        again = await measure()
        if noise(again) < noise(best):
            best = again
    return best


async def probe(url: str, *, every: float, stop: asyncio.Event) -> list[float]:
    """GET url every `every` seconds on a fresh connection until stop; return latencies."""
    import httpx

    latencies: list[float] = []
    async with httpx.AsyncClient(timeout=30, headers={"connection": "close"}) as client:
        while not stop.is_set():
            started = time.perf_counter()
            with contextlib.suppress(httpx.HTTPError):
                response = await client.get(url)
                if response.status_code == 200:
                    latencies.append(time.perf_counter() - started)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=every)
    return latencies


# --- argon2id baseline --------------------------------------------------------------------


def _argon2_worker(params: dict[str, int], password: str, duration: float, barrier: Any, results: Any) -> None:
    from argon2 import PasswordHasher, Type

    hasher = PasswordHasher(
        time_cost=params["time_cost"], memory_cost=params["memory_kib"], parallelism=params["parallelism"], type=Type.ID
    )
    stored = hasher.hash(password)
    hasher.verify(stored, password)  # warm: allocate once before the clock starts
    barrier.wait()
    latencies: list[float] = []
    machine_before, cpu_before = machine_busy_seconds(), time.process_time()
    started = time.perf_counter()
    deadline = started + duration
    while time.perf_counter() < deadline:
        begin = time.perf_counter()
        hasher.verify(stored, password)
        latencies.append(time.perf_counter() - begin)
    elapsed = time.perf_counter() - started
    results.put((len(latencies), elapsed, latencies, time.process_time() - cpu_before, machine_busy_seconds() - machine_before))


@dataclass
class HashBaseline:
    processes: int
    rate: float
    p50_ms: float
    p99_ms: float
    n: int
    elapsed: float
    own_cpu: float
    other_cpu: float

    def line(self) -> str:
        return (
            f"  {self.processes} process{'es' if self.processes > 1 else '  '}: {self.rate:6.1f} verifies/s"
            f"   per verify p50 {self.p50_ms:6.1f} ms  p99 {self.p99_ms:6.1f} ms   n={self.n}"
            f"   CPU {self.own_cpu:.1f} of {self.elapsed * (os.cpu_count() or 1):.1f} core-s, other processes {self.other_cpu:.1f}"
        )


def argon2_baseline(params: dict[str, int], *, processes: int, duration: float) -> HashBaseline:
    """argon2id verifications per second in `processes` parallel processes (same cost)."""
    import multiprocessing

    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(processes)
    results = context.Queue()
    password = "bench-password-" + secrets.token_hex(4)
    workers = [
        context.Process(target=_argon2_worker, args=(params, password, duration, barrier, results))
        for _ in range(processes)
    ]
    for process in workers:
        process.start()
    try:
        outcomes = [results.get(timeout=duration + 60) for _ in workers]
    finally:
        for process in workers:
            process.join(timeout=10)
            if process.is_alive():
                process.kill()
                process.join()
    latencies = [value for outcome in outcomes for value in outcome[2]]
    rate = sum(count / elapsed for count, elapsed, *_ in outcomes)
    own_cpu = sum(outcome[3] for outcome in outcomes)
    machine = max(outcome[4] for outcome in outcomes)
    return HashBaseline(
        processes, rate, percentile(latencies, 50) * 1000, percentile(latencies, 99) * 1000, len(latencies),
        max(outcome[1] for outcome in outcomes), own_cpu, max(0.0, machine - own_cpu),
    )


# --- lifecycle and output ------------------------------------------------------------------


@contextlib.contextmanager
def terminate_cleanly() -> Iterator[None]:
    """Turn SIGTERM/SIGHUP into SystemExit so that every finally: (stop, drop) runs."""

    def handler(signum: int, _frame: Any) -> None:
        raise SystemExit(128 + signum)

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def run_dir() -> Path:
    return Path(tempfile.mkdtemp(prefix="govhub-bench-"))


def write_results(path: str | None, payload: dict[str, Any]) -> None:
    if path:
        Path(path).write_text(json.dumps(payload, indent=2, ensure_ascii=False))


def heading(text: str) -> None:
    print(f"\n== {text} ==", flush=True)


def tear_down(*servers: Any, database: Any, directory: Any, keep_logs: bool) -> None:
    """Stop the servers, drop the database, clear Redis; keep the logs only if something failed."""
    for server in servers:
        if server is not None:
            server.stop()
    database.drop()
    clean_redis()
    if keep_logs:
        say(f"server logs kept in {directory}")
    else:
        shutil.rmtree(directory, ignore_errors=True)


def say(text: str) -> None:
    print(text, flush=True)


async def agencies_with_signing_keys(agency_code: str) -> str:
    """The demo agencies, their receiving accounts, the internal CA and keys; one agency's id.

    Call inside the benchmark's own loop; the caller disposes the engine when done.
    """
    from govhub.db import unit_of_work
    from govhub.identity import repository, service
    from govhub.identity.demo import DEMO_AGENCIES
    from govhub.payments.demo import load_demo_payments

    async with unit_of_work() as session:
        for code, name_th, name_en in DEMO_AGENCIES:
            await service.create_agency(session, code=code, name_th=name_th, name_en=name_en, actor_id=None,
                                        is_demo=True)
    async with unit_of_work() as session:
        await load_demo_payments(session)
    async with unit_of_work() as session:
        agency = await repository.agency_by_code(session, agency_code)
        assert agency is not None
        return agency.id

