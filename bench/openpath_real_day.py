"""Replay a real phone day through a running server, as the OpenPATH app would send it, and check that
its trips come back through the diary with the labels the person gave.

Input: one day of entries as e-mission-server stores them (a JSON list of `{_id, user_id, metadata,
data}`, e.g. its test data `emission/tests/data/real_examples/shankari_2016-06-20`) and, optionally, files
of the labels given that day (`...user_inputs`, the same format). Nothing of that data is kept here.

    python bench/openpath_real_day.py --base-url http://127.0.0.1:8000 --cli \
        --day .../real_examples/shankari_2016-06-20 --inputs .../real_examples/shankari_2016-06-20.user_inputs

Steps: an opcode (`--opcode`, or `--cli` to issue one with `coachco2 openpath opcodes`), /profile/create,
/usercache/put in chunks of at most 10,000 entries in write_ts order (the phone's shape: metadata and
data, no ids), /pipeline/get_range_ts until the pipeline caught up, /datastreams/find_entries/timestamp
for `analysis/composite_trip`, /result/metrics/yyyy_mm_dd. Prints figures; exits 0 (a measurement).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

KEYS = {"manual/mode_confirm": "mode_confirm", "manual/purpose_confirm": "purpose_confirm"}
PHONE_METADATA = ("key", "platform", "write_ts", "read_ts", "time_zone", "type", "plugin")


def phone_entry(stored: dict[str, Any]) -> dict[str, Any]:
    """What the phone sent for a stored entry: its metadata fields and data, without the server's ids."""
    metadata = {k: v for k, v in stored["metadata"].items() if k in PHONE_METADATA}
    return {"metadata": metadata, "data": stored["data"]}


