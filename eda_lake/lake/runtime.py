"""The lake, assembled once from settings: its pipeline here (capture files to bronze, to
silver, to gold), putting it right after a fix in `recovery`, keeping it small in `upkeep`."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from functools import cached_property

from eda_lake.lake.bronze.freshness import bronze_freshness
from eda_lake.lake.bronze.ingest import BronzeReport
from eda_lake.lake.delta.commits import TableRun
from eda_lake.lake.derived.entities import EntitiesReport, build_entities
from eda_lake.lake.derived.gold import GoldBuilder, GoldReport
from eda_lake.lake.discovery.listing import CaptureFile
from eda_lake.lake.event_index import EventIndex, IndexReport
from eda_lake.lake.parts import LakeParts, SilverRun
from eda_lake.lake.recovery import Recovery
from eda_lake.lake.silver.event_tables import SilverReport
from eda_lake.lake.upkeep import Upkeep
from eda_lake.shared.progress import Progress, no_progress
from eda_lake.telemetry import metrics, spans


class Lake(LakeParts):
    @cached_property
    def recovery(self) -> Recovery:
        return Recovery(self)

    @cached_property
    def upkeep(self) -> Upkeep:
        return Upkeep(self)

    def ingest(
        self,
        capture_root: str | None = None,
        progress: Progress = no_progress,
        files: list[CaptureFile] | None = None,
    ) -> BronzeReport:
        """These capture files (by default, full discovery: every one) not yet in bronze
        land there."""
        with spans.lake_run("ingest") as run, self.lock.shared("ingest"):
            found = self.capture_files(capture_root) if files is None else files
            report = self.bronze(capture_root).ingest(found, progress=progress)
            run.report(report)
        if metrics.enabled():
            fresh = bronze_freshness(self.layout)
            metrics.bronze_freshness(fresh.newest_enqueued, fresh.last_commit)
        return report

    def index_events(self) -> IndexReport:
        """Bring the event index up to date with bronze: the events bronze added since it
        last read it (a lake it never read is indexed whole, once)."""
        with self.lock.shared("index"):
            return EventIndex(self.layout).update()

    def silver_events(
        self, events: Sequence[str] | None = None, progress: Progress = no_progress
    ) -> SilverReport:
        """Decode new bronze events into silver: every catalogue event, or these."""
        not_upgraded = _failed(self.recovery.upgrade_tables(events))
        return self._silver_events(events, not_upgraded, progress)

    def _silver_events(
        self, events: Sequence[str] | None, not_upgraded: dict[str, TableRun], progress: Progress
    ) -> SilverReport:
        """A silver run (a span of its own, the quarantine rate sent after it) over
        `_event_tables`."""
        with spans.lake_run("silver") as run:
            report = self._event_tables(events, not_upgraded, progress)
            run.report(report)
        metrics.quarantine_rate(report.rows_read, report.quarantined)
        return report

    def _event_tables(
        self, events: Sequence[str] | None, not_upgraded: dict[str, TableRun], progress: Progress
    ) -> SilverReport:
        """Silver for these events but those whose table could not be upgraded: they are
        reported failed, and the others land."""
        chosen = [name for name in events or self.catalogue.events if name not in not_upgraded]
        report = SilverReport()
        if chosen:
            with (
                self.silver_builder() as builder,
                self.masking_lease("silver", builder.masker),
            ):
                report = builder.run(chosen, progress)
        for name, run in not_upgraded.items():
            report.add(self.catalogue.events[name], run)
        return report

    def entities(self, names: Sequence[str] | None = None) -> EntitiesReport:
        """Bring the declared entities (all, or these) up to date with the event tables."""
        with self.lock.shared("entities"):
            return build_entities(self.layout, names)

    def silver(self, progress: Progress = no_progress) -> SilverRun:
        not_upgraded = _failed(self.recovery.upgrade_tables())  # alone, before the lease
        with self.lock.shared("silver"):
            events = self._silver_events(None, not_upgraded, progress)
            return SilverRun(events, self.entities())

    def gold(
        self,
        days: set[date] | None = None,
        tables: Sequence[str] | None = None,
        progress: Progress = no_progress,
    ) -> GoldReport:
        """Recompute the gold days new entity rows touch, or exactly `days`."""
        with spans.lake_run("gold") as run, self.lock.shared("gold"):
            report = GoldBuilder(self.layout).run(days, tables)
            run.counts(
                tables=len(report.runs),
                days_recomputed=sum(report.days_recomputed.values()),
                rows_written=sum(report.rows_written.values()),
            )
        progress("gold", len(report.runs), len(report.runs), "tables")
        return report

    def gold_pending_days(self, tables: Sequence[str] | None = None) -> set[date]:
        return GoldBuilder(self.layout).pending_days(tables)


def _failed(runs: dict[str, TableRun]) -> dict[str, TableRun]:
    """The failed runs among these, by event."""
    return {name: run for name, run in runs.items() if run.failed}
