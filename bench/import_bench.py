#!/usr/bin/env python3
"""Import a generated history file of N points (default 1,000,000) through the real import path — the
streaming check, then the single-transaction store into a fresh SQLite file — and print one JSON line:
points, seconds per pass, points per second, and peak memory (tracemalloc peak and the process's maximum
resident set). The file is generated in a temporary folder and deleted afterwards.

    .venv/bin/python bench/import_bench.py [--points 1000000] [--format gpx|google_records]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import resource
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.accounts import repository as accounts
from app.core.db import Database
from app.core.migrate import upgrade
from app.imports.service import check, store_file
from app.settings import Settings


def write_gpx(path: Path, n: int) -> None:
    start = 1_700_000_000
    with path.open("w") as f:
        f.write(
            '<?xml version="1.0"?><gpx version="1.1" xmlns="http://www.topografix.com/GPX/1/1"><trk><trkseg>\n'
        )
        for i in range(n):
            t = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(start + i))
            f.write(
                f'<trkpt lat="{46.15 + (i % 5000) * 1e-5:.6f}" lon="{-1.15 + (i % 7000) * 1e-5:.6f}"><time>{t}</time></trkpt>\n'
            )
        f.write("</trkseg></trk></gpx>\n")


def write_records(path: Path, n: int) -> None:
    start_ms = 1_700_000_000_000
    with path.open("w") as f:
        f.write('{"locations": [')
        for i in range(n):
            sep = "," if i else ""
            f.write(
                f'{sep}{{"latitudeE7": {461500000 + i % 5000 * 100}, "longitudeE7": {-11500000 + i % 7000 * 100}, '
                f'"accuracy": 10, "timestampMs": "{start_ms + i * 1000}"}}'
            )
        f.write("]}")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--format", choices=["gpx", "google_records"], default="gpx")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / ("history.gpx" if args.format == "gpx" else "Records.json")
        (write_gpx if args.format == "gpx" else write_records)(path, args.points)
        url = f"sqlite+aiosqlite:///{folder}/bench.db"
        await asyncio.to_thread(upgrade, url)
        db = Database(Settings(database_url=url))
        async with db.session() as session:
            user, _, _ = await accounts.register_user(session, "bench")
            await session.commit()
        tracemalloc.start()
        t0 = time.perf_counter()
        checked = await asyncio.to_thread(check, path)
        t1 = time.perf_counter()
        accepted, _ = await store_file(db, user.id, path)
        t2 = time.perf_counter()
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        await db.dispose()
        print(json.dumps({
            "bench": "import", "format": args.format, "file_mb": round(path.stat().st_size / 1e6, 1),
            "points": checked.points, "stored": accepted, "check_s": round(t1 - t0, 2), "store_s": round(t2 - t1, 2),
            "points_per_s": round(checked.points / (t2 - t0)), "tracemalloc_peak_mb": round(peak / 1e6, 1),
            "max_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            "machine": f"{platform.machine()} {platform.python_version()}",
        }))  # fmt: skip


if __name__ == "__main__":
    asyncio.run(main())
