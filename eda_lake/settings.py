"""The one place that reads the environment.

Every other module receives a `Settings` (or the values it holds); nothing else calls
`os.environ`. Dagster resources get the same variables through `EnvVar`, see
`eda_lake.defs.resources`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


class Target(StrEnum):
    """Which backend the adapters talk to."""

    LOCAL = "local"
    AZURE = "azure"


class SettingsError(ValueError):
    """A variable of the environment holds a value that cannot be used."""


# Names of the variables, so that documentation, Dagster's EnvVar and this module agree.
HOME_VAR = "EDA_LAKE_HOME"
TARGET_VAR = "EDA_LAKE_TARGET"
SCHEMA_DIR_VAR = "EDA_LAKE_SCHEMA_DIR"
NAMESPACE_VAR = "EDA_LAKE_NAMESPACE"
LATENESS_VAR = "EDA_LAKE_CAPTURE_LATENESS_MINUTES"
CAPTURE_ACCOUNT_VAR = "EDA_LAKE_CAPTURE_ACCOUNT"
CAPTURE_KEY_VAR = "EDA_LAKE_CAPTURE_ACCOUNT_KEY"  # the variable's name; the key stays in the env
CAPTURE_CONTAINER_VAR = "EDA_LAKE_CAPTURE_CONTAINER"
BLOB_AUTHORITY_VAR = "EDA_LAKE_BLOB_AUTHORITY"
QUEUE_VAR = "EDA_LAKE_DISCOVERY_QUEUE"
QUEUE_CONNECTION_VAR = "EDA_LAKE_QUEUE_CONNECTION_STRING"
PII_KEY_VAR = "EDA_LAKE_PII_KEY"  # the name of the variable, never the key itself


@dataclass(frozen=True)
class CaptureStorage:
    """Where Event Hubs Capture writes: an Azure Storage account's container.

    `blob_authority` points at another endpoint than Azure's (host:port, plain HTTP), for
    Azurite. Without `account_key` the credential comes from the environment's identity.
    """

    account: str
    container: str = "capture"
    account_key: str | None = field(default=None, repr=False)
    blob_authority: str | None = None


@dataclass(frozen=True)
class DiscoveryQueue:
    """The Storage Queue that Event Grid fills with CaptureFileCreated notifications."""

    name: str
    connection_string: str = field(repr=False)


@dataclass(frozen=True)
class Settings:
    """Where the embedded default keeps its state and which backend is in use."""

    home: Path
    target: Target = Target.LOCAL
    schema_dir: Path = REPO_ROOT / "schemas"
    namespace: str = "eda-lake-local"
    pii_key: str | None = field(default=None, repr=False)  # a secret: never printed
    capture_lateness_minutes: int = 120  # how far back the capture sensor looks
    capture_storage: CaptureStorage | None = None  # None: the local lake's capture/ area
    discovery_queue: DiscoveryQueue | None = None  # None: no push discovery

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        raw_target = env.get(TARGET_VAR, Target.LOCAL.value).strip().lower()
        try:
            target = Target(raw_target)
        except ValueError:
            choices = ", ".join(t.value for t in Target)
            raise SettingsError(
                f"{TARGET_VAR}={raw_target!r} is not a known target; set it to one of: {choices}"
            ) from None
        return cls(
            home=Path(env.get(HOME_VAR) or ".eda_lake").resolve(),
            target=target,
            schema_dir=Path(env.get(SCHEMA_DIR_VAR) or REPO_ROOT / "schemas").resolve(),
            namespace=env.get(NAMESPACE_VAR) or "eda-lake-local",
            pii_key=env.get(PII_KEY_VAR) or None,
            capture_lateness_minutes=_positive_int(env, LATENESS_VAR, 120),
            capture_storage=_capture_storage(env),
            discovery_queue=_discovery_queue(env),
        )

    @property
    def lake_dir(self) -> Path:
        return self.home / "lake"

    @property
    def hub_dir(self) -> Path:
        """State of the embedded event hub (events, checkpoints, capture progress)."""
        return self.home / "hub"

    @property
    def registry_file(self) -> Path:
        """State of the embedded schema registry."""
        return self.home / "registry.sqlite3"

    @property
    def simulation_dir(self) -> Path:
        """The teams' own operational state: partner drops, dead letters."""
        return self.home / "teams"


def _positive_int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        value = -1
    if value <= 0:
        raise SettingsError(f"{name}={raw!r} must be a positive whole number")
    return value


def _capture_storage(env: Mapping[str, str]) -> CaptureStorage | None:
    account = env.get(CAPTURE_ACCOUNT_VAR)
    if not account:
        return None
    return CaptureStorage(
        account=account,
        container=env.get(CAPTURE_CONTAINER_VAR) or "capture",
        account_key=env.get(CAPTURE_KEY_VAR) or None,
        blob_authority=env.get(BLOB_AUTHORITY_VAR) or None,
    )


def _discovery_queue(env: Mapping[str, str]) -> DiscoveryQueue | None:
    name = env.get(QUEUE_VAR)
    if not name:
        return None
    connection = env.get(QUEUE_CONNECTION_VAR)
    if not connection:
        raise SettingsError(
            f"{QUEUE_VAR}={name!r} is set but {QUEUE_CONNECTION_VAR} is not: set the queue's "
            "connection string (from your secret store), or unset the queue name"
        )
    return DiscoveryQueue(name=name, connection_string=connection)
