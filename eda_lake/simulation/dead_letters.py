"""Dead letters: events (or partner file rows) a team could not process, kept with the reason.

A poison event is stored with its original bytes and coordinates, and the subscriber moves on:
a partition is never blocked, and nothing is dropped silently. The same event failing twice
(after a restart) is stored once. Replay hands stored letters back to their team's handler.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from eda_lake.embedded.durable import connect, write_transaction
from eda_lake.hub.base import PropertyValue
from eda_lake.hub.properties import EncodedProperties, encode_properties
from eda_lake.settings import Settings

_SCHEMA = """
CREATE TABLE IF NOT EXISTS dead_letters (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    team TEXT NOT NULL,
    origin TEXT NOT NULL,
    partition_id TEXT NOT NULL,
    sequence_number INTEGER NOT NULL,
    reason TEXT NOT NULL,
    content_type TEXT,
    partition_key TEXT,
    properties BLOB NOT NULL,
    body BLOB NOT NULL,
    failed_at_ms INTEGER NOT NULL,
    replayed_at_ms INTEGER,
    UNIQUE (team, origin, partition_id, sequence_number)
);
"""


@dataclass(frozen=True)
class DeadLetter:
    id: int
    team: str
    origin: str  # the hub, or "partner-file:<name>" for a partner's row
    partition_id: str
    sequence_number: int
    reason: str
    content_type: str | None
    partition_key: str | None
    properties: Mapping[str, PropertyValue]
    body: bytes
    replayed: bool


class DeadLetterStore:
    def __init__(self, path: Path) -> None:
        self._conn = connect(path)
        self._conn.executescript(_SCHEMA)

    def close(self) -> None:
        self._conn.close()

    def add(
        self,
        *,
        team: str,
        origin: str,
        partition_id: str,
        sequence_number: int,
        reason: str,
        body: bytes,
        properties: Mapping[str, PropertyValue],
        content_type: str | None = None,
        partition_key: str | None = None,
    ) -> None:
        with write_transaction(self._conn) as conn:
            conn.execute(
                "INSERT INTO dead_letters (team, origin, partition_id, sequence_number, reason, "
                "content_type, partition_key, properties, body, failed_at_ms) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT(team, origin, partition_id, sequence_number) "
                "DO UPDATE SET reason = excluded.reason",
                (team, origin, partition_id, sequence_number, reason, content_type,
                 partition_key, encode_properties(properties), body, int(time.time() * 1000)),
            )  # fmt: skip

    def list(self, team: str | None = None, *, include_replayed: bool = False) -> list[DeadLetter]:
        query = "SELECT * FROM dead_letters WHERE (? IS NULL OR team = ?)"
        if not include_replayed:
            query += " AND replayed_at_ms IS NULL"
        rows = self._conn.execute(query + " ORDER BY id", (team, team)).fetchall()
        return [
            DeadLetter(
                id=row[0],
                team=row[1],
                origin=row[2],
                partition_id=row[3],
                sequence_number=row[4],
                reason=row[5],
                content_type=row[6],
                partition_key=row[7],
                properties=EncodedProperties(row[8]),
                body=row[9],
                replayed=row[11] is not None,
            )
            for row in rows
        ]

    def mark_replayed(self, letter_id: int) -> None:
        with write_transaction(self._conn) as conn:
            conn.execute(
                "UPDATE dead_letters SET replayed_at_ms = ? WHERE id = ?",
                (int(time.time() * 1000), letter_id),
            )

    def count(self, team: str | None = None) -> int:
        return len(self.list(team))


def dead_letters_file(settings: Settings) -> Path:
    """Where the teams keep their dead letters, beside their other state."""
    return settings.simulation_dir / "dead_letters.sqlite3"


def read_dead_letters(
    settings: Settings, team: str | None = None, *, include_replayed: bool = False
) -> list[DeadLetter]:
    """The dead letters kept so far, creating nothing: a home no team has run in holds none."""
    path = dead_letters_file(settings)
    if not path.is_file():
        return []
    store = DeadLetterStore(path)
    try:
        return store.list(team, include_replayed=include_replayed)
    finally:
        store.close()
