"""A one-line progress bar for long reads of the log, on a terminal only.

Why a terminal only: replay output is meant to be piped into files and diffs, and scripts read
stderr too; a bar redrawn with carriage returns is noise there. So the bar draws only when its
stream is a TTY, never touches stdout, and throttles redraws (a redraw per record would cost more
than folding the record).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TextIO

WIDTH = 30
REDRAW_SECONDS = 0.2


class Progress:
    """`done` of `total` events, with the rate; silent unless `stream` is a terminal."""

    def __init__(self, stream: TextIO, label: str, total: int, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.stream, self.label, self.total, self.clock = stream, label, total, clock
        self.enabled = stream.isatty()
        self.done = 0
        self._started = clock()
        self._drawn_at = float("-inf")

    def advance(self, count: int = 1) -> None:
        self.done += count
        if self.enabled and self.clock() - self._drawn_at >= REDRAW_SECONDS:
            self._draw()

    def close(self) -> None:
        """Draw the final count and end the line, so what follows starts on a line of its own."""
        if self.enabled:
            self._draw()
            self.stream.write("\n")
            self.stream.flush()

    def _draw(self) -> None:
        now = self.clock()
        self._drawn_at = now
        self.stream.write("\r" + line(self.label, self.done, self.total, now - self._started))
        self.stream.flush()


def line(label: str, done: int, total: int, elapsed_seconds: float) -> str:
    """`label [#####.....] 1,234/5,000 events  25%  3,210 events/s`."""
    share = 1.0 if total <= 0 else min(done / total, 1.0)
    filled = round(share * WIDTH)
    rate = done / elapsed_seconds if elapsed_seconds > 0 else 0.0
    return (
        f"{label} [{'#' * filled}{'.' * (WIDTH - filled)}] {done:,}/{total:,} events {share:4.0%}  {rate:,.0f} events/s"
    )
