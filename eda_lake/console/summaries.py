"""Summaries of a command's work: counters that name what they count, "none" when empty,
and where the results are (which EDA_LAKE_HOME)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import fields, is_dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from eda_lake.lake.delta.commits import TableRun
    from eda_lake.settings import Settings


def home_line(settings: Settings) -> str:
    """Which EDA_LAKE_HOME is in use: a lake started by mistake elsewhere shows here."""
    line = f"EDA_LAKE_HOME   {settings.home}"
    if settings.home == Path(".eda_lake").resolve():
        line += "  (the default, ./.eda_lake here; export EDA_LAKE_HOME to use one from anywhere)"
    return line


def count(number: int, thing: str) -> str:
    """`3 files`, `1 file`, `no files`: a counter that names what it counts."""
    if number == 0:
        return f"no {thing}s"
    return f"{number:,} {thing}{'' if number == 1 else 's'}"


def fields_of(report: object) -> Iterator[tuple[str, object]]:
    """A report's fields by their own names."""
    assert is_dataclass(report)
    for field in fields(report):
        yield field.name, getattr(report, field.name)


def shown(value: object) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k} {shown(v)}" for k, v in value.items()) if value else "none"
    if isinstance(value, list):
        return f"{len(value):,}" if value else "none"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return "none" if value is None else str(value)


def table_run(run: TableRun) -> str:
    """`silver.customers  committed (v3): 80 rows written, 80 keys recomputed; publish to
    commit p50 1.2 s, p95 2.0 s, max 2.1 s`; a count of zero is left out (the layer's totals
    above show it), and the figures when the run took in no new event; a failed run says
    why."""
    if run.failed:
        return f"  {run.table:<28}failed: {run.error}"
    version = "" if run.version is None else f" (v{run.version})"
    counts = "".join(f", {v:,} {k.replace('_', ' ')}" for k, v in run.counts.items() if v)
    figures = ""
    if run.latency is not None:
        timed = run.latency
        figures = (
            f"; publish to commit p50 {timed.p50_s:,.1f} s, p95 {timed.p95_s:,.1f} s, "
            f"max {timed.max_s:,.1f} s"
        )
    line = f"{run.outcome}{version}: {run.rows_written:,} rows written{counts}{figures}"
    return f"  {run.table:<28}{line}"


def print_report(title: str, report: object, skip: tuple[str, ...] = ()) -> None:
    """A lake report's counters by their own names (`files_retried`: `files retried`), then
    what each table's run did."""
    from eda_lake.lake.delta.commits import TableRun

    print(title)
    runs: list[TableRun] = []
    for name, value in fields_of(report):
        if name in skip:
            continue
        if isinstance(value, dict) and all(isinstance(v, TableRun) for v in value.values()):
            runs += value.values()
        else:
            print(f"  {name.replace('_', ' '):<28}{shown(value)}")
    for run in runs:
        print(table_run(run))
