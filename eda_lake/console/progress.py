"""Renderers of `eda_lake.shared.progress.Progress` for the command line.

On a terminal rich's bars, one line per stage, redrawn in place ten times a second; elsewhere (a
log file, CI, a pipe) one line every few seconds and one when a stage ends, so a long run is
never silent and a log is never flooded. Both write to stderr: stdout keeps the command's
results.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TextIO

from rich.console import Console
from rich.progress import BarColumn, ProgressColumn, Task, TaskID, TextColumn
from rich.progress import Progress as RichProgress
from rich.table import Column
from rich.text import Text

BAR_WIDTH = 20
LOG_EVERY_SECONDS = 5.0

Clock = Callable[[], float]


def _amount(done: int, total: int | None, unit: str) -> str:
    return f"{done:,}/{total:,} {unit}" if total is not None else f"{done:,} {unit}"


def _per_second(rate: float, unit: str) -> str:
    """`3,100 events/s`; a slow stage's rate keeps two digits (`0.25 runs/s`), not `0`."""
    return f"{rate:,.0f} {unit}/s" if rate >= 10 else f"{rate:.2g} {unit}/s"


class _Amount(ProgressColumn):
    """`1,200/5,000 events`, or `1,200 events` when the total is unknown."""

    def render(self, task: Task) -> Text:
        total = None if task.total is None else int(task.total)
        return Text(_amount(int(task.completed), total, task.fields["unit"]), "progress.download")


class _Rate(ProgressColumn):
    """`3,100 events/s` over the last seconds of the stage (its whole run once finished)."""

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        shown = _per_second(speed, task.fields["unit"]) if speed else ""
        return Text(shown, "progress.data.speed")


class TerminalBar:
    """`stage ━━━━━━━╸━━━━ 1,200/5,000 events 3,100 events/s`: a bar per stage, redrawn in
    place; a stage of unknown total pulses."""

    def __init__(self, stream: TextIO, clock: Clock = time.monotonic) -> None:
        # Only stderr is taken over while the bars show (a line written to it goes above
        # them): stdout keeps the command's results, whatever it is.
        # On a narrow terminal the bar gives way first, then the words (ending in "…").
        self._bars = RichProgress(
            TextColumn(
                "{task.description}", table_column=Column(no_wrap=True, overflow="ellipsis")
            ),
            BarColumn(bar_width=BAR_WIDTH),
            _Amount(table_column=Column(no_wrap=True)),
            _Rate(table_column=Column(no_wrap=True)),
            console=Console(file=stream, force_terminal=True),
            get_time=clock,
            redirect_stdout=False,
        )
        self._stage: tuple[str, TaskID] | None = None

    def __call__(
        self, stage: str, done: int, total: int | None = None, unit: str = "events"
    ) -> None:
        if self._stage is None:
            self._bars.start()
        elif self._stage[0] != stage:
            self._bars.stop_task(self._stage[1])
        if self._stage is None or self._stage[0] != stage:
            self._stage = (stage, self._bars.add_task(stage, total=total, unit=unit))
        self._bars.update(self._stage[1], completed=done, total=total, unit=unit)

    def close(self) -> None:
        """Leave the bars as they ended, so what follows starts on its own line."""
        if self._stage is not None:
            self._bars.stop()
            self._stage = None


class _Stage:
    """What the log lines remember of the stage in progress."""

    def __init__(self, name: str, now: float) -> None:
        self.name = name
        self.started = now
        self.shown = now  # the first line comes after `every`, or at the end
        self.done = 0
        self.said: int | None = None  # `done` as the last line said it
        self.total: int | None = None
        self.unit = ""

    def rate(self, now: float) -> str:
        elapsed = now - self.started
        return _per_second(self.done / elapsed, self.unit) if elapsed > 0 else ""

    def finished(self) -> bool:
        return self.total is not None and self.done >= self.total


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
        current = self._stage
        current.done, current.total, current.unit = done, total, unit
        if current.finished() or now - current.shown >= self._every:
            self._write(current, now)

    def _write(self, stage: _Stage, now: float) -> None:
        stage.shown, stage.said = now, stage.done
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
        """Report where an unfinished stage (one of unknown total) ended, unless its last
        line said so already."""
        if self._stage is not None and self._stage.done and self._stage.said != self._stage.done:
            self._write(self._stage, self._clock())
        self._stage = None


def progress_for(stream: TextIO | None = None) -> TerminalBar | LogLines:
    """Bars on a terminal, log lines elsewhere."""
    stream = stream or sys.stderr
    return TerminalBar(stream) if stream.isatty() else LogLines(stream)
