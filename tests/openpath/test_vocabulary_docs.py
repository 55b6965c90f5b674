"""docs/openpath.md's label tables say what app/openpath/vocabulary.py does."""

from __future__ import annotations

import re
from pathlib import Path

from app.openpath.vocabulary import MODE_LABELS, NOT_A_TRIP, PURPOSE_LABELS

DOC = Path(__file__).resolve().parents[2] / "docs" / "openpath.md"


def rows(section: str) -> dict[str, list[str]]:
    text = DOC.read_text().split(f"### {section}", 1)[1].split("\n#", 1)[0]
    found = {}
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        match = re.fullmatch(r"`([^`]+)`", cells[0]) if cells and cells[0] else None
        if match:
            found[match.group(1)] = [c.strip("`") for c in cells[1:]]
    return found


def test_the_mode_table_is_the_code() -> None:
    table = rows("Modes")
    assert table.pop(NOT_A_TRIP)[0] == "the trip is deleted"
    assert {k: (v[0], v[1]) for k, v in table.items()} == {
        k: (m.mode, str(m.occupants) if m.occupants else "") for k, m in MODE_LABELS.items()
    }


def test_the_purpose_table_is_the_code() -> None:
    assert {k: v[0] for k, v in rows("Purposes").items()} == PURPOSE_LABELS
