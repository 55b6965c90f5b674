"""Bounded memory: a 200k-point GPX parses with a small tracemalloc peak."""

from __future__ import annotations

import tracemalloc
from datetime import UTC, datetime
from pathlib import Path

from app.imports.parsers import parse_file

N = 200_000
T0 = 1_700_000_000


def test_200k_point_gpx_bounded_memory(tmp_path: Path) -> None:
    path = tmp_path / "big.gpx"
    base = datetime.fromtimestamp(T0, UTC).strftime("%Y-%m-%dT%H:%M")
    with path.open("w", encoding="utf-8") as out:
        out.write('<?xml version="1.0"?>\n<gpx version="1.1" xmlns="http://www.topografix.com/GPX/1/1">')
        out.write("<trk><trkseg>\n")
        block = []
        for i in range(N):
            # times cycle within one minute range: the parser does not require them to be increasing
            block.append(
                f'<trkpt lat="{46 + (i % 1000) * 1e-4:.5f}" lon="{-1 - (i % 777) * 1e-4:.5f}">'
                f"<ele>{i % 90}</ele><time>{base}:{i % 60:02d}.{i % 1000:03d}Z</time></trkpt>\n"
            )
            if len(block) == 20_000:
                out.write("".join(block))
                block.clear()
        out.write("</trkseg></trk></gpx>\n")
    assert path.stat().st_size > 15_000_000

    count = 0
    tracemalloc.start()
    try:
        with path.open("rb") as f:
            for points, _activities in parse_file(f):
                count += len(points)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert count == N
    assert peak < 50 * 2**20, f"peak traced memory {peak / 2**20:.1f} MB"
