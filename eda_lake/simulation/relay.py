"""The relay: sends a team's pending outbox rows to the hub, oldest first.

Rows go out in the order they were stored, in batches per hub, and are marked sent only once
the hub has acknowledged their batch; a process killed in between sends them again with the
same ids. A row the hub refuses as it is (`EventRefusedError`: too large, malformed) goes to
the team's dead letters with the reason and stops blocking the rows behind it; any other
failure (the hub out of reach) leaves the rows pending for the next run and is raised.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta

from eda_lake import telemetry
from eda_lake.embedded.durable import exclusive_file_lock
from eda_lake.events.publisher import Publisher
from eda_lake.hub.base import EventRefusedError
from eda_lake.shared.progress import Progress, no_progress
from eda_lake.simulation.dead_letters import DeadLetterStore
from eda_lake.simulation.outbox import AFTER_ACK, OutboxRow, StepHook, TeamStore, no_hook
from eda_lake.telemetry import spans

# Sent rows are kept this long (to answer "was it sent, and when"), then pruned.
SENT_RETENTION = timedelta(days=7)
# Rows read per round: enough to keep several batches on their way to the hub.
ROWS_PER_ROUND = 20_000
OUTBOX_ORIGIN_PREFIX = "outbox:"


@dataclass
class RelayReport:
    sent: int = 0
    refused: int = 0
    pruned: int = 0


class Relay:
    """Relays one team's outbox through the publisher's hub client and batch size."""

    def __init__(
        self,
        store: TeamStore,
        publisher: Publisher,
        dead_letters: DeadLetterStore,
        on_step: StepHook = no_hook,
    ) -> None:
        self.store = store
        self.publisher = publisher
        self.dead_letters = dead_letters
        self.on_step = on_step

    def run(self, progress: Progress = no_progress, stage: str = "relay") -> RelayReport:
        """Send everything pending; then prune rows sent longer ago than the retention."""
        report = RelayReport()
        # One relay of a team at a time: two would send the same rows, each key's in turn.
        with exclusive_file_lock(self.store.path.with_name(f".{self.store.path.name}.relay")):
            total = self.store.summary().pending
            while rows := self.store.pending(ROWS_PER_ROUND):
                self._send(rows, report, progress, stage, total)
        progress(stage, report.sent, total)
        telemetry.flush()  # the publish spans (and a subscriber's reaction spans) leave now
        retention_ms = SENT_RETENTION // timedelta(milliseconds=1)
        report.pruned = self.store.prune_sent(int(time.time() * 1000) - retention_ms)
        return report

    def _send(
        self,
        rows: list[OutboxRow],
        report: RelayReport,
        progress: Progress,
        stage: str,
        total: int,
    ) -> None:
        batches = list(self._batches(rows))
        unacknowledged = iter(batches)
        current: list[OutboxRow] = []
        started = spans.clock()
        try:
            for _hub, _count in self.publisher.hub.send_batches(
                (hub, [row.data for row in batch]) for hub, batch in batches
            ):
                _hub, current = next(unacknowledged)
                self._acknowledged(current, report, started)
                started = spans.clock()
                progress(stage, report.sent, total)
                current = []
        except EventRefusedError as exc:
            # The refused row is in the first batch not acknowledged (the hub reports every
            # batch before a refused one), after the rows the hub took: the rest of that batch
            # goes row by row, and what follows is read again in the next round.
            _hub, current = next(unacknowledged)
            taken, current = current[: exc.acknowledged], current[exc.acknowledged :]
            if taken:
                self._acknowledged(taken, report, started)
            self._send_one_by_one(current, report)
        except Exception:
            failed = current or next(unacknowledged, ("", []))[1]
            self.store.count_failed_attempt(row.position for row in failed)
            raise

    def _send_one_by_one(self, rows: list[OutboxRow], report: RelayReport) -> None:
        for row in rows:
            started = spans.clock()
            try:
                self.publisher.hub.send(row.hub, [row.data])
            except EventRefusedError as exc:
                self._dead_letter(row, exc)
                self.store.mark_refused(row.position)
                report.refused += 1
                continue
            self._acknowledged([row], report, started)

    def _acknowledged(self, rows: list[OutboxRow], report: RelayReport, started_ns: int) -> None:
        """The hub took `rows` (one hub's, sent from `started_ns` on): marked sent (a kill
        before this sends them again), a publish span each."""
        self.on_step(AFTER_ACK)
        self.store.mark_sent(row.position for row in rows)
        report.sent += len(rows)
        spans.published(rows[0].hub, [row.data.properties for row in rows], started_ns)

    def _batches(self, rows: list[OutboxRow]) -> Iterator[tuple[str, list[OutboxRow]]]:
        """Rows in batches per hub, each hub's rows in their stored order."""
        pending: dict[str, list[OutboxRow]] = {}
        for row in rows:
            batch = pending.setdefault(row.hub, [])
            batch.append(row)
            if len(batch) >= self.publisher.batch_size:
                yield row.hub, batch
                pending[row.hub] = []
        for hub, batch in pending.items():
            if batch:
                yield hub, batch

    def _dead_letter(self, row: OutboxRow, exc: EventRefusedError) -> None:
        self.dead_letters.add(
            team=self.store.team,
            origin=OUTBOX_ORIGIN_PREFIX + row.hub,
            partition_id="outbox",
            sequence_number=row.position,
            reason=f"the hub refused it: {exc}",
            body=row.data.body,
            properties=row.data.properties,
            content_type=row.data.content_type,
            partition_key=row.data.partition_key,
        )
