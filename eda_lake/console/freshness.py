"""`eda-lake status` as a person reads it: the capture and quarantine lines, then one row per
table with its lag behind the newest captured event."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from eda_lake.console.summaries import count

if TYPE_CHECKING:
    from eda_lake.lake.status import LakeStatus

HEADER = ("table", "version", "rows", "last commit (UTC)", "newest event (UTC)", "lag")
WIDTHS = (30, 8, 12, 21, 21, 0)
UNKNOWN = "unknown"  # a table committed before watermarks were kept, until its next commit


def moment(value: datetime | None) -> str:
    return "-" if value is None else f"{value.astimezone(UTC):%Y-%m-%d %H:%M:%S}"


def duration(seconds: float) -> str:
    """12.3 s, 4.5 min, 2.0 h, 3.1 d: a lag in the unit a person reads it in."""
    if seconds < 120:
        return f"{seconds:.1f} s"
    if seconds < 2 * 3600:
        return f"{seconds / 60:.1f} min"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} d"


def _row(cells: tuple[str, ...]) -> str:
    first, *others = cells
    aligned = [f"{first:<{WIDTHS[0]}}"]
    aligned += [f"{c:>{w}}" if i < 2 else f"  {c:<{w}}" for i, (c, w) in
                enumerate(zip(others, WIDTHS[1:], strict=True))]  # fmt: skip
    return "".join(aligned).rstrip()


def status_lines(status: LakeStatus) -> list[str]:
    """The status as lines of text."""
    capture = status.capture
    pending = count(capture.pending_files, "file")
    if capture.oldest_pending_window is not None:
        pending += (
            f" pending ingestion, the oldest of the window {moment(capture.oldest_pending_window)}"
        )
    else:
        pending += " pending ingestion"
    lines = [
        f"lake             {status.lake}",
        f"newest captured  {moment(status.newest_captured)}"
        + ("" if capture.newest_file is None else f"  (newest capture file {capture.newest_file})"),
        f"capture files    {pending} (listed {capture.looked_back_minutes} min back)",
        f"quarantine       {count(status.quarantined_files, 'file')}, "
        f"{count(status.quarantined_events, 'event')} not resolved",
        "",
        _row(HEADER),
    ]
    unknown = False
    for table in status.tables:
        if table.version is None:
            lines.append(_row((table.table, "-", "-", "not built yet", "", "")))
            continue
        held = (table.rows or 0) > 0
        newest = moment(table.newest_event) if table.newest_event or not held else UNKNOWN
        unknown |= table.newest_event is None and held
        lag = "-" if table.lag_s is None else duration(table.lag_s)
        cells = (table.table, str(table.version), f"{table.rows or 0:,}",
                 moment(table.last_commit), newest, lag)  # fmt: skip
        lines.append(_row(cells))
    if unknown:
        lines.append(
            f"{UNKNOWN}: committed before the lake kept each table's newest event; its next "
            "commit records it"
        )
    return lines
