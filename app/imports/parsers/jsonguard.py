"""A streaming check of JSON resource limits, run on the raw bytes before ijson sees them.

Why: ijson (and the yajl C library under it) has no limit of its own. A 40 KB upload that opens
20,000 arrays cost 1 GB of memory, because ijson's prefix strings grow with the depth and every event
carries one; a single 100 MB string or a ten-million-digit number is buffered whole by yajl (and took
20 s). :class:`JsonGuard` wraps the upload: every ``read(n)`` passes the bytes through unchanged after
checking them, and raises :class:`ImportFormatError` -- from inside ijson's read call, so ijson never
parses the offending bytes -- as soon as the document

* nests arrays / objects deeper than :data:`MAX_JSON_DEPTH` levels,
* holds a string longer than :data:`MAX_JSON_STRING_BYTES` bytes as written (escapes included), or
* holds a number token longer than :data:`MAX_JSON_NUMBER_CHARS` characters.

The check runs at numpy speed, since uploads reach 1 GiB (no Python loop over bytes, nor over
strings: a regex removing strings ran at 20 MB/s on Google files, which are mostly short strings). Per
chunk, vectorised comparisons find the bytes that matter -- quotes, brackets, backslashes -- and all the
rest works on that short list: backslash runs tell the escaped quotes, a running count of the other
quotes tells which brackets are inside strings, and a cumulative sum over the brackets outside gives the
depth after each. A run of number characters longer than the limit is found with one substring search
over a 0/1 mask. Only the state at the chunk's end is carried over -- inside a string or not, a pending
backslash escape, the length of the unfinished string or number, the depth -- so a string, an escape or
a number may straddle any chunk boundary, and each error names the exact byte.

The guard is exact for every byte of well-formed JSON up to the first syntax error; past a syntax error
(a backslash outside a string, say) its count may drift, which does not matter: yajl stops at that error
and never parses the bytes after it.
"""

from __future__ import annotations

import re
from typing import Protocol

import numpy as np

from app.imports.parsers.types import ImportFormatError

# 64 levels: the deepest structure the importers read is a GeoJSON MultiPolygon position, 8 levels from
# the top (collection, features, feature, geometry, coordinates, polygon, ring, position); Google's
# Records.json and Timeline.json stay under 10. 64 leaves room for foreign members and nested
# properties, and stays far below the ~1000 levels at which Python's repr / comparison of the built
# values would hit the recursion limit.
MAX_JSON_DEPTH = 64

# 1 MiB: the strings of a location history are times, names, ids and short descriptions (a GPX <desc>
# converted to GeoJSON is a few KB at most). yajl buffers a string whole, and its buffer growth makes a
# huge one quadratic; 1 MiB is parsed in milliseconds and still admits an embedded image or long HTML.
MAX_JSON_STRING_BYTES = 1 << 20

# 100 characters: a double printed in full is at most 24 characters ("-1.2345678901234567e-308"),
# an epoch in milliseconds 13; writers that print fixed decimals ("%.30f") stay under 40. yajl buffers
# a number token whole and Python refuses to convert integers of more than 4300 digits. What is counted
# is a run of digits, "-" and "." (an exponent's "e" / "+" starts a new run: bounding each part bounds
# the token, and keeps the mask one comparison).
MAX_JSON_NUMBER_CHARS = 100

_QUOTE = 0x22
_BACKSLASH = 0x5C
_COLON = 0x3A
_WHITESPACE = re.compile(rb"[ \t\r\n]*")
_NUMBER_CHARS = b"-./0123456789"  # "/" never occurs outside a string in JSON; it keeps the range whole
# Slices of at most 64 KiB (ijson reads 64 KiB at a time): the index arrays stay in the CPU cache.
_SLICE = 64 * 1024


class _Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


def format_bytes(n: int) -> str:
    """``1 MiB``, ``64 KiB`` or ``100 bytes``, for messages."""
    if n >= 1 << 20 and n % (1 << 20) == 0:
        return f"{n >> 20} MiB"
    if n >= 1 << 10 and n % (1 << 10) == 0:
        return f"{n >> 10} KiB"
    return f"{n} bytes"


