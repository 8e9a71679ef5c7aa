"""Chooses the schema registry adapter from settings: the one place that knows them all."""

from __future__ import annotations

from eda_lake.registry.base import SchemaRegistry
from eda_lake.registry.local import LocalSchemaRegistry
from eda_lake.settings import Settings, Target


def make_registry(settings: Settings) -> SchemaRegistry:
    if settings.target is Target.LOCAL:
        return LocalSchemaRegistry(settings.registry_file)
    raise NotImplementedError(
        f"the {settings.target.value} schema registry adapter is not available yet; "
        "set EDA_LAKE_TARGET=local"
    )
