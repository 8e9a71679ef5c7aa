"""A tracer over the lake of some settings: its index brought up to date first."""

from __future__ import annotations

from eda_lake.lake.event_index import EventIndex
from eda_lake.lake.runtime import Lake
from eda_lake.settings import Settings
from eda_lake.simulation.dead_letters import read_dead_letters
from eda_lake.tracing.places import LakePlaces
from eda_lake.tracing.tree import Tracer


def tracer(settings: Settings) -> Tracer:
    """A tracer of the lake `settings` name; NoLakeError where they name none."""
    lake = Lake(settings)
    lake.layout.require_lake()
    lake.index_events()
    letters = read_dead_letters(settings, include_replayed=True)
    return Tracer(EventIndex(lake.layout), LakePlaces(lake.layout, lake.catalogue, letters))
