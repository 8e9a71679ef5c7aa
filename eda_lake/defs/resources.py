"""The one resource: eda-lake's settings, from every variable that `Settings` knows.

The resource holds the variables themselves, not a copy of the settings' fields: whatever
`eda_lake.settings.VARIABLES` lists reaches Dagster, a variable added there included.
Secrets pass as `EnvVar`, so the UI (and the run's config) shows their names, never values.
"""

from __future__ import annotations

from collections.abc import Mapping

import dagster as dg
from pydantic import Field

from eda_lake.catalogue import Catalogue, load_catalogue
from eda_lake.lake.layout import LakeLayout
from eda_lake.lake.runtime import Lake
from eda_lake.settings import HOME_VAR, VARIABLES, Settings, configured_variables
from eda_lake.simulation.runtime import Simulation


class EdaLakeResource(dg.ConfigurableResource):  # type: ignore[type-arg]
    """Where the embedded default keeps its state, which backend to use, the catalogue."""

    environment: dict[str, str] = Field(
        default_factory=dict,
        description="eda-lake's variables (EDA_LAKE_*): values, or for secrets the variable's "
        "name only (resolved from the run's environment). Unset ones take their defaults.",
    )

    def settings(self) -> Settings:
        return Settings.from_env(self.environment)

    def simulation(self) -> Simulation:
        return Simulation(self.settings())

    def catalogue(self) -> Catalogue:
        return load_catalogue(self.settings().schema_dir)

    def layout(self) -> LakeLayout:
        return LakeLayout.from_settings(self.settings())

    def lake(self) -> Lake:
        return Lake(self.settings())


def eda_lake_resource(environ: Mapping[str, str] | None = None) -> EdaLakeResource:
    """Every variable of the table: its default when unset (so the UI shows what is in
    effect), its value when set, an EnvVar when it is a secret."""
    settings = Settings.from_env(environ)  # a broken environment is refused at load, by name
    environment: dict[str, str] = {v.name: v.default for v in VARIABLES if v.default}
    for name, (known, value) in configured_variables(environ).items():
        environment[name] = dg.EnvVar(name) if known.secret else value
    environment[HOME_VAR] = str(settings.home)  # absolute: a run may start in another directory
    return EdaLakeResource(environment=environment)
