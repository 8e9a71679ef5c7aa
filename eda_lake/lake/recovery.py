"""Putting the lake right after a fix: quarantined files and events retried, silver tables
upgraded to their schema's new types, silver and gold rebuilt from bronze."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial

from eda_lake.lake.delta import commits
from eda_lake.lake.delta.commits import TableRun
from eda_lake.lake.derived.entities import build_entities
from eda_lake.lake.derived.gold import GoldBuilder, GoldReport
from eda_lake.lake.layout import LakeLayout
from eda_lake.lake.parts import LakeParts, SilverRun
from eda_lake.lake.silver.evolution import (
    TableUpgradeError,
    Upgrade,
    pending_upgrades,
    upgrade_table,
)
from eda_lake.lake.silver.key_fingerprint import keep_fingerprint
from eda_lake.lake.silver.masking import Masker
from eda_lake.registry.base import SchemaRegistry
from eda_lake.registry.compatibility import Compatibility, compatibility_problems
from eda_lake.shared.errors import UserError
from eda_lake.shared.progress import Progress, no_progress

log = logging.getLogger(__name__)


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


class Recovery:
    def __init__(self, parts: LakeParts) -> None:
        self.parts = parts

    def upgrade_silver(self, events: Sequence[str] | None = None) -> list[str]:
        """Rewrite the silver tables (of every catalogue event, or these) whose schema is not
        their event's any more (`silver.evolution`), holding the lake alone; the tables
        rewritten. A table that cannot be upgraded raises its one line."""
        runs = self.upgrade_tables(events).values()
        for run in runs:
            if run.failed:
                raise TableUpgradeError(run.failure())
        return [run.table for run in runs]

    def upgrade_tables(self, events: Sequence[str] | None = None) -> dict[str, TableRun]:
        """Upgrade what `upgrade_silver` says, each table on its own (`commits.run_table`): a
        table that cannot be upgraded is a failed run, nothing of it changed, and the others
        are upgraded. Deciding compares schemas only, before any lease: with nothing to
        upgrade, nothing waits. The runs, by event."""
        parts = self.parts
        if not pending_upgrades(parts.layout, parts.catalogue, events):
            return {}
        masker = parts.masker()
        runs = {}
        with (
            parts.registry() as registry,
            parts.masking_lease("silver schema upgrade", masker, exclusive=True),
        ):
            for upgrade in pending_upgrades(parts.layout, parts.catalogue, events):  # alone
                log.info("upgrading %s: %s", upgrade.table, "; ".join(upgrade.changes))
                upgraded = partial(_upgrade_run, parts.layout, upgrade, masker, registry)
                runs[upgrade.spec.name] = commits.run_table(upgrade.table, upgraded)
        return runs

    def retry_quarantine(
        self, *, files: bool = True, events: bool = True, capture_root: str | None = None
    ) -> RetryReport:
        """Reprocess what is quarantined (after a fix): rows that land are marked resolved,
        and nothing lands twice."""
        if events:
            self.upgrade_silver()
        with self.parts.lock.shared("quarantine retry"):
            return self._retry_quarantine(files, events, capture_root)

    def _retry_quarantine(self, files: bool, events: bool, capture_root: str | None) -> RetryReport:
        parts, report = self.parts, RetryReport()
        if files:
            quarantined = parts.quarantine.quarantined_files()
            found = [f for f in parts.capture_files(capture_root) if f.path in quarantined]
            bronze = parts.bronze(capture_root).ingest(found, retry_quarantined=True)
            report.files_retried = len(quarantined)
            report.files_resolved = bronze.files_resolved
            report.files_still_quarantined = len(parts.quarantine.quarantined_files())
        rows = parts.quarantine.events() if events else None
        if rows is not None and rows.num_rows:  # the registry and the key only when needed
            with parts.silver_builder() as builder:
                landed, resolved = builder.retry(rows)
            report.events_retried = rows.num_rows
            report.events_landed = landed
            report.events_resolved = parts.quarantine.resolve_events(resolved)
            report.events_still_quarantined = rows.num_rows - report.events_resolved
        return report

    def rebuild_problems(self) -> list[str]:
        """Why the catalogue's schemas could not rebuild silver: each event's schema checked
        by the group's compatibility rules against every version the registry holds."""
        catalogue = self.parts.catalogue
        mode = Compatibility.parse(catalogue.compatibility)
        problems = []
        with self.parts.registry() as registry:
            for spec in catalogue.events.values():
                name = spec.schema.full_name
                group = catalogue.schema_group
                registered = [
                    registry.get_version(group, name, v).schema
                    for v in registry.versions(group, name)
                ]
                previous = [r for r in registered if r.canonical != spec.schema.canonical]
                problems += [
                    f"{spec.name} ({spec.schema_path}): {problem}"
                    for problem in compatibility_problems(mode, spec.schema, previous)
                ]
        return problems

    def rebuild(self, progress: Progress = no_progress) -> tuple[SilverRun, GoldReport]:
        """Silver and gold again from bronze (after a decoder fix, or under a new PII key):
        the same tables.

        Refuses, before touching any table, a catalogue the registry's rules reject. Holds
        the lake alone (other writers wait) and replaces each table in one Delta commit, with
        its progress, so a reader sees the old table until the new one is committed, and a
        rebuild killed midway leaves each table old or new, never half of one."""
        parts = self.parts
        # Refuses before touching anything without a key; any key will do, since every table
        # is masked again under it.
        masker = Masker(parts.pii_key)
        problems = self.rebuild_problems()
        if problems:
            raise RebuildRefusedError(
                "rebuild refused, nothing was changed: the catalogue's schemas break the "
                f"registry's {parts.catalogue.compatibility} compatibility: "
                + "; ".join(problems)
                + ". Fix the schema files (or register a compatible version), then rebuild."
            )
        with parts.silver_builder(masker) as builder, parts.lock.exclusive("rebuild"):
            events = builder.rebuild(progress)
            entities = build_entities(parts.layout, everything=True)
            gold = GoldBuilder(parts.layout).run(everything=True)
            # Every event table and entity masked again under this key: it is the lake's
            # from now on. A table that failed still holds the old key's hashes, so the old
            # fingerprint stays until a rebuild replaces every one.
            if not any(run.failed for run in [*events.runs.values(), *entities.runs.values()]):
                keep_fingerprint(parts.layout, masker)
        progress("gold", len(gold.runs), len(gold.runs), "tables")
        return SilverRun(events, entities), gold


def _upgrade_run(
    layout: LakeLayout, upgrade: Upgrade, masker: Masker, registry: SchemaRegistry
) -> TableRun:
    version = upgrade_table(layout, upgrade, masker, registry)
    return TableRun(upgrade.table, outcome="committed", version=version)
