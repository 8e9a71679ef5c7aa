"""The lake's parts, assembled once from settings: discovery, bronze, silver, gold."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from functools import partial
from pathlib import Path

import pyarrow as pa

from eda_lake.capture.naming import ArchiveNameFormat
from eda_lake.catalogue import Catalogue, load_catalogue
from eda_lake.lake.bronze.ingest import BronzeIngestor, BronzeReport
from eda_lake.lake.delta import commits, tables
from eda_lake.lake.delta.commits import TableRun
from eda_lake.lake.derived.entities import EntitiesReport, build_entities
from eda_lake.lake.derived.gold import GoldBuilder, GoldReport
from eda_lake.lake.discovery.listing import CaptureFile, discover_all, files_at
from eda_lake.lake.discovery.source import CaptureSource, capture_source
from eda_lake.lake.lake_lock import LakeLock
from eda_lake.lake.layout import LakeLayout
from eda_lake.lake.maintenance.compaction import CompactionReport, compact_bronze
from eda_lake.lake.maintenance.lifecycle import (
    CAPTURE_CONTAINER,
    LAKE_CONTAINER,
    EnforcementReport,
    Rule,
    default_policy,
    enforce,
    load_policy,
    local_containers,
    validate,
)
from eda_lake.lake.maintenance.vacuum import VacuumReport, vacuum_lake
from eda_lake.lake.quarantine import Quarantine
from eda_lake.lake.silver.event_tables import SilverBuilder, SilverReport
from eda_lake.lake.silver.evolution import (
    TableUpgradeError,
    Upgrade,
    pending_upgrades,
    upgrade_table,
)
from eda_lake.lake.silver.masking import Masker
from eda_lake.registry.base import SchemaRegistry
from eda_lake.registry.compatibility import Compatibility, compatibility_problems
from eda_lake.registry.factory import make_registry
from eda_lake.settings import Settings
from eda_lake.shared.closing import close_all
from eda_lake.shared.errors import UserError
from eda_lake.shared.progress import Progress, no_progress

log = logging.getLogger(__name__)


@dataclass
class SilverRun:
    events: SilverReport
    entities: EntitiesReport


@dataclass
class RetryReport:
    files_retried: int = 0
    files_resolved: int = 0
    files_still_quarantined: int = 0
    events_retried: int = 0
    events_landed: int = 0  # new in silver (the rest were already there: now resolved too)
    events_resolved: int = 0
    events_still_quarantined: int = 0


class RebuildRefusedError(UserError, ValueError):
    """The catalogue's schemas would not read what the registry holds: nothing was touched."""


