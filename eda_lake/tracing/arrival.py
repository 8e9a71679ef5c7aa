"""When an event reached a table: the commit time of the first version of the table that
held or counted it, which no later rewrite moves.

Every commit of a layer records how far it has read the table beneath it, in the same atomic
commit as its rows: a silver event table the bronze version (`input:bronze.events`), an
entity or gold table the version of each silver event table it counts
(`counted:silver.<table>`). Those versions only grow, so the first version of a table whose
record reaches the version beneath that holds the event is found by bisection over the
table's versions: a few snapshots opened, however many commits there are. An event that
landed in silver after its bronze version was read (quarantined, then retried) is found the
same way on the rows the snapshots hold. The data file holding the row now says nothing of
this: entity rows are rewritten as later events arrive, gold days recomputed, files
compacted.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timedelta

from deltalake import DeltaTable
from deltalake.exceptions import DeltaError

from eda_lake.lake.delta import freshness
from eda_lake.lake.layout import LakeLayout
from eda_lake.shared import names

# A first version and when it was committed (None: no longer known).
Arrival = tuple[int, datetime | None]


class Arrivals:
    """First versions of the lake's tables, each asked once."""

    def __init__(self, layout: LakeLayout, newest: Callable[[str, str], DeltaTable | None]) -> None:
        """`newest` opens a table of the lake (layer, name) at its newest version."""
        self.layout = layout
        self._newest = newest
        self._found: dict[tuple[str, str, str, int], Arrival | None] = {}

    def first(self, layer: str, name: str, record: str, at_least: int) -> Arrival | None:
        """The first version of the table whose application transaction `record` is at
        least `at_least`, and its commit time; None when none is yet."""
        key = (layer, name, record, at_least)
        if key not in self._found:
            self._found[key] = self.first_where(
                layer, name, lambda snapshot: _reaches(snapshot, record, at_least)
            )
        return self._found[key]

    def first_where(
        self, layer: str, name: str, holds: Callable[[DeltaTable], bool], since: int = 0
    ) -> Arrival | None:
        """The first version from `since` on of which `holds` is true (it stays true in
        every later one), and its commit time; None when not even the newest is."""
        newest = self._newest(layer, name)
        if newest is None or not holds(newest):
            return None
        low, high = since, newest.version()
        while low < high:
            middle = (low + high) // 2
            snapshot = self.snapshot(layer, name, middle)
            if snapshot is not None and holds(snapshot):
                high = middle
            else:  # not yet, or its log entries cleaned up: the answer is later
                low = middle + 1
        return high, self._committed_at(layer, name, high)

    def _committed_at(self, layer: str, name: str, version: int) -> datetime | None:
        """A version's commit time, from its own log entry (a table's history is read from
        its newest commit back, whatever snapshot asks); None once that entry is cleaned up
        (a checkpoint keeps the version's state, not when it was committed)."""
        log = self.layout.fs_path(layer, names.table_name(name), "_delta_log")
        try:
            with self.layout.fs.open_input_stream(f"{log}/{version:020d}.json") as stream:
                lines = stream.read().splitlines()
        except FileNotFoundError:
            return None
        for line in lines:
            info = json.loads(line).get("commitInfo", {})
            if "timestamp" in info:
                return freshness.EPOCH + timedelta(milliseconds=int(info["timestamp"]))
        return None

    def snapshot(self, layer: str, name: str, version: int) -> DeltaTable | None:
        """The table at `version`; None when its log entries are cleaned up."""
        uri = self.layout.table_uri(layer, name)
        try:
            return DeltaTable(uri, version=version, storage_options=self.layout.storage_options)
        except DeltaError:
            return None


def _reaches(table: DeltaTable, record: str, at_least: int) -> bool:
    version = table.transaction_version(record)
    return version is not None and version >= at_least
