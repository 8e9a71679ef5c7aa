"""The one resource: eda-lake's settings, filled from the environment through EnvVar."""

from __future__ import annotations

import os

import dagster as dg

from eda_lake.catalogue import Catalogue, load_catalogue
from eda_lake.lake.layout import LakeLayout
from eda_lake.lake.runtime import Lake
from eda_lake.settings import (
    BLOB_AUTHORITY_VAR,
    CAPTURE_CONTAINER_VAR,
    HOME_VAR,
    LAKE_CONTAINER_VAR,
    LATENESS_VAR,
    NAMESPACE_VAR,
    PII_KEY_VAR,
    QUEUE_CONNECTION_VAR,
    QUEUE_VAR,
    SCHEMA_DIR_VAR,
    STORAGE_ACCOUNT_VAR,
    STORAGE_KEY_VAR,
    TARGET_VAR,
    Settings,
)
from eda_lake.simulation.runtime import Simulation


class EdaLakeResource(dg.ConfigurableResource):  # type: ignore[type-arg]
    """Where the embedded default keeps its state, which backend to use, the catalogue."""

    home: str
    target: str
    schema_dir: str
    namespace: str
    pii_key: str = ""  # from EDA_LAKE_PII_KEY through EnvVar; the UI shows only the name
    capture_lateness_minutes: str = "120"
    storage_account: str = ""  # empty: capture files and tables in the local directory
    storage_account_key: str = ""
    blob_authority: str = ""
    capture_container: str = ""
    lake_container: str = ""
    discovery_queue: str = ""  # empty: no push discovery
    queue_connection_string: str = ""

    def settings(self) -> Settings:
        return Settings.from_env(
            {
                HOME_VAR: self.home,
                TARGET_VAR: self.target,
                SCHEMA_DIR_VAR: self.schema_dir,
                NAMESPACE_VAR: self.namespace,
                PII_KEY_VAR: self.pii_key,
                LATENESS_VAR: self.capture_lateness_minutes,
                STORAGE_ACCOUNT_VAR: self.storage_account,
                STORAGE_KEY_VAR: self.storage_account_key,
                BLOB_AUTHORITY_VAR: self.blob_authority,
                CAPTURE_CONTAINER_VAR: self.capture_container,
                LAKE_CONTAINER_VAR: self.lake_container,
                QUEUE_VAR: self.discovery_queue,
                QUEUE_CONNECTION_VAR: self.queue_connection_string,
            }
        )

    def simulation(self) -> Simulation:
        return Simulation(self.settings())

    def catalogue(self) -> Catalogue:
        return load_catalogue(self.settings().schema_dir)

    def layout(self) -> LakeLayout:
        return LakeLayout.from_settings(self.settings())

    def lake(self) -> Lake:
        return Lake(self.settings())


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
        pii_key=field(PII_KEY_VAR, ""),
        capture_lateness_minutes=field(LATENESS_VAR, str(defaults.capture_lateness_minutes)),
        storage_account=field(STORAGE_ACCOUNT_VAR, ""),
        storage_account_key=field(STORAGE_KEY_VAR, ""),
        blob_authority=field(BLOB_AUTHORITY_VAR, ""),
        capture_container=field(CAPTURE_CONTAINER_VAR, ""),
        lake_container=field(LAKE_CONTAINER_VAR, ""),
        discovery_queue=field(QUEUE_VAR, ""),
        queue_connection_string=field(QUEUE_CONNECTION_VAR, ""),
    )
