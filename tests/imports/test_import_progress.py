"""The progress bar of `coachco2 import`: readable sizes, 100 % at the end, and an unknown total."""

from __future__ import annotations

import asyncio
import io
import os
import subprocess
from pathlib import Path

import httpx
import pytest

from app.core.migrate import upgrade
from app.imports.progress import ProgressBar, readable_size
from app.main import create_app
from app.settings import Settings
from tests.support.servers import COACHCO2
from tests.support.traces import straight_gpx


@pytest.mark.parametrize(
    ("n_bytes", "shown"),
    [(0, "0 B"), (999, "999 B"), (1000, "1.0 kB"), (4216, "4.2 kB"), (999_949, "999.9 kB"),
     (999_950, "1.0 MB"), (37_500_000, "37.5 MB"), (1_300_000_000, "1.3 GB"), (5e12, "5000.0 GB")],
)  # fmt: skip
def test_sizes_are_readable(n_bytes: float, shown: str) -> None:
    assert readable_size(n_bytes) == shown


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def states(output: str) -> list[str]:
    """What the terminal showed, one entry per redraw (each begins with a carriage return)."""
    return [part.rstrip() for part in output.replace("\n", "").split("\r") if part]


def test_a_small_file_ends_at_100_percent_in_kilobytes() -> None:
    out, clock = io.StringIO(), Clock()
    bar = ProgressBar("checking", out, clock)
    # as the JSON readers call it: a probe of the first bytes, then the whole file and a little more
    for done in (3, 3, 4219, 4219):
        bar(done, 4216)
    bar.finish()
    shown = states(out.getvalue())
    assert shown[0] == "checking [                              ]   0.1 % of 4.2 kB"
    assert shown[-1] == "checking [##############################] 100.0 % of 4.2 kB"
    assert all("MB" not in line and "100.1" not in line for line in shown)
    assert out.getvalue().endswith("\n") and out.getvalue().count("\n") == 1


def test_redraws_are_spaced_but_the_end_is_always_drawn() -> None:
    out, clock = io.StringIO(), Clock()
    bar = ProgressBar("storing ", out, clock)
    for done in range(0, 3_000_001, 100_000):  # 31 reads within one redraw delay
        bar(done, 3_000_000)
    assert states(out.getvalue()) == [
        "storing  [                              ]   0.0 % of 3.0 MB",
        "storing  [##############################] 100.0 % of 3.0 MB",
    ]
    clock.now += 1
    out.seek(0), out.truncate()
    bar(1_500_000, 3_000_000)
    assert states(out.getvalue()) == ["storing  [###############               ]  50.0 % of 3.0 MB"]
    # the reader stops short of the size it was told (the end of the document came first): still 100 %
    bar(2_999_000, 3_000_000)
    bar.finish()
    assert states(out.getvalue())[-1].endswith("100.0 % of 3.0 MB")


def test_an_unknown_total_shows_what_was_read() -> None:
    out, clock = io.StringIO(), Clock()
    bar = ProgressBar("checking", out, clock)
    bar(0, 0)
    clock.now += 1
    bar(52_300, 0)
    bar.finish()
    assert states(out.getvalue()) == ["checking 0 B read", "checking 52.3 kB read", "checking 52.3 kB read"]
    assert "%" not in out.getvalue()


def test_a_shorter_line_covers_a_longer_one() -> None:
    out, clock = io.StringIO(), Clock()
    bar = ProgressBar("checking", out, clock)
    bar(999_000, 0)
    clock.now += 1
    bar(1_000_000, 0)
    first, second = out.getvalue().split("\r")[1:]
    assert len(second) >= len(first)


async def test_the_import_command_shows_a_small_file_to_the_end(
    empty_database_url: str, tmp_path: Path
) -> None:
    await asyncio.to_thread(upgrade, empty_database_url)
    app = create_app(Settings(database_url=empty_database_url, worker_in_process=False))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        user_id = (await client.post("/v1/auth/register", json={})).json()["user_id"]
    await app.state.db.dispose()
    path = tmp_path / "small.gpx"
    path.write_bytes(straight_gpx(40))
    size = readable_size(path.stat().st_size)
    assert size.endswith(" kB")
    env = {**os.environ, "DATABASE_URL": empty_database_url, "COACHCO2_IMPORT_DIR": str(tmp_path / "imports")}
    # bytes, not text: text mode would turn the bar's carriage returns into new lines
    done = await asyncio.to_thread(
        subprocess.run, [COACHCO2, "import", str(path), "--user", user_id], env=env, capture_output=True, timeout=120
    )  # fmt: skip
    stderr = done.stderr.decode()
    assert done.returncode == 0, stderr
    assert "40 points read, 40 new" in done.stdout.decode()
    checking, storing = (states(line)[-1] for line in stderr.split("\n")[:2])
    assert checking == f"checking [{'#' * 30}] 100.0 % of {size}"
    assert storing == f"storing  [{'#' * 30}] 100.0 % of {size}"
    assert "MB" not in stderr