class Lake:
    def __init__(
        self,
        settings: Settings,
        catalogue: Catalogue | None = None,
        *,
        pii_key: str | None = None,
    ) -> None:
        self.settings = settings
        self.catalogue = catalogue or load_catalogue(settings.schema_dir)
        self.layout = LakeLayout.from_settings(settings)
        self.source = capture_source(settings)
        self.names = ArchiveNameFormat(self.catalogue.capture.archive_name_format)
        self._pii_key = pii_key or settings.pii_key
        # Every writer below shares it; a rebuild holds it alone.
        self.lock = LakeLock(self.layout)

    def _source(self, capture_root: str | None) -> CaptureSource:
        return self.source if capture_root is None else capture_source(self.settings, capture_root)

    def capture_files(self, capture_root: str | None = None) -> list[CaptureFile]:
        source = self._source(capture_root)
        return discover_all(source.fs, source.root, self.names)

    def capture_files_at(self, paths: list[str]) -> list[CaptureFile]:
        """Just these files (from a notification or a sensor), without listing the rest."""
        return files_at(self.source.fs, self.source.root, self.names, paths)

    def bronze(self, capture_root: str | None = None) -> BronzeIngestor:
        source = self._source(capture_root)
        return BronzeIngestor(
            self.layout, source.fs, source.root, max_event_bytes=self.settings.max_event_bytes
        )

    def ingest(
        self,
        capture_root: str | None = None,
        progress: Progress = no_progress,
        files: list[CaptureFile] | None = None,
    ) -> BronzeReport:
        """These capture files (by default, full discovery: every one) not yet in bronze
        land there."""
        with self.lock.shared("ingest"):
            found = self.capture_files(capture_root) if files is None else files
            return self.bronze(capture_root).ingest(found, progress=progress)

    def _silver_builder(self) -> tuple[SilverBuilder, Callable[[], None]]:
        masker = Masker(self._pii_key)  # refuses before any work without a key
        registry = make_registry(self.settings)
        builder = SilverBuilder(self.layout, self.catalogue, registry, masker)
        return builder, lambda: close_all(registry)

    def silver_events(
        self, events: Sequence[str] | None = None, progress: Progress = no_progress
    ) -> SilverReport:
        """Decode new bronze events into silver: every catalogue event, or these."""
        return self._silver_events(events, _failed(self._upgrade_tables(events)), progress)

    def _silver_events(
        self, events: Sequence[str] | None, not_upgraded: dict[str, TableRun], progress: Progress
    ) -> SilverReport:
        """Silver for these events but those whose table could not be upgraded: they are
        reported failed, and the others land."""
        chosen = [name for name in events or self.catalogue.events if name not in not_upgraded]
        report = SilverReport()
        if chosen:
            builder, close = self._silver_builder()
            try:
                with self.lock.shared("silver"):
                    report = builder.run(chosen, progress)
            finally:
                close()
        for name, run in not_upgraded.items():
            report.add(self.catalogue.events[name], run)
        return report

    def upgrade_silver(self, events: Sequence[str] | None = None) -> list[str]:
        """Rewrite the silver tables (of every catalogue event, or these) whose schema is not
        their event's any more (`silver.evolution`), holding the lake alone; the tables
        rewritten. A table that cannot be upgraded raises its one line."""
        runs = self._upgrade_tables(events).values()
        for run in runs:
            if run.failed:
                raise TableUpgradeError(run.failure())
        return [run.table for run in runs]

    def _upgrade_tables(self, events: Sequence[str] | None = None) -> dict[str, TableRun]:
        """Upgrade what `upgrade_silver` says, each table on its own (`commits.run_table`): a
        table that cannot be upgraded is a failed run, nothing of it changed, and the others
        are upgraded. Deciding compares schemas only, before any lease: with nothing to
        upgrade, nothing waits. The runs, by event."""
        if not pending_upgrades(self.layout, self.catalogue, events):
            return {}
        masker = Masker(self._pii_key)
        registry = make_registry(self.settings)
        runs = {}
        try:
            with self.lock.exclusive("silver schema upgrade"):
                for upgrade in pending_upgrades(self.layout, self.catalogue, events):  # alone
                    log.info("upgrading %s: %s", upgrade.table, "; ".join(upgrade.changes))
                    upgraded = partial(_upgrade_run, self.layout, upgrade, masker, registry)
                    runs[upgrade.spec.name] = commits.run_table(upgrade.table, upgraded)
        finally:
            close_all(registry)
        return runs

    def entities(self, names: Sequence[str] | None = None) -> EntitiesReport:
        """Bring the declared entities (all, or these) up to date with the event tables."""
        with self.lock.shared("entities"):
            return build_entities(self.layout, names)

    def silver(self, progress: Progress = no_progress) -> SilverRun:
        not_upgraded = _failed(self._upgrade_tables())  # alone, before the shared lease
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
        with self.lock.shared("gold"):
            report = GoldBuilder(self.layout).run(days, tables)
        progress("gold", len(report.runs), len(report.runs), "tables")
        return report

    def gold_pending_days(self, tables: Sequence[str] | None = None) -> set[date]:
        return GoldBuilder(self.layout).pending_days(tables)

    @property
    def quarantine(self) -> Quarantine:
        return Quarantine(self.layout)

    def retry_quarantine(
        self, *, files: bool = True, events: bool = True, capture_root: str | None = None
    ) -> RetryReport:
        """Reprocess what is quarantined (after a fix): rows that land are marked resolved,
        and nothing lands twice."""
        if events:
            self.upgrade_silver()
        with self.lock.shared("quarantine retry"):
            return self._retry_quarantine(files, events, capture_root)

    def _retry_quarantine(self, files: bool, events: bool, capture_root: str | None) -> RetryReport:
        report = RetryReport()
        if files:
            quarantined = self.quarantine.quarantined_files()
            found = [f for f in self.capture_files(capture_root) if f.path in quarantined]
            bronze = self.bronze(capture_root).ingest(found, retry_quarantined=True)
            report.files_retried = len(quarantined)
            report.files_resolved = bronze.files_resolved
            report.files_still_quarantined = len(self.quarantine.quarantined_files())
        rows = self.quarantine.events() if events else None
        if rows is not None and rows.num_rows:  # the registry and the key only when needed
            builder, close = self._silver_builder()
            try:
                landed, resolved = builder.retry(rows)
            finally:
                close()
            report.events_retried = rows.num_rows
            report.events_landed = landed
            report.events_resolved = self.quarantine.resolve_events(resolved)
            report.events_still_quarantined = rows.num_rows - report.events_resolved
        return report

    def vacuum(self, retention_hours: int) -> VacuumReport:
        """Delete files no table version within `retention_hours` refers to."""
        with self.lock.shared("vacuum"):
            return vacuum_lake(self.layout, retention_hours)

    def funnel(self) -> pa.Table:
        """The gold funnel, one row per cohort day, oldest first (empty before any gold)."""
        table = tables.open_table(
            self.layout.table_uri("gold", "funnel_daily"), self.layout.storage_options
        )
        if table is None:
            return pa.table({})
        return tables.query("SELECT * FROM funnel ORDER BY cohort_date", funnel=table)

    def lifecycle(self, policy_file: Path | None = None) -> tuple[list[Rule], EnforcementReport]:
        """Apply the lifecycle policy (the default, or an Azure policy document) where no
        lifecycle engine runs: the local directory or Azurite."""
        storage = self.settings.storage
        if self.layout.local or storage is None or not storage.lake_container:
            capture, lake = CAPTURE_CONTAINER, LAKE_CONTAINER
            containers = local_containers(self.layout)
        else:
            capture, lake = storage.capture_container or CAPTURE_CONTAINER, storage.lake_container
            containers = {lake: lake, capture: capture}
        rules = (
            load_policy(policy_file, lake)
            if policy_file
            else validate(default_policy(capture, lake), "default policy", lake)
        )
        return rules, enforce(self.layout, rules, containers)

    def compact(self) -> CompactionReport:
        with self.lock.shared("compaction"):
            return compact_bronze(self.layout)

    def rebuild_problems(self) -> list[str]:
        """Why the catalogue's schemas could not rebuild silver: each event's schema checked
        by the group's compatibility rules against every version the registry holds."""
        mode = Compatibility.parse(self.catalogue.compatibility)
        registry = make_registry(self.settings)
        problems = []
        try:
            for spec in self.catalogue.events.values():
                name = spec.schema.full_name
                group = self.catalogue.schema_group
                registered = [
                    registry.get_version(group, name, v).schema
                    for v in registry.versions(group, name)
                ]
                previous = [r for r in registered if r.canonical != spec.schema.canonical]
                problems += [
                    f"{spec.name} ({spec.schema_path}): {problem}"
                    for problem in compatibility_problems(mode, spec.schema, previous)
                ]
        finally:
            close_all(registry)
        return problems

    def rebuild(self, progress: Progress = no_progress) -> tuple[SilverRun, GoldReport]:
        """Silver and gold again from bronze (after a decoder fix): the same tables.

        Refuses, before touching any table, a catalogue the registry's rules reject. Holds
        the lake alone (other writers wait) and replaces each table in one Delta commit, with
        its progress, so a reader sees the old table until the new one is committed, and a
        rebuild killed midway leaves each table old or new, never half of one."""
        Masker(self._pii_key)  # refuse before touching anything
        problems = self.rebuild_problems()
        if problems:
            raise RebuildRefusedError(
                "rebuild refused, nothing was changed: the catalogue's schemas break the "
                f"registry's {self.catalogue.compatibility} compatibility: "
                + "; ".join(problems)
                + ". Fix the schema files (or register a compatible version), then rebuild."
            )
        builder, close = self._silver_builder()
        try:
            with self.lock.exclusive("rebuild"):
                events = builder.rebuild(progress)
                entities = build_entities(self.layout, everything=True)
                gold = GoldBuilder(self.layout).run(everything=True)
        finally:
            close()
        progress("gold", len(gold.runs), len(gold.runs), "tables")
        return SilverRun(events, entities), gold


def _upgrade_run(
    layout: LakeLayout, upgrade: Upgrade, masker: Masker, registry: SchemaRegistry
) -> TableRun:
    version = upgrade_table(layout, upgrade, masker, registry)
    return TableRun(upgrade.table, outcome="committed", version=version)


def _failed(runs: dict[str, TableRun]) -> dict[str, TableRun]:
    """The failed runs among these, by event."""
    return {name: run for name, run in runs.items() if run.failed}