def post(client: httpx.Client, path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = client.post(path, json=body)
    if response.status_code != 200:
        raise SystemExit(f"{path}: HTTP {response.status_code} {response.text[:300]}")
    answer: dict[str, Any] = response.json()
    return answer


def issue_opcode() -> str:
    done = subprocess.run(
        [sys.executable, "-m", "app.cli", "openpath", "opcodes", "--count", "1"],
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip().splitlines()[-1]


def overlap(a0: float, a1: float, b0: float, b1: float) -> float:
    return max(0.0, min(a1, b1) - max(a0, b0))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base-url", default="http://127.0.0.1:8000")
    parser.add_argument("--day", required=True, type=Path)
    parser.add_argument("--inputs", type=Path, action="append", default=[])
    parser.add_argument("--opcode")
    parser.add_argument("--cli", action="store_true", help="issue an opcode with `coachco2 openpath opcodes`")
    parser.add_argument("--wait-s", type=float, default=180.0)
    args = parser.parse_args()
    if not args.opcode and not args.cli:
        parser.error("give --opcode or --cli")
    opcode = args.opcode or issue_opcode()

    stored = json.loads(args.day.read_text())
    labels = [e for path in args.inputs for e in json.loads(path.read_text())]
    entries = sorted((phone_entry(e) for e in stored + labels), key=lambda e: e["metadata"]["write_ts"])
    locations = [e["data"]["ts"] for e in entries if e["metadata"]["key"].endswith("location")]
    first_ts, last_ts = min(locations), max(locations)

    with httpx.Client(base_url=args.base_url, timeout=120) as client:
        post(client, "/profile/create", {"user": opcode})
        started = time.monotonic()
        totals: dict[str, int] = {"accepted": 0, "labels_stored": 0, "labels_applied": 0, "labels_pending": 0}
        errors: list[str] = []
        for i in range(0, len(entries), 10_000):
            answer = post(
                client,
                "/usercache/put",
                {"user": opcode, "phone_to_server": entries[i : i + 10_000], "deployment_config_version": 1,
                 "app_version": "replay"},
            )  # fmt: skip
            totals["accepted"] += answer["accepted"]
            totals["labels_stored"] += answer["labels"]["stored"]
            totals["labels_applied"] += answer["labels"]["applied"]
            totals["labels_pending"] += answer["labels"]["pending"]
            errors += answer["errors"]
        upload_s = time.monotonic() - started
        span: dict[str, Any] = {}
        deadline = time.monotonic() + args.wait_s
        while time.monotonic() < deadline:
            span = post(client, "/pipeline/get_range_ts", {"user": opcode})
            done = post(client, "/pipeline/get_complete_ts", {"user": opcode}).get("complete_ts")
            if done is not None and done >= last_ts - 1:
                break
            time.sleep(1.0)
        processed_s = time.monotonic() - started
        found = post(
            client,
            "/datastreams/find_entries/timestamp",
            {"user": opcode, "key_list": ["analysis/composite_trip"], "start_time": first_ts - 86_400,
             "end_time": last_ts + 86_400, "key_time": "data.end_ts"},
        )["phone_data"]  # fmt: skip
        trips = [t["data"] for t in found]
        first_day = datetime.fromtimestamp(first_ts - 86_400, UTC).date().isoformat()
        last_day = datetime.fromtimestamp(last_ts + 86_400, UTC).date().isoformat()
        metrics = post(
            client,
            "/result/metrics/yyyy_mm_dd",
            {"user": opcode, "freq": "D", "start_time": first_day, "end_time": last_day,
             "metric_list": {"footprint": ["mode_confirm"], "count": ["mode_confirm"]}},
        )  # fmt: skip

    print(f"entries sent            {len(entries)} ({len(labels)} labels), upload {upload_s:.1f} s")
    print(f"points accepted         {totals['accepted']}, errors {len(errors)}")
    print(f"labels stored/applied/pending  {totals['labels_stored']}/{totals['labels_applied']}/"
          f"{totals['labels_pending']} (after the upload)")  # fmt: skip
    print(f"pipeline caught up in   {processed_s:.1f} s; range {span}")
    print(f"trips returned          {len(trips)}")
    for trip in trips:
        given = {k: v for k, v in trip.get("user_input", {}).items() if isinstance(v, str)}
        print(f"  {trip['start_fmt_time'][:19]} .. {trip['end_fmt_time'][11:19]}  {trip['distance']:8.0f} m  "
              f"{trip['duration']:6.0f} s  {given}")  # fmt: skip
    # a later label of the same key replaces an earlier one on the trip it overlaps most: what each
    # returned trip should show is the latest label overlapping it most, per key
    expected: dict[tuple[int, str], dict[str, Any]] = {}
    for entry in labels:
        field = KEYS.get(entry["metadata"]["key"])
        data = entry["data"]
        if field is None or not trips:
            continue
        scores = [overlap(data["start_ts"], data["end_ts"], t["start_ts"], t["end_ts"]) for t in trips]
        best = max(range(len(trips)), key=lambda i: scores[i])
        if scores[best] <= 0:
            print(f"  label {field} {data['label']} overlaps no returned trip")
            continue
        slot = (best, field)
        if slot not in expected or expected[slot]["metadata"]["write_ts"] < entry["metadata"]["write_ts"]:
            expected[slot] = entry
    carried = 0
    for (index, field), entry in sorted(expected.items()):
        shown = trips[index].get("user_input", {}).get(field)
        ok = shown == entry["data"]["label"]
        carried += ok
        print(f"  trip {index + 1} {field:16s} {entry['data']['label']:14s} -> "
              f"{'carried' if ok else f'NOT carried ({shown})'}")  # fmt: skip
    superseded = sum(1 for e in labels if e["metadata"]["key"] in KEYS) - len(expected)
    print(
        f"latest labels carried by their trip  {carried} of {len(expected)} ({superseded} replaced by later ones)"
    )
    footprint = sum(v["kg_co2"] for day in metrics.get("footprint", []) for k, v in day.items()
                    if isinstance(v, dict))  # fmt: skip
    print(f"footprint {first_day} .. {last_day} (metrics)  {footprint:.3f} kg CO2e")
    return 0


if __name__ == "__main__":
    sys.exit(main())
