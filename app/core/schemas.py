"""Shared field types: timestamps in, RFC 3339 out."""

from __future__ import annotations

import math
import time
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer, WithJsonSchema

# The contract refuses points stamped more than a day ahead: phone clocks drift, but not by a day.
MAX_FUTURE_S = 24 * 3600
# Nothing before GPS was available to the public is a plausible phone fix.
MIN_TS_S = 315_964_800  # 1980-01-06, the GPS epoch


def parse_ts_ms(value: Any) -> int:
    """Epoch seconds (number) or an RFC 3339 string with an offset, as integer milliseconds UTC."""
    if isinstance(value, bool):
        raise ValueError("must be epoch seconds (a number) or an RFC 3339 string")
    if isinstance(value, int | float):
        seconds = float(value)
        if not math.isfinite(seconds):
            raise ValueError("must be a finite number of epoch seconds")
    elif isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            raise ValueError("must be an RFC 3339 date-time such as 2016-06-21T22:21:44.086Z") from None
        if parsed.tzinfo is None:
            raise ValueError("RFC 3339 date-times need an offset, such as Z or +02:00")
        seconds = parsed.timestamp()
    else:
        raise ValueError("must be epoch seconds (a number) or an RFC 3339 string")
    if seconds < MIN_TS_S:
        raise ValueError("is before 1980: send epoch seconds, not milliseconds or a relative time")
    if seconds > time.time() + MAX_FUTURE_S:
        raise ValueError("is more than 24 h in the future")
    return round(seconds * 1000)


InputTimestamp = Annotated[
    int,
    BeforeValidator(parse_ts_ms),
    WithJsonSchema(
        {
            "oneOf": [
                {"type": "number", "description": "epoch seconds, UTC"},
                {"type": "string", "format": "date-time", "description": "RFC 3339 with an offset"},
            ],
            "examples": [1466547704.08, "2016-06-21T22:21:44.086Z"],
        }
    ),
]


def rfc3339(value: datetime | None) -> str | None:
    if value is None:
        return None
    text = value.astimezone(UTC).isoformat(timespec="milliseconds")
    return text.replace("+00:00", "Z")


def rfc3339_ms(ts_ms: int | None) -> str | None:
    if ts_ms is None:
        return None
    return rfc3339(datetime.fromtimestamp(ts_ms / 1000, UTC))


OutputTime = Annotated[
    datetime,
    PlainSerializer(rfc3339, return_type=str),
    WithJsonSchema({"type": "string", "format": "date-time", "examples": ["2016-06-21T22:21:44.086Z"]}),
]
