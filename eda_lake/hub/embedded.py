"""The embedded event hub: partitions as SQLite rows, durable and multi-process safe.

One SQLite file per namespace. A batch is one transaction: it is stored entirely or not at
all, so nothing acknowledged is lost when a process is killed, and sequence numbers stay
gapless per partition while several processes publish and consume at once.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

from eda_lake.embedded.durable import connect, write_transaction
from eda_lake.hub.base import (
    Batch,
    ConsumerGroupSpec,
    EventData,
    EventRefusedError,
    HubNotFoundError,
    HubSpec,
    ReceivedEvent,
    ms_to_datetime,
    partition_for_key,
    send_one_at_a_time,
)
from eda_lake.hub.properties import EncodedProperties, encode_properties
from eda_lake.shared import names

# Event Hubs' largest event (Standard and Premium tiers), body and properties together.
MAX_EVENT_BYTES = 1 << 20

_SCHEMA = """
CREATE TABLE IF NOT EXISTS hubs (
    name TEXT PRIMARY KEY,
    partitions INTEGER NOT NULL,
    retention_days INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS consumer_groups (
    hub TEXT NOT NULL REFERENCES hubs(name),
    name TEXT NOT NULL,
    user_metadata TEXT NOT NULL,
    PRIMARY KEY (hub, name)
);
CREATE TABLE IF NOT EXISTS partitions (
    hub TEXT NOT NULL REFERENCES hubs(name),
    partition_id INTEGER NOT NULL,
    next_sequence INTEGER NOT NULL,
    next_offset INTEGER NOT NULL,
    PRIMARY KEY (hub, partition_id)
);
CREATE TABLE IF NOT EXISTS events (
    hub TEXT NOT NULL,
    partition_id INTEGER NOT NULL,
    sequence_number INTEGER NOT NULL,
    byte_offset INTEGER NOT NULL,
    enqueued_ms INTEGER NOT NULL,
    partition_key TEXT,
    content_type TEXT,
    properties BLOB NOT NULL,
    body BLOB NOT NULL,
    PRIMARY KEY (hub, partition_id, sequence_number)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS checkpoints (
    hub TEXT NOT NULL,
    consumer_group TEXT NOT NULL,
    partition_id INTEGER NOT NULL,
    sequence_number INTEGER NOT NULL,
    PRIMARY KEY (hub, consumer_group, partition_id)
);
"""


class EmbeddedEventHub:
    """Embedded Event Hubs namespace; implements EventHubAdmin and EventHubClient."""

    def __init__(self, directory: Path, namespace: str) -> None:
        self.namespace = names.namespace_name(namespace)
        self.path = directory / f"{self.namespace}.sqlite3"
        self._conn = connect(self.path)
        self._conn.executescript(_SCHEMA)
        self._partition_counts: dict[str, int] = {}
        self._round_robin = itertools.count()

    def close(self) -> None:
        self._conn.close()

    # management -------------------------------------------------------------------------

    def ensure_hub(self, spec: HubSpec) -> bool:
        names.hub_name(spec.name)
        if not 1 <= spec.partitions <= 32:
            raise ValueError(f"hub {spec.name}: partitions must be 1-32, got {spec.partitions}")
        with write_transaction(self._conn) as conn:
            row = conn.execute(
                "SELECT partitions, retention_days FROM hubs WHERE name = ?", (spec.name,)
            ).fetchone()
            if row is not None:
                if row[0] != spec.partitions:
                    # Event Hubs cannot reduce partitions; changing them re-maps keys.
                    raise ValueError(
                        f"hub {spec.name} exists with {row[0]} partitions; its partition count "
                        f"cannot change to {spec.partitions} (create a new hub instead)"
                    )
                if row[1] == spec.retention_days:
                    return False
                conn.execute(
                    "UPDATE hubs SET retention_days = ? WHERE name = ?",
                    (spec.retention_days, spec.name),
                )
                return True
            conn.execute(
                "INSERT INTO hubs (name, partitions, retention_days) VALUES (?, ?, ?)",
                (spec.name, spec.partitions, spec.retention_days),
            )
            conn.executemany(
                "INSERT INTO partitions (hub, partition_id, next_sequence, next_offset) "
                "VALUES (?, ?, 0, 0)",
                [(spec.name, p) for p in range(spec.partitions)],
            )
            # Every hub has a $Default consumer group, as in Event Hubs.
            conn.execute(
                "INSERT INTO consumer_groups (hub, name, user_metadata) VALUES (?, '$Default', '')",
                (spec.name,),
            )
        return True

    def ensure_consumer_group(self, spec: ConsumerGroupSpec) -> bool:
        names.consumer_group_name(spec.name)
        self._partitions(spec.hub)
        with write_transaction(self._conn) as conn:
            row = conn.execute(
                "SELECT user_metadata FROM consumer_groups WHERE hub = ? AND name = ?",
                (spec.hub, spec.name),
            ).fetchone()
            if row is not None and row[0] == spec.user_metadata:
                return False
            conn.execute(
                "INSERT INTO consumer_groups (hub, name, user_metadata) VALUES (?, ?, ?) "
                "ON CONFLICT(hub, name) DO UPDATE SET user_metadata = excluded.user_metadata",
                (spec.hub, spec.name, spec.user_metadata),
            )
        return True

    def hubs(self) -> list[HubSpec]:
        rows = self._conn.execute(
            "SELECT name, partitions, retention_days FROM hubs ORDER BY name"
        ).fetchall()
        return [HubSpec(*row) for row in rows]

    def consumer_groups(self, hub: str) -> list[ConsumerGroupSpec]:
        rows = self._conn.execute(
            "SELECT hub, name, user_metadata FROM consumer_groups WHERE hub = ? ORDER BY name",
            (hub,),
        ).fetchall()
        return [ConsumerGroupSpec(*row) for row in rows]

    # data plane -------------------------------------------------------------------------

    def _partitions(self, hub: str) -> int:
        count = self._partition_counts.get(hub)
        if count is None:
            row = self._conn.execute(
                "SELECT partitions FROM hubs WHERE name = ?", (hub,)
            ).fetchone()
            if row is None:
                raise HubNotFoundError(
                    f"event hub {hub!r} does not exist in namespace {self.namespace}; "
                    "provision it first (eda-lake provision)"
                )
            count = self._partition_counts[hub] = int(row[0])
        return count

    def partition_ids(self, hub: str) -> list[str]:
        return [str(p) for p in range(self._partitions(hub))]

    def _route(self, hub: str, event: EventData, partition_id: str | None) -> int:
        count = self._partitions(hub)
        if partition_id is not None:
            index = int(partition_id)
            if not 0 <= index < count:
                raise HubNotFoundError(f"hub {hub} has no partition {partition_id}")
            return index
        if event.partition_key is not None:
            return partition_for_key(event.partition_key, count)
        return next(self._round_robin) % count

    def send_batches(self, batches: Iterable[Batch]) -> Iterator[tuple[str, int]]:
        return send_one_at_a_time(self, batches)

    def send(
        self, hub: str, events: Sequence[EventData], *, partition_id: str | None = None
    ) -> int:
        if not events:
            return 0
        routed: dict[int, list[EventData]] = {}
        for event in events:
            routed.setdefault(self._route(hub, event, partition_id), []).append(event)
        encoded = {
            p: [(e, encode_properties(e.properties)) for e in batch] for p, batch in routed.items()
        }
        for batch in encoded.values():
            for event, props in batch:
                if len(event.body) + len(props) > MAX_EVENT_BYTES:
                    raise EventRefusedError(
                        f"an event of {len(event.body) + len(props):,} bytes to hub {hub} is "
                        f"over the {MAX_EVENT_BYTES:,} bytes an event hub takes; "
                        "send a smaller event (a reference to the data instead of the data)"
                    )
        with write_transaction(self._conn) as conn:
            enqueued_ms = int(time.time() * 1000)
            for partition, batch in encoded.items():
                sequence, offset = conn.execute(
                    "SELECT next_sequence, next_offset FROM partitions "
                    "WHERE hub = ? AND partition_id = ?",
                    (hub, partition),
                ).fetchone()
                rows = []
                for event, props in batch:
                    rows.append(
                        (
                            hub,
                            partition,
                            sequence,
                            offset,
                            enqueued_ms,
                            event.partition_key,
                            event.content_type,
                            props,
                            event.body,
                        )
                    )
                    sequence += 1
                    offset += len(event.body) + len(props)
                conn.executemany("INSERT INTO events VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
                conn.execute(
                    "UPDATE partitions SET next_sequence = ?, next_offset = ? "
                    "WHERE hub = ? AND partition_id = ?",
                    (sequence, offset, hub, partition),
                )
        return len(events)

    def read(
        self, hub: str, partition_id: str, after_sequence: int | None, max_events: int
    ) -> list[ReceivedEvent]:
        """Events of a partition after a sequence number (None: from the oldest retained)."""
        self._partitions(hub)
        rows = self._conn.execute(
            "SELECT partition_id, sequence_number, byte_offset, enqueued_ms, partition_key, "
            "content_type, properties, body FROM events "
            "WHERE hub = ? AND partition_id = ? AND sequence_number > ? "
            "ORDER BY sequence_number LIMIT ?",
            (hub, int(partition_id), -1 if after_sequence is None else after_sequence, max_events),
        ).fetchall()
        return [
            ReceivedEvent(
                hub=hub,
                partition_id=str(p),
                sequence_number=seq,
                offset=off,
                enqueued_time=ms_to_datetime(ms),
                partition_key=key,
                content_type=ctype,
                properties=EncodedProperties(props),
                body=body,
            )
            for p, seq, off, ms, key, ctype, props, body in rows
        ]

    def receive(
        self, hub: str, consumer_group: str, partition_id: str, max_events: int
    ) -> list[ReceivedEvent]:
        self._require_group(hub, consumer_group)
        after = self.checkpoint_of(hub, consumer_group, partition_id)
        return self.read(hub, partition_id, after, max_events)

    def _require_group(self, hub: str, consumer_group: str) -> None:
        row = self._conn.execute(
            "SELECT 1 FROM consumer_groups WHERE hub = ? AND name = ?", (hub, consumer_group)
        ).fetchone()
        if row is None:
            raise HubNotFoundError(
                f"consumer group {consumer_group!r} does not exist on hub {hub!r}; "
                "provision it first (eda-lake provision)"
            )

    def checkpoint(
        self, hub: str, consumer_group: str, partition_id: str, sequence_number: int
    ) -> None:
        self._require_group(hub, consumer_group)
        with write_transaction(self._conn) as conn:
            conn.execute(
                "INSERT INTO checkpoints (hub, consumer_group, partition_id, sequence_number) "
                "VALUES (?, ?, ?, ?) ON CONFLICT(hub, consumer_group, partition_id) "
                # Only forward: a slower second reader of the group never moves it back.
                "DO UPDATE SET sequence_number = "
                "max(excluded.sequence_number, checkpoints.sequence_number)",
                (hub, consumer_group, int(partition_id), sequence_number),
            )

    def checkpoint_of(self, hub: str, consumer_group: str, partition_id: str) -> int | None:
        row = self._conn.execute(
            "SELECT sequence_number FROM checkpoints "
            "WHERE hub = ? AND consumer_group = ? AND partition_id = ?",
            (hub, consumer_group, int(partition_id)),
        ).fetchone()
        return None if row is None else int(row[0])

    def last_sequence(self, hub: str, partition_id: str) -> int:
        """Sequence number of the newest event ever enqueued in the partition (-1: none)."""
        row = self._conn.execute(
            "SELECT next_sequence FROM partitions WHERE hub = ? AND partition_id = ?",
            (hub, int(partition_id)),
        ).fetchone()
        if row is None:
            raise HubNotFoundError(f"hub {hub} has no partition {partition_id}")
        return int(row[0]) - 1

    def apply_retention(self, now_ms: int | None = None) -> int:
        """Delete events older than their hub's retention; returns how many were removed."""
        now_ms = int(time.time() * 1000) if now_ms is None else now_ms
        removed = 0
        with write_transaction(self._conn) as conn:
            for hub in self.hubs():
                cutoff = now_ms - hub.retention_days * 86_400_000
                cursor = conn.execute(
                    "DELETE FROM events WHERE hub = ? AND enqueued_ms < ?", (hub.name, cutoff)
                )
                removed += cursor.rowcount
        return removed