class JsonGuard:
    """A read-only binary stream over ``f`` that refuses JSON breaking the limits above.

    ``read(n)`` returns exactly what ``f.read(n)`` returned, after checking it; ``tell()`` is the number
    of bytes passed through plus ``offset`` (the position of the first byte in the file, e.g. 3 after a
    byte-order mark), which is also how error messages count bytes. ``fmt`` prefixes error messages
    (``"GeoJSON: the file nests JSON deeper than 64 levels (at byte 1234)"``); ``None`` for none.

    Two further limits are for callers that let ijson build values in C (``ijson.items``), where no
    Python code sees the events: ``max_key`` bounds object keys (ijson's ``parse`` joins the keys of the
    path into a new prefix string at every key, so its cost per event is the path's length, up to
    ``max_depth * max_key``), and ``item_depth`` / ``max_item`` bound the bytes of any one array or
    object opened at that depth (1 = the top level), named ``item_name`` in the error.

    ``max_depth_seen`` is the deepest nesting met so far. The stream has no ``readinto`` on purpose:
    ijson then calls ``read``, the only way in.
    """

    def __init__(
        self,
        f: _Readable,
        fmt: str | None = None,
        *,
        offset: int = 0,
        max_depth: int = MAX_JSON_DEPTH,
        max_string: int = MAX_JSON_STRING_BYTES,
        max_number: int = MAX_JSON_NUMBER_CHARS,
        max_key: int | None = None,
        item_depth: int | None = None,
        max_item: int = 1 << 20,
        item_name: str = "JSON value",
    ) -> None:
        limits = (max_depth, max_string, max_number, max_item, max_key, item_depth)
        if any(limit is not None and limit < 1 for limit in limits):
            raise ValueError("JSON limits must be at least 1")
        self._f = f
        self._prefix = f"{fmt}: " if fmt else ""
        self.max_depth = max_depth
        self.max_string = max_string
        self.max_number = max_number
        self.max_key = max_key
        self.item_depth = item_depth
        self.max_item = max_item
        self.item_name = item_name
        self.max_depth_seen = 0
        # Slices of at most max_string + 2 bytes: a string that starts and ends inside one slice then
        # cannot break the limit, so only the string left open at a slice's end needs measuring.
        self._slice = min(_SLICE, max_string + 2)
        # (a run longer than a slice is caught by the carried count: the needle need not be longer)
        self._number_needle = b"\x01" * (min(max_number, _SLICE) + 1)
        self._pos = offset
        self._depth = 0
        self._in_string = False
        self._escape = False  # inside a string, the previous slice ended with a lone backslash
        self._string_len = 0  # bytes of the open string so far, quotes excluded
        self._string_start = 0  # byte position of that string's opening quote
        self._number_run = 0  # number characters at the end of the previous slice
        self._pending_key: int | None = None  # start of a long string that a colon may follow
        self._item_start: int | None = None  # byte position of the open item at item_depth

    def readable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def read(self, size: int = -1, /) -> bytes:
        data = self._f.read(size)
        if data:
            if not isinstance(data, bytes):
                data = bytes(data)
            step = self._slice
            if len(data) <= step:
                self._check(data)
            else:
                for start in range(0, len(data), step):
                    self._check(data[start : start + step])
        return data

    def _refuse(self, what: str, at: int, starting: bool = False) -> ImportFormatError:
        where = "starting at" if starting else "at"
        return ImportFormatError(f"{self._prefix}the file {what} ({where} byte {at})")

    def _long_string(self, start: int) -> ImportFormatError:
        return self._refuse(f"has a JSON string longer than {format_bytes(self.max_string)}", start, True)

    def _long_key(self, start: int) -> ImportFormatError:
        return self._refuse(f"has a JSON object key longer than {self.max_key} bytes", start, True)

    def _long_item(self, start: int) -> ImportFormatError:
        return self._refuse(f"has a {self.item_name} longer than {format_bytes(self.max_item)}", start, True)

    def _check(self, data: bytes) -> None:
        """Check one slice against the state carried from the previous one, and carry its own over.

        Nothing is stored before the whole slice has passed, so a refused slice leaves the state alone.
        """
        n = len(data)
        base = self._pos
        in_string = self._in_string
        a = np.frombuffer(data, dtype=np.uint8)
        folded = a | 0x20  # "[" -> "{", "]" -> "}"
        wanted = (a == _QUOTE) | (folded == 0x7B) | (folded == 0x7D)
        has_backslash = b"\\" in data
        if has_backslash:
            wanted |= a == _BACKSLASH
        pos = np.flatnonzero(wanted)
        if self._escape and pos.size and pos[0] == 0:
            pos = pos[1:]  # the second byte of an escape begun in the previous slice
        vals = a[pos]
        escape_at_end = False
        if has_backslash:
            pos, vals, escape_at_end = _drop_escapes(pos, vals, n)

        # Quotes alternate opening / closing (the carried open string counts as one opened); anything
        # else with an even count of quotes before it is outside strings.
        is_quote = vals == _QUOTE
        quotes_upto = np.cumsum(is_quote)
        n_quotes = int(quotes_upto[-1]) if quotes_upto.size else 0
        qpos = pos[is_quote]
        outside = ~is_quote & ((quotes_upto & 1) == in_string)

        # Strings: the one open at the slice's start ends at the first quote; one left open runs to the end.
        string_len = self._string_len
        if in_string:
            string_len += int(qpos[0]) if n_quotes else n
            if string_len > self.max_string:
                raise self._long_string(self._string_start)
        first_string = (string_len, self._string_start)  # what the first closing quote here closes
        ends_in_string = in_string != (n_quotes % 2 == 1)
        string_start = self._string_start
        if ends_in_string and n_quotes:
            string_len = n - int(qpos[-1]) - 1
            string_start = base + int(qpos[-1])
            if string_len > self.max_string:
                raise self._long_string(string_start)
        elif not ends_in_string:
            string_len = 0

        pending_key = self._pending_key
        if self.max_key is not None:
            pending_key = self._check_keys(data, qpos, in_string, first_string, base)

        depth, item_start = self._depth, self._item_start
        brackets = outside
        bpos = pos[brackets]
        if bpos.size:
            opens = (vals[brackets] | 0x20) == 0x7B
            after = depth + np.cumsum(np.where(opens, 1, -1), dtype=np.int64)  # the depth after each
            peak = int(after.max())
            if peak > self.max_depth:
                first = int(np.argmax(after > self.max_depth))
                raise self._refuse(f"nests JSON deeper than {self.max_depth} levels", base + int(bpos[first]))
            depth = int(after[-1])
            if self.item_depth is not None:
                item_start = self._check_items(bpos, opens, after, base)
        else:
            peak = 0
        if item_start is not None and base + n - item_start > self.max_item:
            raise self._long_item(item_start)

        number_run = self._check_numbers(data, a, qpos, in_string, ends_in_string, base)

        self.max_depth_seen = max(self.max_depth_seen, peak)
        self._in_string = ends_in_string
        self._escape = ends_in_string and escape_at_end
        self._string_len = string_len
        self._string_start = string_start
        self._depth = depth
        self._item_start = item_start
        self._number_run = number_run
        self._pending_key = pending_key
        self._pos = base + n

    def _check_numbers(
        self, data: bytes, a: np.ndarray, qpos: np.ndarray, in_string: bool, ends_in_string: bool, base: int
    ) -> int:
        """Refuse a run of number characters longer than the limit outside strings; return the run at
        the slice's end (it may go on in the next slice)."""
        n = len(data)
        run = self._number_run
        if not in_string:
            lead = n - len(data.lstrip(_NUMBER_CHARS))
            if run + lead > self.max_number:
                raise self._refuse(f"has a JSON number longer than {self.max_number} characters", base - run)
        digits = (np.subtract(a, 0x2D, dtype=np.uint8) < 13).tobytes()  # "-", ".", "/", "0"-"9"
        at = digits.find(self._number_needle)
        while at >= 0:  # digits inside strings do not count: look at the quotes before each long run
            if (int(np.searchsorted(qpos, at)) + in_string) % 2 == 0:
                raise self._refuse(f"has a JSON number longer than {self.max_number} characters", base + at)
            end = digits.find(b"\x00", at)
            at = -1 if end < 0 else digits.find(self._number_needle, end)
        if ends_in_string:
            return 0
        trail = n - len(data.rstrip(_NUMBER_CHARS))
        return run + n if trail == n and not in_string else trail

    def _check_keys(
        self, data: bytes, qpos: np.ndarray, in_string: bool, first_string: tuple[int, int], base: int
    ) -> int | None:
        """Refuse an object key longer than ``max_key``: a string followed, after whitespace only, by a
        colon. Only strings longer than the limit are looked at (in Records.json: none), so the colons
        need no vectorised pass. Returns the start of a long string closed at the slice's end with
        nothing but whitespace after it: a colon opening the next slice makes it a key.
        """
        assert self.max_key is not None
        n = len(data)
        pending: int | None = None
        if self._pending_key is not None:
            after = _WHITESPACE.match(data).end()  # type: ignore[union-attr]
            if after < n and data[after] == _COLON:
                raise self._long_key(self._pending_key)
            pending = self._pending_key if after == n else None
        long_strings: list[tuple[int, int]] = []  # (closing quote in the slice, start byte)
        if in_string and qpos.size and first_string[0] > self.max_key:
            long_strings.append((int(qpos[0]), first_string[1]))
        opens = qpos[1::2] if in_string else qpos[0::2]
        closes = qpos[2::2] if in_string else qpos[1::2]
        opens = opens[: closes.size]
        long = np.flatnonzero(closes - opens - 1 > self.max_key)
        long_strings += [(int(closes[i]), base + int(opens[i])) for i in long]
        for close, start in long_strings:
            after = _WHITESPACE.match(data, close + 1).end()  # type: ignore[union-attr]
            if after < n and data[after] == _COLON:
                raise self._long_key(start)
            pending = start if after == n else None
        return pending

    def _check_items(self, bpos: np.ndarray, opens: np.ndarray, after: np.ndarray, base: int) -> int | None:
        """Refuse an array / object opened at ``item_depth`` longer than ``max_item`` bytes; return the
        start of the one still open at the slice's end, if any."""
        assert self.item_depth is not None
        starts = bpos[opens & (after == self.item_depth)] + base
        ends = bpos[~opens & (after == self.item_depth - 1)] + base
        if self._item_start is not None:
            starts = np.concatenate(([self._item_start], starts))
        m = min(starts.size, ends.size)
        if m:
            too_long = ends[:m] - starts[:m] + 1 > self.max_item
            if too_long.any():
                raise self._long_item(int(starts[np.argmax(too_long)]))
        return int(starts[m]) if starts.size > m else None


def _drop_escapes(pos: np.ndarray, vals: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray, bool]:
    """Remove the backslashes and the escaped quotes from ``pos`` / ``vals``.

    In a run of backslashes, the 1st, 3rd, 5th... escape the byte after them (which may be the next
    backslash of the run). Returns the filtered arrays and whether the last backslash of the slice
    escapes a byte that is not in it (the escape goes on into the next slice).
    """
    is_bs = vals == _BACKSLASH
    bs = pos[is_bs]
    if not bs.size:
        return pos, vals, False
    run_start = np.ones(bs.size, dtype=bool)
    np.not_equal(bs[1:], bs[:-1] + 1, out=run_start[1:])
    start_of_run = np.maximum.accumulate(np.where(run_start, bs, 0))
    escaped = bs[(bs - start_of_run) % 2 == 0] + 1  # the bytes that a backslash escapes
    keep = ~is_bs
    hit = np.searchsorted(pos, escaped)
    inside = hit < pos.size
    hit = hit[inside]
    keep[hit[pos[hit] == escaped[inside]]] = False
    return pos[keep], vals[keep], bool(escaped[-1] == n)
