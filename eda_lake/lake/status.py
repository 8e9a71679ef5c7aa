"""How fresh the lake is: each table's lag behind the newest captured event, the capture
files not ingested yet, and what waits in quarantine.

Every figure comes from a table's Delta log (its rows from the add actions, its newest event
from its watermark or, for bronze, its data files' statistics, its last commit from the
commit info) or from listing the capture prefixes recent enough to hold files (the capture
sensor's look-back). The one data read is which of those files bronze holds, as ingestion
decides it (`source_file` in the data files whose statistics admit them): the cost follows the
recent capture files, not the lake's size.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from eda_lake.lake.bronze.ingest import BronzeIngestor
from eda_lake.lake.bronze.schema import QUALIFIED_NAME as BRONZE
from eda_lake.lake.delta import freshness, tables
from eda_lake.lake.delta.metadata import null_count, row_count
from eda_lake.lake.derived.declarations import ENTITY_TABLES, GOLD_TABLES, event_table, qualified
from eda_lake.lake.discovery.listing import discover_recent
from eda_lake.lake.parts import LakeParts

RESOLVED = "resolved_at"  # a quarantined item not resolved has none


@dataclass(frozen=True)
class TableStatus:
    table: str  # qualified: silver.customers
    version: int | None  # None: not built yet
    rows: int | None
    last_commit: datetime | None
    newest_event: datetime | None  # None: none yet, or committed before watermarks were kept
    lag_s: float | None  # behind the newest captured event; None where either is unknown


@dataclass(frozen=True)
class CaptureStatus:
    looked_back_minutes: int  # how far back capture files were listed
    newest_file: str | None
    newest_window: datetime | None  # the newest file's capture window
    pending_files: int  # listed and not in bronze (nor quarantined)
    oldest_pending_window: datetime | None


@dataclass(frozen=True)
class LakeStatus:
    lake: str
    checked_at: datetime
    newest_captured: datetime | None  # bronze's newest event, or a newer pending file's window
    capture: CaptureStatus
    quarantined_files: int  # not resolved
    quarantined_events: int  # not resolved
    tables: tuple[TableStatus, ...]

    def to_json(self) -> dict[str, Any]:
        """The status as plain JSON values: instants in ISO 8601 UTC, unknowns null."""
        return _plain(asdict(self))  # type: ignore[no-any-return]


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def table_names(lake: LakeParts) -> list[str]:
    """Every table of the lake, in the order events flow: bronze, the event tables, the
    entities, gold."""
    events = [qualified("silver", event_table(name)) for name in lake.catalogue.events]
    derived = [d.qualified_name for d in (*ENTITY_TABLES, *GOLD_TABLES)]
    return [BRONZE, *events, *derived]


def _table_status(lake: LakeParts, name: str) -> tuple[str, Any, datetime | None]:
    layer, _, table = name.partition(".")
    uri = lake.layout.bronze_uri if name == BRONZE else lake.layout.table_uri(layer, table)
    opened = tables.open_table(uri, lake.layout.storage_options)
    if opened is None:
        return name, None, None
    newest = freshness.newest_enqueued(opened) if name == BRONZE else freshness.watermark(opened)
    return name, opened, newest


def _capture(lake: LakeParts, now: datetime) -> CaptureStatus:
    minutes = lake.settings.capture_lateness_minutes
    recent = discover_recent(
        lake.source.fs, lake.source.root, lake.names, now - timedelta(minutes=minutes)
    )
    windows = {f.path: f.archive.window_time for f in recent if f.archive is not None}
    pending = BronzeIngestor(lake.layout, lake.source.fs, lake.source.root).new_files(recent)
    newest = max(windows, key=windows.__getitem__, default=None)
    return CaptureStatus(
        looked_back_minutes=minutes,
        newest_file=newest,
        newest_window=None if newest is None else windows[newest],
        pending_files=len(pending),
        oldest_pending_window=min((windows[f.path] for f in pending), default=None),
    )


def _open_items(lake: LakeParts, uri: str) -> int:
    table = tables.open_table(uri, lake.layout.storage_options)
    return 0 if table is None else null_count(table, RESOLVED)


def lake_status(lake: LakeParts, now: datetime | None = None) -> LakeStatus:
    """The lake's status now."""
    now = now or datetime.now(UTC)
    capture = _capture(lake, now)
    found = [_table_status(lake, name) for name in table_names(lake)]
    bronze_newest = found[0][2]
    candidates = [m for m in (bronze_newest, capture.newest_window) if m is not None]
    newest_captured = max(candidates, default=None)
    statuses = []
    for name, opened, newest in found:
        if opened is None:
            statuses.append(TableStatus(name, None, None, None, None, None))
            continue
        lag = None
        if newest is not None and newest_captured is not None:
            lag = max((newest_captured - newest).total_seconds(), 0.0)
        statuses.append(
            TableStatus(
                name,
                opened.version(),
                row_count(opened),
                freshness.last_commit(opened),
                newest,
                lag,
            )
        )
    quarantine = lake.quarantine
    return LakeStatus(
        lake=lake.layout.uri,
        checked_at=now,
        newest_captured=newest_captured,
        capture=capture,
        quarantined_files=_open_items(lake, quarantine.files_uri),
        quarantined_events=_open_items(lake, quarantine.events_uri),
        tables=tuple(statuses),
    )
