"""Progress of long work: the rooms report it, whoever runs them shows it.

A room calls `progress(stage, done, total, unit)` as work advances (`done` counts from the
start of the stage; `total` is None when unknown). The CLI draws a bar on a terminal and
log lines elsewhere; Dagster logs it; tests pass `no_progress`.
"""

from __future__ import annotations

from typing import Protocol


class Progress(Protocol):
    def __call__(
        self, stage: str, done: int, total: int | None = None, unit: str = "events"
    ) -> None: ...


def no_progress(stage: str, done: int, total: int | None = None, unit: str = "events") -> None:
    """Report nothing."""
