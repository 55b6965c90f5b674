"""Shared field types: timestamps in, RFC 3339 out, and text without NUL characters.

Every instant a client sends goes through one check (:func:`instant_ms`): it must name a moment of the
years 1 to 9999 in UTC (what an RFC 3339 date-time can write), so that it can be stored, compared and
written back without overflowing. Phone timestamps (:data:`InputTimestamp`) are held to a narrower,
plausible range on top of that.
"""

from __future__ import annotations

import math
import time
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, GetJsonSchemaHandler, PlainSerializer, WithJsonSchema
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema

from app.core.lang import Msg, MsgValueError

# The contract refuses points stamped more than a day ahead: phone clocks drift, but not by a day.
MAX_FUTURE_S = 24 * 3600
# Nothing before GPS was available to the public is a plausible phone fix.
MIN_TS_S = 315_964_800  # 1980-01-06, the GPS epoch

#: Epoch seconds of 0001-01-01T00:00:00Z (included) and of 10000-01-01T00:00:00Z (excluded): the instants an
#: RFC 3339 date-time can name in UTC.
EPOCH_RANGE_S = (-62_135_596_800.0, 253_402_300_800.0)
EPOCH_RANGE_MS = (-62_135_596_800_000, 253_402_300_800_000)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)
_SECONDS_RANGE = Msg(
    "epoch seconds must fall between the years 1 and 9999 (UTC)",
    "les secondes depuis 1970 doivent tomber entre les années 1 et 9999 (UTC)",
)
_TIME_RANGE = Msg(
    "the time must fall between the years 1 and 9999 (UTC)",
    "l'instant doit tomber entre les années 1 et 9999 (UTC)",
)
_NUMBER = Msg(
    "must be epoch seconds (a number) or an RFC 3339 string",
    "doit être en secondes depuis 1970 (un nombre) ou un texte RFC 3339",
)
_NOT_FINITE = Msg(
    "must be a finite number of epoch seconds",
    "doit être un nombre fini de secondes depuis 1970",
)


def _epoch_seconds(value: int | float) -> float:
    """A JSON number as float seconds; a number too large for a float (a 400-digit integer) is refused."""
    try:
        seconds = float(value)
    except OverflowError:
        raise MsgValueError(_SECONDS_RANGE) from None
    if not math.isfinite(seconds):
        raise MsgValueError(_NOT_FINITE)
    return seconds


def _in_range(ms: int, out_of_range: Msg) -> int:
    if not EPOCH_RANGE_MS[0] <= ms < EPOCH_RANGE_MS[1]:
        raise MsgValueError(out_of_range)
    return ms


def epoch_ms(seconds: float) -> int:
    """Epoch seconds as integer milliseconds, checked to fall in the years 1 to 9999 (NaN and infinities
    are refused too)."""
    if not EPOCH_RANGE_S[0] <= seconds < EPOCH_RANGE_S[1]:
        raise MsgValueError(_SECONDS_RANGE)
    return _in_range(round(seconds * 1000), _SECONDS_RANGE)


_NOT_RFC3339 = Msg(
    "must be an RFC 3339 date-time such as 2016-06-21T22:21:44.086Z",
    "doit être une date et heure RFC 3339, comme 2016-06-21T22:21:44.086Z",
)


def rfc3339_to_ms(text: str, invalid: Msg = _NOT_RFC3339) -> int:
    """An RFC 3339 date-time with an offset as integer milliseconds UTC, checked like :func:`epoch_ms`
    (an offset may carry a date of year 1 or 9999 outside the calendar: `0001-01-01T00:00:00+01:00`)."""
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise MsgValueError(invalid) from None
    if parsed.tzinfo is None:
        raise MsgValueError(
            Msg(
                "RFC 3339 date-times need an offset, such as Z or +02:00",
                "une date et heure RFC 3339 porte son décalage horaire, comme Z ou +02:00",
            )
        )
    # The difference of two aware date-times (no intermediate date-time that could overflow), in exact ms.
    return _in_range(round((parsed - _EPOCH) / _MS), _TIME_RANGE)


def instant_ms(value: Any, *, numeric_strings: bool = False) -> int:
    """The one check of a time a client sends: epoch seconds (a number, or with `numeric_strings` a string
    of one, as in a query) or an RFC 3339 string with an offset, as integer milliseconds UTC within the years
    1 to 9999. Raises ValueError saying what is wrong."""
    if isinstance(value, bool):
        raise MsgValueError(_NUMBER)
    if isinstance(value, int | float):
        return epoch_ms(_epoch_seconds(value))
    if isinstance(value, str):
        if numeric_strings:
            try:
                seconds = float(value)
            except ValueError:
                return rfc3339_to_ms(
                    value,
                    Msg(
                        "must be an RFC 3339 date-time or epoch seconds",
                        "doit être une date et heure RFC 3339 ou des secondes depuis 1970",
                    ),
                )
            if not math.isfinite(seconds):
                raise MsgValueError(_NOT_FINITE)
            return epoch_ms(seconds)
        return rfc3339_to_ms(value)
    raise MsgValueError(_NUMBER)


