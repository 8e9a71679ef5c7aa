"""Watching a capture container for new files, cheaply, with a resumable cursor.

Each poll lists only the time prefixes that can hold files newer than the last poll minus the
lateness (slow partitions may still close older windows), and remembers what it saw within
that look-back, so no file is announced twice and none is missed within the lateness. Files
later than that are left to the scheduled full discovery.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pyarrow.fs as pafs

from eda_lake.capture.naming import ArchiveNameFormat
from eda_lake.lake.discovery.listing import CaptureFile, discover_recent


@dataclass
class WatchCursor:
    listed_at: datetime | None = None
    seen: dict[str, float] = field(default_factory=dict)  # path -> window time (epoch s)

    def to_json(self) -> str:
        listed = None if self.listed_at is None else self.listed_at.isoformat()
        return json.dumps({"listed_at": listed, "seen": self.seen}, sort_keys=True)

    @classmethod
    def from_json(cls, text: str | None) -> WatchCursor:
        if not text:
            return cls()
        raw = json.loads(text)
        listed = raw.get("listed_at")
        return cls(
            listed_at=None if listed is None else datetime.fromisoformat(listed),
            seen={str(k): float(v) for k, v in raw.get("seen", {}).items()},
        )


def poll(
    fs: pafs.FileSystem,
    root: str,
    names: ArchiveNameFormat,
    cursor: WatchCursor,
    *,
    lateness: timedelta,
    now: datetime | None = None,
) -> tuple[list[CaptureFile], WatchCursor]:
    """The files not announced before, and the cursor to keep."""
    now = now or datetime.now(UTC)
    since = (cursor.listed_at or now) - lateness
    found = discover_recent(fs, root, names, since)
    new = [f for f in found if f.path not in cursor.seen]
    horizon = since.timestamp()
    seen = {path: t for path, t in cursor.seen.items() if t >= horizon}
    seen.update({f.path: f.archive.window_time.timestamp() for f in found if f.archive})
    return new, WatchCursor(listed_at=now, seen=seen)
