"""The one resource: eda-lake's settings, from every variable that `Settings` knows.

The resource's fields are the variables of `eda_lake.settings.VARIABLES` themselves (one
field each, typed and described; a family, such as one connection string per hub, is a
map), not a copy of the settings' fields: a variable added to the table reaches Dagster
with no change here. Secrets pass as `EnvVar`, so the UI shows their names, never values.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import dagster as dg
from pydantic import Field, create_model

from eda_lake import telemetry
from eda_lake.catalogue import Catalogue, load_catalogue
from eda_lake.lake.layout import LakeLayout
from eda_lake.lake.runtime import Lake
from eda_lake.settings import (
    HOME_VAR,
    VARIABLES,
    Settings,
    Variable,
    configured_variables,
    variable,
)
from eda_lake.simulation.runtime import Simulation

PREFIX = "EDA_LAKE_"


def field_name(known: Variable) -> str:
    """EDA_LAKE_CAPTURE_LATENESS_MINUTES -> capture_lateness_minutes; a family keeps its
    prefix's trailing `__` (EDA_LAKE_KAFKA_SASL_PASSWORD__ -> kafka_sasl_password__)."""
    return known.name.removeprefix(PREFIX).lower()


class EdaLakeResource(dg.ConfigurableResource):  # type: ignore[type-arg]
    """Where the embedded default keeps its state, which backend to use, the catalogue."""

    @classmethod
    def of(cls, environment: Mapping[str, str]) -> EdaLakeResource:
        """The resource for these variables (values, or EnvVars), by their names."""
        fields: dict[str, Any] = {}
        for name, value in environment.items():
            known = variable(name)
            if known.family:
                fields.setdefault(field_name(known), {})[name.removeprefix(known.name)] = value
            elif known.integer and isinstance(value, dg.EnvVar):
                fields[field_name(known)] = dg.EnvVar.int(name)
            else:
                fields[field_name(known)] = int(value) if known.integer else value
        resource: EdaLakeResource = EdaLakeVariables(**fields)
        return resource

    def variables(self) -> dict[str, str]:
        """The variables again, by name, as `Settings.from_env` reads them."""
        environment: dict[str, str] = {}
        for known in VARIABLES:
            value = getattr(self, field_name(known))
            if known.family:
                environment |= {known.name + suffix: v for suffix, v in value.items()}
            elif value != "":
                environment[known.name] = value if isinstance(value, str) else str(value)
        return environment

    def settings(self) -> Settings:
        return Settings.from_env(self.variables())

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        """A step's process sends its spans and metrics where the variables say (each run of
        the lake and each relay sends its own when it ends: a step's process may end without
        `atexit`; a teardown here would make every context using the resource a generator's)."""
        telemetry.configure(self.settings().telemetry)

    def simulation(self) -> Simulation:
        return Simulation(self.settings())

    def catalogue(self) -> Catalogue:
        settings = self.settings()
        return load_catalogue(settings.schema_dir, settings.catalogue_file)

    def layout(self) -> LakeLayout:
        return LakeLayout.from_settings(self.settings())

    def lake(self) -> Lake:
        return Lake(self.settings())


def _field(known: Variable) -> tuple[Any, Any]:
    description = f"{known.name}: {known.description}" + (
        " (secret: set it in the environment; the UI shows only its name)" if known.secret else ""
    )
    if known.family:
        return dict[str, str], Field(
            default_factory=dict, description=f"{description}; by the suffix after the prefix"
        )
    if known.integer:
        return int, Field(default=int(known.default), description=description)
    return str, Field(default=known.default, description=description)


# One field per variable of the table, built from it.
EdaLakeVariables = create_model(  # type: ignore[call-overload]
    "EdaLakeVariables",
    __base__=EdaLakeResource,
    __doc__=EdaLakeResource.__doc__,
    **{field_name(known): _field(known) for known in VARIABLES},
)


def eda_lake_resource(environ: Mapping[str, str] | None = None) -> EdaLakeResource:
    """Every variable the environment sets, by value, or by name (EnvVar) when it is a
    secret; the others take the table's defaults, which the UI shows."""
    settings = Settings.from_env(environ)  # a broken environment is refused at load, by name
    environment: dict[str, str] = {}
    for name, (known, value) in configured_variables(environ).items():
        environment[name] = dg.EnvVar(name) if known.secret else value
    environment[HOME_VAR] = str(settings.home)  # absolute: a run may start in another directory
    return EdaLakeResource.of(environment)
