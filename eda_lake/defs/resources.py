"""The one resource: eda-lake's settings, filled from the environment through EnvVar."""

from __future__ import annotations

import os

import dagster as dg

from eda_lake.lake.layout import LakeLayout
from eda_lake.settings import HOME_VAR, NAMESPACE_VAR, SCHEMA_DIR_VAR, TARGET_VAR, Settings
from eda_lake.simulation.runtime import Simulation


class EdaLakeResource(dg.ConfigurableResource):  # type: ignore[type-arg]
    """Where the embedded default keeps its state, which backend to use, the catalogue."""

    home: str
    target: str
    schema_dir: str
    namespace: str

    def settings(self) -> Settings:
        return Settings.from_env(
            {
                HOME_VAR: self.home,
                TARGET_VAR: self.target,
                SCHEMA_DIR_VAR: self.schema_dir,
                NAMESPACE_VAR: self.namespace,
            }
        )

    def simulation(self) -> Simulation:
        return Simulation(self.settings())

    def lake(self) -> LakeLayout:
        return LakeLayout(self.settings().lake_dir)


def eda_lake_resource() -> EdaLakeResource:
    """Each field comes from its variable when it is set (the UI then shows the variable's
    name, never its value), else from the same default that Settings uses."""
    defaults = Settings.from_env({})

    def field(var: str, default: str) -> str:
        return dg.EnvVar(var) if var in os.environ else default

    return EdaLakeResource(
        home=field(HOME_VAR, str(defaults.home)),
        target=field(TARGET_VAR, defaults.target.value),
        schema_dir=field(SCHEMA_DIR_VAR, str(defaults.schema_dir)),
        namespace=field(NAMESPACE_VAR, defaults.namespace),
    )
