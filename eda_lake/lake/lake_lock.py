"""The lake's one lock: its writers share it, a whole-lake operation (a rebuild) holds it alone.

Leases live in a small Delta table beside the lake's areas (`<lake>/_lock`): one row per
holder, with the moment its lease lapses. Every change (take, renew, give back) rewrites that
table in one commit that also increments one application transaction, so Delta's conflict
check serialises the changes on any storage the lake is on: a local directory, or an Azure
container, Azurite included (Blob only, no hierarchical namespace), through deltalake's own
commit machinery, with nothing else to deploy. A holder renews its lease while it works; a
holder killed mid-run stops renewing, and its lease lapses `LEASE_SECONDS` later: a SIGKILL
never leaves the lake locked.

A writer (ingest, silver, entities, gold, a quarantine retry, compaction, vacuum) waits while
an exclusive lease is live. A whole-lake operation takes its exclusive lease first, so new
writers wait from then on, then waits for the writers already running to give theirs back.
The lock keeps writers out of a rebuild's way; it is not what keeps the data right: every
table commit still records the inputs it read (`commits`), so a writer whose lease lapsed
under it (a paused machine) is refused by Delta's conflict check, never recording progress
against a table it did not read.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

import pyarrow as pa
from deltalake import DeltaTable

from eda_lake.capture.arrow_schema import UTC_MICROS
from eda_lake.lake.delta import commits, tables
from eda_lake.lake.delta.commits import Write
from eda_lake.lake.layout import LakeLayout

log = logging.getLogger(__name__)

LEASE_SECONDS = 30.0  # how long a killed holder keeps the lake: renewed every third of it
POLL_SECONDS = 0.5  # how often a waiting writer looks again
LOCK_APP = "lock:lake"
SCHEMA = pa.schema(
    [
        pa.field("holder", pa.string(), nullable=False),
        pa.field("operation", pa.string(), nullable=False),
        pa.field("exclusive", pa.bool_(), nullable=False),
        pa.field("process", pa.string(), nullable=False),  # host:pid, for the waiting message
        pa.field("expires_at", UTC_MICROS, nullable=False),
    ]
)
# Every lease change is a commit: old ones need not stay long.
CONFIGURATION: dict[str, str | None] = {
    "delta.logRetentionDuration": "interval 1 hours",
    "delta.deletedFileRetentionDuration": "interval 1 hours",
}

Waiting = Callable[[str], None]


@dataclass(frozen=True)
class Lease:
    holder: str
    operation: str
    exclusive: bool
    process: str
    expires_at: datetime

    def renewed(self) -> Lease:
        return replace(self, expires_at=datetime.now(UTC) + timedelta(seconds=LEASE_SECONDS))

    def __str__(self) -> str:
        return f"{self.operation} ({self.process})"


class LakeLock:
    """Shared and exclusive leases on one lake; nested use in one thread takes nothing more."""

    def __init__(self, layout: LakeLayout, waiting: Waiting = log.info) -> None:
        self.layout = layout
        self.uri = layout.lock_uri
        self.options = layout.storage_options
        self.waiting = waiting  # told what a wait is for, each time it looks again
        self._held = threading.local()

    @contextmanager
    def shared(self, operation: str) -> Iterator[None]:
        """Write to the lake beside other writers, never during a whole-lake operation."""
        with self._holding(operation, exclusive=False):
            yield

    @contextmanager
    def exclusive(self, operation: str) -> Iterator[None]:
        """Have the lake to itself: no other writer runs until it ends."""
        with self._holding(operation, exclusive=True):
            yield

    @contextmanager
    def _holding(self, operation: str, *, exclusive: bool) -> Iterator[None]:
        held: Lease | None = getattr(self._held, "lease", None)
        if held is not None:
            if exclusive and not held.exclusive:
                raise RuntimeError(f"{operation} cannot hold the lake alone inside {held}")
            yield  # already covered by this thread's lease
            return
        lease = Lease(
            uuid.uuid4().hex, operation, exclusive, f"{socket.gethostname()}:{os.getpid()}",
            datetime.now(UTC),
        )  # fmt: skip
        self.layout.create()  # the lock is a writer's first write: the lake exists from it on
        self._take(lease)
        stop = threading.Event()
        renewer = threading.Thread(
            target=self._renew, args=(lease, stop), name=f"lake lease {operation}", daemon=True
        )
        renewer.start()
        self._held.lease = lease
        try:
            if exclusive:
                self._wait_for_writers(lease)
            yield
        finally:
            self._held.lease = None
            stop.set()
            renewer.join()
            self._give_back(lease)

    def leases(self) -> list[Lease]:
        """The live leases (lapsed ones are gone, whether or not a commit removed them yet)."""
        table = tables.open_table(self.uri, self.options)
        return [] if table is None else _live(table)

    def _take(self, lease: Lease) -> None:
        blocking: list[Lease] = []

        def take(live: list[Lease]) -> list[Lease] | None:
            blocking[:] = [other for other in live if other.exclusive]
            return None if blocking else [*live, lease.renewed()]

        while not self._change(take):
            self.waiting(f"{lease.operation} waits for {blocking[0]} to finish")
            time.sleep(POLL_SECONDS)

    def _wait_for_writers(self, lease: Lease) -> None:
        while others := [other for other in self.leases() if other.holder != lease.holder]:
            self.waiting(f"{lease.operation} waits for {', '.join(map(str, others))} to finish")
            time.sleep(POLL_SECONDS)

    def _renew(self, lease: Lease, stop: threading.Event) -> None:
        def renew(live: list[Lease]) -> list[Lease] | None:
            if all(other.holder != lease.holder for other in live):
                return None  # lapsed and pruned: taking it again could meet a rebuild
            return [lease.renewed() if o.holder == lease.holder else o for o in live]

        while not stop.wait(LEASE_SECONDS / 3):
            try:
                self._change(renew)
            except Exception:  # storage down a moment: the next tick tries again
                continue

    def _give_back(self, lease: Lease) -> None:
        try:
            self._change(lambda live: [o for o in live if o.holder != lease.holder])
        except Exception as exc:  # unreachable storage: the lease lapses by itself
            log.warning("%s could not give its lease back (%s): it lapses by itself", lease, exc)

    def _change(self, change: Callable[[list[Lease]], list[Lease] | None]) -> bool:
        """Commit `change` of the live leases (pruning lapsed ones); False when it declines."""

        def attempt() -> bool:
            table = commits.ensure_table(
                self.uri, SCHEMA, options=self.options, configuration=CONFIGURATION
            )
            leases = change(_live(table))
            if leases is None:
                return False
            rows = pa.Table.from_pylist([vars(lease) for lease in leases], SCHEMA)
            sequence = (table.transaction_version(LOCK_APP) or 0) + 1
            write = Write(SCHEMA, rows, mode="replace", app_transactions={LOCK_APP: sequence})
            commits.commit(table, write, {})
            return True

        return commits.with_retries(attempt, "changing the lake's lock")


def _live(table: DeltaTable) -> list[Lease]:
    now = datetime.now(UTC)
    rows = tables.query("SELECT * FROM leases", leases=table).to_pylist()
    return [lease for lease in (Lease(**row) for row in rows) if lease.expires_at > now]
