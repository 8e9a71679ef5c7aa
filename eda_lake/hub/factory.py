"""Chooses the event hub adapter from settings: the one place that knows them all."""

from __future__ import annotations

from eda_lake.hub.base import EventHub
from eda_lake.hub.local import LocalEventHub
from eda_lake.settings import Settings, Target


def make_local_hub(settings: Settings) -> LocalEventHub:
    return LocalEventHub(settings.hub_dir, settings.namespace)


def make_hub(settings: Settings) -> EventHub:
    if settings.target is Target.LOCAL:
        return make_local_hub(settings)
    raise NotImplementedError(
        f"the {settings.target.value} event hub adapter is not available yet; "
        "set EDA_LAKE_TARGET=local"
    )