def parse_ts_ms(value: Any) -> int:
    """Epoch seconds (number) or an RFC 3339 string with an offset, as integer milliseconds UTC, for a
    phone's fix: from 1980 to 24 h ahead."""
    ms = instant_ms(value)
    if ms < MIN_TS_S * 1000:
        raise MsgValueError(
            Msg(
                "is before 1980: send epoch seconds, not milliseconds or a relative time",
                "précède 1980 : envoyez des secondes depuis 1970, pas des millisecondes ni un temps relatif",
            )
        )
    if ms > (time.time() + MAX_FUTURE_S) * 1000:
        raise MsgValueError(Msg("is more than 24 h in the future", "est à plus de 24 h dans le futur"))
    return ms


def parse_query_time_ms(value: Any) -> int:
    return instant_ms(value, numeric_strings=True)


def parse_rfc3339_ms(value: Any) -> int:
    if not isinstance(value, str):
        raise MsgValueError(
            Msg("must be an RFC 3339 date-time (a string)", "doit être une date et heure RFC 3339 (un texte)")
        )
    return rfc3339_to_ms(value)


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


#: A time in a query string: RFC 3339 with an offset, or epoch seconds; integer milliseconds UTC.
QueryTime = Annotated[
    int,
    BeforeValidator(parse_query_time_ms),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "format": "date-time"},
                {"type": "string", "pattern": r"^-?[0-9]+(\.[0-9]+)?$", "description": "epoch seconds"},
            ],
            "description": "RFC 3339 with an offset, or epoch seconds (years 1 to 9999)",
            "examples": ["2016-06-21T22:21:44.086Z", "1466547704.08"],
        }
    ),
]

#: An RFC 3339 date-time with an offset in a request body; integer milliseconds UTC.
InputInstant = Annotated[
    int,
    BeforeValidator(parse_rfc3339_ms),
    WithJsonSchema({"type": "string", "format": "date-time", "examples": ["2026-01-01T00:00:00+01:00"]}),
]


def _no_nul(value: str) -> str:
    if "\x00" in value:
        raise MsgValueError(
            Msg(
                "must not contain NUL characters (\\u0000)", "ne doit pas contenir de caractère NUL (\\u0000)"
            )
        )
    return value


class _NoNulPattern:
    """Says in the JSON schema what `_no_nul` checks, keeping the field's other constraints."""

    def __get_pydantic_json_schema__(
        self, schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        json_schema = handler(schema)
        json_schema.setdefault("pattern", "^[^\\u0000]*$")
        return json_schema


#: Text a person or an operator sends: PostgreSQL cannot store NUL (U+0000) in text, so it is refused with a
#: 422 naming the field (on SQLite as well: the contract is the same on both).
InputText = Annotated[str, AfterValidator(_no_nul), _NoNulPattern()]


def rfc3339(value: datetime | None) -> str | None:
    if value is None:
        return None
    text = value.astimezone(UTC).isoformat(timespec="milliseconds")
    return text.replace("+00:00", "Z")


def rfc3339_local(value: datetime) -> str:
    """An aware local time as RFC 3339 with its offset (`2026-11-01T00:00:00+01:00`). An offset with
    seconds cannot be written in RFC 3339 (local mean time before time zones: Paris was +00:09:21 until
    1911): that instant is written in UTC instead."""
    offset = value.utcoffset()
    if offset is None:
        raise TypeError("a local time needs its offset (an aware datetime)")
    if offset % timedelta(minutes=1):
        return rfc3339(value) or ""
    return value.isoformat()


def rfc3339_ms(ts_ms: int | None) -> str | None:
    if ts_ms is None:
        return None
    return rfc3339(_EPOCH + ts_ms * _MS)  # exact: no float rounding of the milliseconds


OutputTime = Annotated[
    datetime,
    PlainSerializer(rfc3339, return_type=str),
    WithJsonSchema({"type": "string", "format": "date-time", "examples": ["2016-06-21T22:21:44.086Z"]}),
]


#: An instant already written as RFC 3339 (UTC, with milliseconds: `2016-06-21T22:21:44.086Z`), in an answer.
InstantText = Annotated[
    str, WithJsonSchema({"type": "string", "format": "date-time", "examples": ["2016-06-21T22:21:44.086Z"]})
]

#: A local calendar day (YYYY-MM-DD), in an answer.
DateText = Annotated[str, WithJsonSchema({"type": "string", "format": "date", "examples": ["2026-11-02"]})]

#: A local calendar month (YYYY-MM): JSON Schema has no format for it, so a pattern says it.
MONTH_PATTERN = r"^[0-9]{4}-(0[1-9]|1[0-2])$"
MonthText = Annotated[
    str, WithJsonSchema({"type": "string", "pattern": MONTH_PATTERN, "examples": ["2026-11"]})
]
