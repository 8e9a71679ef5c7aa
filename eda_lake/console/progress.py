"""Renderers of `eda_lake.progress.Progress` for the command line.

On a terminal a bar redrawn in place (at most ten times a second); elsewhere (a log file, CI,
a pipe) one line every few seconds and one when a stage ends, so a long run is never silent
and a log is never flooded. Both write to stderr: stdout keeps the command's results.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TextIO

BAR_WIDTH = 24
BAR_REDRAW_SECONDS = 0.1
LOG_EVERY_SECONDS = 5.0

Clock = Callable[[], float]


def _amount(done: int, total: int | None, unit: str) -> str:
    return f"{done:,}/{total:,} {unit}" if total is not None else f"{done:,} {unit}"


class _Stage:
    """What a renderer remembers of the stage in progress."""

    def __init__(self, name: str, now: float) -> None:
        self.name = name
        self.started = now
        self.shown = float("-inf")
        self.done = 0
        self.total: int | None = None
        self.unit = ""

    def rate(self, now: float) -> str:
        elapsed = now - self.started
        return f"{self.done / elapsed:,.0f} {self.unit}/s" if elapsed > 0 else ""

    def finished(self) -> bool:
        return self.total is not None and self.done >= self.total


class TerminalBar:
    """`stage [#####-----] 1,200/5,000 events  3,100 events/s`, redrawn in place."""

    def __init__(self, stream: TextIO, clock: Clock = time.monotonic) -> None:
        self._stream = stream
        self._clock = clock
        self._stage: _Stage | None = None

    def __call__(
        self, stage: str, done: int, total: int | None = None, unit: str = "events"
    ) -> None:
        now = self._clock()
        if self._stage is None or self._stage.name != stage:
            self.close()
            self._stage = _Stage(stage, now)
        current = self._stage
        current.done, current.total, current.unit = done, total, unit
        if now - current.shown < BAR_REDRAW_SECONDS and not current.finished():
            return
        current.shown = now
        if total:
            filled = min(BAR_WIDTH, BAR_WIDTH * done // total)
            bar = f"[{'#' * filled}{'-' * (BAR_WIDTH - filled)}] "
        else:
            bar = ""
        line = f"{stage} {bar}{_amount(done, total, unit)}  {current.rate(now)}"
        self._stream.write(f"\r\x1b[2K{line}")
        self._stream.flush()

    def close(self) -> None:
        """End the bar's line, so what follows starts on its own."""
        if self._stage is not None:
            self._stream.write("\n")
            self._stream.flush()
            self._stage = None


class LogLines:
    """`progress: stage 1,200/5,000 events (3,100 events/s)` every few seconds, and at the end
    of each stage."""

    def __init__(
        self, stream: TextIO, clock: Clock = time.monotonic, every: float = LOG_EVERY_SECONDS
    ) -> None:
        self._stream = stream
        self._clock = clock
        self._every = every
        self._stage: _Stage | None = None
        self._ended: tuple[str, int] | None = None  # the last stage reported finished

    def __call__(
        self, stage: str, done: int, total: int | None = None, unit: str = "events"
    ) -> None:
        now = self._clock()
        if self._ended == (stage, done):
            return  # a finished stage reported again: said already
        if self._stage is None or self._stage.name != stage:
            self.close()
            self._stage = _Stage(stage, now)
            self._stage.shown = now  # the first line comes after `every`, or at the end
        current = self._stage
        current.done, current.total, current.unit = done, total, unit
        if current.finished() or now - current.shown >= self._every:
            self._write(current, now)

    def _write(self, stage: _Stage, now: float) -> None:
        stage.shown = now
        rate = stage.rate(now)
        self._stream.write(
            f"progress: {stage.name} {_amount(stage.done, stage.total, stage.unit)}"
            + (f" ({rate})" if rate else "")
            + "\n"
        )
        self._stream.flush()
        if stage.finished():
            self._stage, self._ended = None, (stage.name, stage.done)

    def close(self) -> None:
        """Report where an unfinished stage (one of unknown total) ended."""
        if self._stage is not None and self._stage.done:
            self._write(self._stage, self._clock())
        self._stage = None


def progress_for(stream: TextIO | None = None) -> TerminalBar | LogLines:
    """A bar on a terminal, log lines elsewhere."""
    stream = stream or sys.stderr
    return TerminalBar(stream) if stream.isatty() else LogLines(stream)
