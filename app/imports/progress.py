"""The progress bar of `coachco2 import`: how much of a history file is read, on one line of a terminal."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TextIO

#: bar width, in characters
WIDTH = 30
#: the line is redrawn at most this often (the last state is always drawn)
REDRAW_S = 0.1


def readable_size(n_bytes: float) -> str:
    """A size in decimal units, as file managers show them: 512 B, 4.2 kB, 37.5 MB, 1.3 GB."""
    if n_bytes < 1000:
        return f"{n_bytes:.0f} B"
    size, unit = n_bytes / 1000, "kB"
    for larger in ("MB", "GB"):
        if size < 999.95:  # what would not round to 1000.0
            break
        size, unit = size / 1000, larger
    return f"{size:.1f} {unit}"


class ProgressBar:
    """Called with (bytes read, total bytes) as a file is read; `finish()` draws the end and a new line.

    A total of zero or less is unknown: the line then tells how much was read, without a share. A reader
    may read a little past the size it was told (a format's probe re-reads the first bytes): the share
    never passes 100 %, and `finish()` draws 100 % even when the last read came within the redraw delay.
    """

    def __init__(
        self, label: str, out: TextIO | None = None, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.label, self.out, self.clock = label, out, clock
        self.done, self.total = 0, 0
        self.drawn_at: float | None = None
        self.drawn_width = 0

    def __call__(self, done: int, total: int) -> None:
        self.done, self.total = done, total
        now = self.clock()
        complete = 0 < total <= done
        if self.drawn_at is not None and now - self.drawn_at < REDRAW_S and not complete:
            return
        self.drawn_at = now
        self._draw(self.line())

    def line(self) -> str:
        if self.total <= 0:
            return f"{self.label} {readable_size(self.done)} read"
        share = min(self.done / self.total, 1.0)
        bar = "#" * int(share * WIDTH)
        return f"{self.label} [{bar:<{WIDTH}}] {share * 100:5.1f} % of {readable_size(self.total)}"

    def finish(self) -> None:
        """The whole file was read: draw it so, and end the line."""
        if self.total > 0:
            self.done = max(self.done, self.total)
        self._draw(self.line())
        self._write("\n")

    def _draw(self, line: str) -> None:
        # back to the start of the line; spaces cover what a longer line drawn before left
        self._write("\r" + line.ljust(self.drawn_width))
        self.drawn_width = len(line)

    def _write(self, text: str) -> None:
        out = self.out or sys.stderr
        out.write(text)
        out.flush()
