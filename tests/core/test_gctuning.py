"""The garbage collector's tuning of a serving process (app/core/gctuning.py), each case in a process of
its own: the suite's process keeps CPython's defaults (tests/conftest.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

_PROBE = """
import asyncio, gc, json, sys
from app.main import create_app
from app.settings import Settings

freezes = []
freeze = gc.freeze
gc.freeze = lambda: (freezes.append(1), freeze())[1]

async def main():
    app = create_app(Settings(database_url=sys.argv[1], worker_in_process=False))
    before = {"frozen": gc.get_freeze_count(), "thresholds": gc.get_threshold()}
    async with app.router.lifespan_context(app):
        during = {"frozen": gc.get_freeze_count(), "thresholds": gc.get_threshold()}
    app2 = create_app(Settings(database_url=sys.argv[1], worker_in_process=False))
    async with app2.router.lifespan_context(app2):
        pass
    print(json.dumps({"before": before, "during": during, "freezes": len(freezes)}))

asyncio.run(main())
"""


def _probe(tmp_path: Path, tuning: str | None) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "COACHCO2_GC_TUNING"}
    if tuning is not None:
        env["COACHCO2_GC_TUNING"] = tuning
    url = f"sqlite+aiosqlite:///{tmp_path / 'gc.db'}"
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, url], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def test_a_serving_process_freezes_what_it_holds_and_collects_the_young_less_often(tmp_path: Path) -> None:
    from app.core.gctuning import THRESHOLDS

    seen = _probe(tmp_path, None)
    assert seen["before"]["frozen"] == 0 and seen["before"]["thresholds"] == [700, 10, 10]
    # the modules, the app and its schemas: tens of thousands of objects left out of every collection
    assert seen["during"]["frozen"] > 10_000
    assert seen["during"]["thresholds"] == list(THRESHOLDS)
    # once per process: a second app does not freeze again
    assert seen["freezes"] == 1


def test_the_tuning_can_be_turned_off(tmp_path: Path) -> None:
    seen = _probe(tmp_path, "false")
    assert seen["during"] == {"frozen": 0, "thresholds": [700, 10, 10]} and seen["freezes"] == 0
