"""Shared helpers of the performance benchmarks (not a benchmark itself).

Machine description, throw-away databases (a PostgreSQL database created and dropped, or an SQLite file in
a temporary folder), a `coachco2 serve` subprocess on a free port, and simulated phone traces.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PG_ADMIN = os.environ.get("COACHCO2_BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres")
VENV_BIN = Path(sys.executable).parent


def log(*args: object) -> None:
    print(*args, file=sys.stderr, flush=True)


def emit(figures: dict) -> None:
    """The one JSON line a benchmark prints on stdout."""
    print(json.dumps(figures, default=str), flush=True)


def _pg_version() -> str | None:
    try:
        import asyncio

        import asyncpg

        async def ask() -> str:

            conn = await asyncpg.connect(PG_ADMIN)
            try:
                return str(await conn.fetchval("SHOW server_version"))
            finally:
                await conn.close()

        return asyncio.run(ask())
    except Exception as exc:  # the machine block must never fail the benchmark
        return f"unreachable ({type(exc).__name__})"


def machine(pg: bool = True) -> dict:
    """Where the figures were measured."""
    cpu_model = None
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    mem_gib = None
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                mem_gib = round(int(line.split()[1]) / 1024 / 1024, 1)
    info = {
        "platform": platform.platform(),
        "cpu": cpu_model,
        "cpu_count": os.cpu_count(),
        "memory_gib": mem_gib,
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
    }
    if pg:
        info["postgresql"] = _pg_version()
    return info


@dataclass
class Store:
    url: str  # SQLAlchemy URL for the app
    kind: str  # "postgresql" or "sqlite"
    raw_dsn: str  # asyncpg DSN or SQLite file path


@contextlib.contextmanager
def fresh_store(kind: str, tag: str) -> Iterator[Store]:
    """A new empty database, dropped (or deleted) afterwards."""
    if kind == "postgresql":
        import asyncio

        import asyncpg

        name = f"coachco2_bench_{tag}_{uuid.uuid4().hex[:8]}"

        async def admin(sql: str) -> None:
            conn = await asyncpg.connect(PG_ADMIN)
            try:
                await conn.execute(sql)
            finally:
                await conn.close()

        asyncio.run(admin(f'CREATE DATABASE "{name}"'))
        base = PG_ADMIN.rsplit("/", 1)[0]
        try:
            yield Store(
                f"{base.replace('postgresql://', 'postgresql+asyncpg://')}/{name}", kind, f"{base}/{name}"
            )
        finally:
            asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    else:
        folder = tempfile.mkdtemp(prefix=f"coachco2_bench_{tag}_")
        path = Path(folder) / "bench.db"
        try:
            yield Store(f"sqlite+aiosqlite:///{path}", kind, str(path))
        finally:
            shutil.rmtree(folder, ignore_errors=True)


def migrate(url: str) -> None:
    from app.core.migrate import upgrade

    upgrade(url)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def server(url: str, *, worker: bool, extra_env: dict[str, str] | None = None) -> Iterator[str]:
    """`coachco2 serve` as a subprocess on a free port; yields its base URL and stops it afterwards."""
    import httpx

    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "COACHCO2_WORKER_IN_PROCESS": "true" if worker else "false",
        # Every simulated phone comes from 127.0.0.1: the per-IP abuse limits (meant for one address per
        # phone) would throttle the benchmark, not the server. Override with extra_env to measure them.
        "COACHCO2_RATE_LIMIT_INGEST_PER_MINUTE": "1000000",
        "COACHCO2_RATE_LIMIT_REGISTER_PER_HOUR": "1000000",
        **(extra_env or {}),
    }
    logf = tempfile.NamedTemporaryFile(prefix="coachco2_bench_serve_", suffix=".log", delete=False)  # noqa: SIM115
    proc = subprocess.Popen(
        [str(VENV_BIN / "coachco2"), "serve", "--port", str(port), "--log-level", "warning"],
        env=env,
        stdout=logf,
        stderr=subprocess.STDOUT,
        cwd=str(ROOT),
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                raise RuntimeError(
                    f"server exited with {proc.returncode}: {Path(logf.name).read_text()[-2000:]}"
                )
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(base + "/health", timeout=2).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError("server did not answer /health within 60 s")
            time.sleep(0.2)
        log(f"server pid {proc.pid} on {base} ({'worker on' if worker else 'worker off'}), log {logf.name}")
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        tail = Path(logf.name).read_text()[-3000:]
        if "Traceback" in tail or "ERROR" in tail:
            log("server log tail:\n" + tail)
        with contextlib.suppress(OSError):
            os.unlink(logf.name)


def server_pid_rss_kb(pid: int) -> int | None:
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM"):
                return int(line.split()[1])
    return None


def simulated_days(n_days: int, *, seed: int, start_ts_s: float, sampling_s: float = 1.0, phone: bool = True):
    """`n_days` consecutive simulated commute days (one Simulation each), each starting at 06:00 of its day."""
    from app.mobility.simulate import commute_plan, simulate

    out = []
    for d in range(n_days):
        rng = np.random.default_rng(seed * 100_003 + d)
        out.append(
            simulate(
                commute_plan(rng),
                seed=seed * 100_003 + d,
                sampling_s=sampling_s,
                phone=phone,
                outlier_rate=0.002,
                start_ts_s=start_ts_s + d * 86400.0,
            )
        )
    return out


def percentiles(values: list[float]) -> dict:
    if not values:
        return {"p50_ms": None, "p99_ms": None, "max_ms": None}
    arr = np.array(values) * 1000
    return {
        "p50_ms": round(float(np.percentile(arr, 50)), 1),
        "p99_ms": round(float(np.percentile(arr, 99)), 1),
        "max_ms": round(float(arr.max()), 1),
    }
