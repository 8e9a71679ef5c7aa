"""A team's own store and its transactional outbox.

Each team keeps its state in a database of its own (SQLite in the embedded default, one file
per team), and every change it makes is written in the same local transaction as the events
that report it: a row per event in the `outbox` table, holding the event as it will be sent
(body, CloudEvents properties, partition key). The relay (`relay.py`) sends pending rows and
marks them sent once the hub has acknowledged them. A process killed after the commit leaves
the rows pending; one killed after the hub's acknowledgement sends them again with the same
ids, which silver deduplicates. No event is raised for a change that was not stored, and no
stored change loses its events.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from eda_lake.embedded.durable import connect, write_transaction
from eda_lake.hub.base import EventData
from eda_lake.hub.properties import EncodedProperties, encode_properties
from eda_lake.shared.cloudevents_names import ID_PROPERTY

# Named moments where a test may end the process, to prove nothing is lost there.
AFTER_COMMIT = "after-commit"  # a change and its events stored, nothing sent yet
AFTER_ACK = "after-ack"  # the hub acknowledged a batch, its rows not yet marked sent
AFTER_REACTIONS_STORED = "after-reactions-stored"  # reactions stored, checkpoint not moved

StepHook = Callable[[str], None]


def no_hook(_step: str) -> None:
    """The hook of every run outside the kill tests."""


_SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    position INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id TEXT NOT NULL UNIQUE,
    hub TEXT NOT NULL,
    partition_key TEXT,
    content_type TEXT,
    properties BLOB NOT NULL,
    body BLOB NOT NULL,
    created_at_ms INTEGER NOT NULL,
    sent_at_ms INTEGER,
    refused_at_ms INTEGER,
    attempts INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS outbox_pending ON outbox (position)
    WHERE sent_at_ms IS NULL AND refused_at_ms IS NULL;
CREATE INDEX IF NOT EXISTS outbox_sent ON outbox (sent_at_ms) WHERE sent_at_ms IS NOT NULL;
"""


@dataclass(frozen=True)
class OutboxRow:
    position: int
    event_id: str
    hub: str
    data: EventData
    attempts: int


@dataclass(frozen=True)
class OutboxSummary:
    team: str
    pending: int
    oldest_pending_ms: int | None  # when the oldest pending row was stored
    sent: int
    refused: int

    def oldest_age_seconds(self, now_ms: int) -> float | None:
        if self.oldest_pending_ms is None:
            return None
        return max(0, now_ms - self.oldest_pending_ms) / 1000


def _now_ms() -> int:
    return int(time.time() * 1000)


def team_store_file(teams_dir: Path, team: str) -> Path:
    """Where a team keeps its own state and outbox in the embedded default."""
    return teams_dir / f"{team}.sqlite3"


class TeamStore:
    """One team's database: its state tables (`schema`) beside its outbox."""

    def __init__(
        self, team: str, path: Path, schema: str = "", on_step: StepHook = no_hook
    ) -> None:
        self.team = team
        self.path = path
        self.on_step = on_step
        self.conn = connect(path)
        self.conn.executescript(_SCHEMA + schema)

    def close(self) -> None:
        self.conn.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """A write transaction, or the one already open: a team's state changes and its
        events commit together."""
        if self.conn.in_transaction:
            yield self.conn
            return
        with write_transaction(self.conn) as conn:
            yield conn
        self.on_step(AFTER_COMMIT)

    @contextmanager
    def savepoint(self) -> Iterator[None]:
        """Inside a transaction: what fails here is undone alone (a poison event's half-made
        changes), the rest of the transaction goes on."""
        self.conn.execute("SAVEPOINT change")
        try:
            yield
        except BaseException:
            self.conn.execute("ROLLBACK TO change")
            self.conn.execute("RELEASE change")
            raise
        self.conn.execute("RELEASE change")

    def enqueue(self, prepared: Iterable[tuple[str, EventData]]) -> int:
        """Store events to send, inside the transaction that stores their change; an event
        already in the outbox (the same id: a cause processed again) is stored once.
        Returns how many were new."""
        if not self.conn.in_transaction:
            raise RuntimeError("outbox rows are written inside the change's transaction")
        now = _now_ms()
        rows = [
            (str(data.properties[ID_PROPERTY]), hub, data.partition_key, data.content_type,
             encode_properties(data.properties), data.body, now)
            for hub, data in prepared
        ]  # fmt: skip
        cursor = self.conn.executemany(
            "INSERT INTO outbox (event_id, hub, partition_key, content_type, properties, body, "
            "created_at_ms) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(event_id) DO NOTHING",
            rows,
        )
        return cursor.rowcount if rows else 0

    def pending(self, limit: int) -> list[OutboxRow]:
        """The oldest pending rows, in the order they were stored."""
        rows = self.conn.execute(
            "SELECT position, event_id, hub, partition_key, content_type, properties, body, "
            "attempts FROM outbox WHERE sent_at_ms IS NULL AND refused_at_ms IS NULL "
            "ORDER BY position LIMIT ?",
            (limit,),
        ).fetchall()
        return [
            OutboxRow(
                position=position,
                event_id=event_id,
                hub=hub,
                data=EventData(body, EncodedProperties(props), key, content_type),
                attempts=attempts,
            )
            for position, event_id, hub, key, content_type, props, body, attempts in rows
        ]

    def mark_sent(self, positions: Iterable[int]) -> None:
        now = _now_ms()
        with write_transaction(self.conn) as conn:
            conn.executemany(
                "UPDATE outbox SET sent_at_ms = ?, attempts = attempts + 1 WHERE position = ?",
                ((now, p) for p in positions),
            )

    def mark_refused(self, position: int) -> None:
        with write_transaction(self.conn) as conn:
            conn.execute(
                "UPDATE outbox SET refused_at_ms = ?, attempts = attempts + 1 WHERE position = ?",
                (_now_ms(), position),
            )

    def count_failed_attempt(self, positions: Iterable[int]) -> None:
        with write_transaction(self.conn) as conn:
            conn.executemany(
                "UPDATE outbox SET attempts = attempts + 1 WHERE position = ?",
                ((p,) for p in positions),
            )

    def prune_sent(self, older_than_ms: int) -> int:
        """Forget rows sent before `older_than_ms`; returns how many."""
        with write_transaction(self.conn) as conn:
            cursor = conn.execute(
                "DELETE FROM outbox WHERE sent_at_ms IS NOT NULL AND sent_at_ms < ?",
                (older_than_ms,),
            )
            return cursor.rowcount

    def summary(self) -> OutboxSummary:
        pending, oldest, sent, refused = self.conn.execute(
            "SELECT COUNT(*) FILTER (WHERE sent_at_ms IS NULL AND refused_at_ms IS NULL), "
            "MIN(created_at_ms) FILTER (WHERE sent_at_ms IS NULL AND refused_at_ms IS NULL), "
            "COUNT(sent_at_ms), COUNT(refused_at_ms) FROM outbox"
        ).fetchone()
        return OutboxSummary(self.team, pending, oldest, sent, refused)


def read_summary(teams_dir: Path, team: str) -> OutboxSummary:
    """A team's outbox as it stands, making no store: a team that never ran has nothing."""
    path = team_store_file(teams_dir, team)
    if not path.is_file():
        return OutboxSummary(team, 0, None, 0, 0)
    store = TeamStore(team, path)
    try:
        return store.summary()
    finally:
        store.close()
