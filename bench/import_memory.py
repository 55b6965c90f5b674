"""Throughput and peak-memory benchmark of the streaming import parsers (not part of the test suite).

Generates, in a temporary directory, a GPX 1.1 file and a Google Takeout ``Records.json`` of
``--points`` points each (1,000,000 by default), parses each with its parser in a fresh child process
(so ``ru_maxrss`` is per format), and prints one JSON line::

    {"points_per_file": N, "gpx": {"points", "bytes", "seconds", "points_per_s",
     "tracemalloc_peak_mb", "ru_maxrss_mb"}, "google_records": {...}}

``seconds`` / ``points_per_s`` come from an untraced pass; ``tracemalloc_peak_mb`` from a second pass
under tracemalloc (which slows Python down, hence two passes). Target: peak traced memory well
under 100 MB. Usage: ``.venv/bin/python bench/import_memory.py [--points N]``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.imports.parsers import parse_google_records, parse_gpx

T0 = 1_700_000_000


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def write_gpx(path: Path, n: int) -> None:
    with path.open("w", encoding="utf-8") as out:
        out.write('<?xml version="1.0" encoding="UTF-8"?>\n')
        out.write('<gpx version="1.1" creator="bench" xmlns="http://www.topografix.com/GPX/1/1">\n')
        out.write("<trk><name>bench</name><trkseg>\n")
        lines = []
        for i in range(n):
            lat = 46.15 + (i % 10_000) * 1e-5
            lon = -1.15 - (i % 7_000) * 1e-5
            lines.append(
                f'<trkpt lat="{lat:.7f}" lon="{lon:.7f}"><ele>{10 + i % 50}.5</ele>'
                f"<time>{_iso(T0 + i)}</time></trkpt>\n"
            )
            if len(lines) == 10_000:
                out.write("".join(lines))
                lines.clear()
        out.write("".join(lines))
        out.write("</trkseg></trk></gpx>\n")


def write_records(path: Path, n: int) -> None:
    with path.open("w", encoding="utf-8") as out:
        out.write('{"locations": [\n')
        lines = []
        for i in range(n):
            rec = {
                "latitudeE7": 461500000 + (i % 10_000) * 100,
                "longitudeE7": -11500000 - (i % 7_000) * 100,
                "accuracy": 10 + i % 20,
                "altitude": 12,
                "velocity": i % 15,
                "heading": i % 360,
                "timestamp": _iso(T0 + i),
            }
            if i % 50 == 0:
                rec["activity"] = [
                    {"timestamp": _iso(T0 + i), "activity": [{"type": "WALKING", "confidence": 80}]}
                ]
            lines.append(json.dumps(rec) + (",\n" if i < n - 1 else "\n"))
            if len(lines) == 10_000:
                out.write("".join(lines))
                lines.clear()
        out.write("".join(lines))
        out.write("]}\n")


PARSERS = {"gpx": parse_gpx, "google_records": parse_google_records}


def _count(fmt: str, path: Path) -> int:
    n = 0
    with path.open("rb") as f:
        for points, _activities in PARSERS[fmt](f):
            n += len(points)
    return n


def child(fmt: str, path: Path) -> dict[str, float | int]:
    t = time.perf_counter()
    n = _count(fmt, path)
    seconds = time.perf_counter() - t
    tracemalloc.start()
    _count(fmt, path)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    rss_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    return {
        "points": n,
        "bytes": path.stat().st_size,
        "seconds": round(seconds, 2),
        "points_per_s": round(n / seconds),
        "tracemalloc_peak_mb": round(peak / 2**20, 2),
        "ru_maxrss_mb": round(rss_kb / 1024, 1),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--points", type=int, default=1_000_000)
    ap.add_argument("--child", nargs=2, metavar=("FORMAT", "PATH"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(child(args.child[0], Path(args.child[1]))))
        return
    result: dict[str, object] = {"points_per_file": args.points}
    with tempfile.TemporaryDirectory(prefix="import-bench-") as tmp:
        files = {"gpx": Path(tmp) / "track.gpx", "google_records": Path(tmp) / "Records.json"}
        write_gpx(files["gpx"], args.points)
        write_records(files["google_records"], args.points)
        for fmt, path in files.items():
            proc = subprocess.run(
                [sys.executable, __file__, "--child", fmt, str(path)],
                check=True,
                capture_output=True,
                text=True,
                env={**os.environ, "PYTHONHASHSEED": "0"},
            )
            result[fmt] = json.loads(proc.stdout.strip().splitlines()[-1])
    print(json.dumps(result))


if __name__ == "__main__":
    main()
