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
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent


class Target(StrEnum):
    """Which backend the adapters talk to."""

    LOCAL = "local"
    AZURE = "azure"


class Broker(StrEnum):
    """Which event backbone the hub adapters talk to (independent of the lake's target)."""

    EMBEDDED = "embedded"
    EVENTHUBS = "eventhubs"
    KAFKA = "kafka"


class SettingsError(ValueError):
    """A variable of the environment holds a value that cannot be used."""


# Names of the variables, so that documentation, Dagster's EnvVar and this module agree.
HOME_VAR = "EDA_LAKE_HOME"
TARGET_VAR = "EDA_LAKE_TARGET"
SCHEMA_DIR_VAR = "EDA_LAKE_SCHEMA_DIR"
NAMESPACE_VAR = "EDA_LAKE_NAMESPACE"
LATENESS_VAR = "EDA_LAKE_CAPTURE_LATENESS_MINUTES"
STORAGE_ACCOUNT_VAR = "EDA_LAKE_STORAGE_ACCOUNT"
STORAGE_KEY_VAR = "EDA_LAKE_STORAGE_ACCOUNT_KEY"  # the variable's name; the key stays in the env
BLOB_AUTHORITY_VAR = "EDA_LAKE_BLOB_AUTHORITY"
CAPTURE_CONTAINER_VAR = "EDA_LAKE_CAPTURE_CONTAINER"
LAKE_CONTAINER_VAR = "EDA_LAKE_LAKE_CONTAINER"
EVENTHUB_NAMESPACE_VAR = "EDA_LAKE_EVENTHUB_NAMESPACE"
EVENTHUB_CONNECTION_PREFIX = (
    "EDA_LAKE_EVENTHUB_CONNECTION_STRING__"  # + hub, e.g. __CUSTOMER_CREATED
)
CHECKPOINT_CONNECTION_VAR = "EDA_LAKE_CHECKPOINT_CONNECTION_STRING"
CHECKPOINT_ACCOUNT_URL_VAR = "EDA_LAKE_CHECKPOINT_ACCOUNT_URL"
CHECKPOINT_CONTAINER_VAR = "EDA_LAKE_CHECKPOINT_CONTAINER"
QUEUE_VAR = "EDA_LAKE_DISCOVERY_QUEUE"
SUBSCRIPTION_VAR = "EDA_LAKE_AZURE_SUBSCRIPTION_ID"
LOCATION_VAR = "EDA_LAKE_AZURE_LOCATION"
ENVIRONMENT_VAR = "EDA_LAKE_ENVIRONMENT"
SUFFIX_VAR = "EDA_LAKE_NAME_SUFFIX"
PRINCIPAL_PREFIX = "EDA_LAKE_PRINCIPAL__"  # + team: the team's Entra object id
QUEUE_CONNECTION_VAR = "EDA_LAKE_QUEUE_CONNECTION_STRING"
PII_KEY_VAR = "EDA_LAKE_PII_KEY"  # the name of the variable, never the key itself

# The event backbone and Kafka's client settings (the Kafka issue's part of this module).
BROKER_VAR = "EDA_LAKE_BROKER"
KAFKA_BOOTSTRAP_VAR = "EDA_LAKE_KAFKA_BOOTSTRAP_SERVERS"
KAFKA_SECURITY_PROTOCOL_VAR = "EDA_LAKE_KAFKA_SECURITY_PROTOCOL"
KAFKA_SASL_MECHANISM_VAR = "EDA_LAKE_KAFKA_SASL_MECHANISM"
KAFKA_SASL_USERNAME_VAR = "EDA_LAKE_KAFKA_SASL_USERNAME"
KAFKA_SASL_PASSWORD_VAR = "EDA_LAKE_KAFKA_SASL_PASSWORD"  # the name; the secret stays in the env
KAFKA_SASL_PASSWORD_PREFIX = "EDA_LAKE_KAFKA_SASL_PASSWORD__"  # + hub: one secret per hub
KAFKA_TIMEOUT_VAR = "EDA_LAKE_KAFKA_TIMEOUT_SECONDS"
KAFKA_SECURITY_PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
KAFKA_SASL_MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "OAUTHBEARER")


@dataclass(frozen=True)
class AzureStorage:
    """One Azure Storage account for the lake: the same account, credentials and endpoint
    reach the capture files and the Delta tables.

    `capture_container`: where Event Hubs Capture writes (None: the local lake's capture/
    area). `lake_container`: where the Delta tables live (None: the local directory).
    `blob_authority` points at another endpoint than Azure's (host:port, plain HTTP), for
    Azurite. Without `account_key` the credential comes from the environment's identity.
    """

    account: str
    account_key: str | None = field(default=None, repr=False)
    blob_authority: str | None = None
    capture_container: str | None = None
    lake_container: str | None = None


@dataclass(frozen=True)
class AzureEventHubs:
    """An Event Hubs namespace (Standard or above) and its checkpoint storage.

    Credentials: Entra ID (the environment's identity) by default, or a hub-scoped SAS
    connection string per hub. Checkpoints live in a storage account of their own, reached
    by connection string or by account URL with Entra ID.
    """

    fully_qualified_namespace: str
    hub_connection_strings: dict[str, str] = field(default_factory=dict, repr=False)
    checkpoint_connection_string: str | None = field(default=None, repr=False)
    checkpoint_account_url: str | None = None
    checkpoint_container: str = "eventhub-checkpoints"


@dataclass(frozen=True)
class AzureDeploymentSettings:
    """Where `infra_scripts.provision` creates the Azure resources, and how it names them:
    `{environment}-eda-{resource}-{location}-{suffix}`."""

    subscription_id: str
    location: str
    environment: str
    suffix: str
    principals: dict[str, str] = field(default_factory=dict)  # team -> Entra object id


@dataclass(frozen=True)
class DiscoveryQueue:
    """The Storage Queue that Event Grid fills with CaptureFileCreated notifications."""

    name: str
    connection_string: str = field(repr=False)


@dataclass(frozen=True)
class KafkaSettings:
    """A Kafka cluster (or Event Hubs' Kafka endpoint) and how to sign in to it.

    `hub_passwords`: per-hub SASL passwords (Event Hubs: a hub-scoped connection string
    serves one hub only), used instead of `sasl_password` for that hub's topic. Secrets
    never appear in repr. `timeout_seconds` bounds every request: a cluster that does not
    answer within it is an error naming it, not a hang.
    """

    bootstrap_servers: str
    security_protocol: str = "PLAINTEXT"
    sasl_mechanism: str | None = None
    sasl_username: str | None = None
    sasl_password: str | None = field(default=None, repr=False)
    hub_passwords: dict[str, str] = field(default_factory=dict, repr=False)
    timeout_seconds: int = 30


@dataclass(frozen=True)
class Settings:
    """Where the embedded default keeps its state and which backend is in use."""

    home: Path
    target: Target = Target.LOCAL
    schema_dir: Path = REPO_ROOT / "schemas"
    namespace: str = "eda-lake-local"
    pii_key: str | None = field(default=None, repr=False)  # a secret: never printed
    capture_lateness_minutes: int = 120  # how far back the capture sensor looks
    storage: AzureStorage | None = None  # None: everything in the local directory
    discovery_queue: DiscoveryQueue | None = None  # None: no push discovery
    eventhubs: AzureEventHubs | None = None  # required with EDA_LAKE_TARGET=azure
    deployment: AzureDeploymentSettings | None = None  # for provisioning Azure
    broker: Broker = Broker.EMBEDDED  # the event backbone
    kafka: KafkaSettings | None = None  # required with EDA_LAKE_BROKER=kafka

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
            storage=_storage(env),
            discovery_queue=_discovery_queue(env),
            eventhubs=_eventhubs(env, target),
            deployment=_deployment(env),
            **_backbone(env, target),
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


def _storage(env: Mapping[str, str]) -> AzureStorage | None:
    account = env.get(STORAGE_ACCOUNT_VAR)
    containers = (env.get(CAPTURE_CONTAINER_VAR), env.get(LAKE_CONTAINER_VAR))
    if not account:
        if any(containers):
            raise SettingsError(
                f"{CAPTURE_CONTAINER_VAR} or {LAKE_CONTAINER_VAR} is set but "
                f"{STORAGE_ACCOUNT_VAR} is not: name the storage account that holds them"
            )
        return None
    return AzureStorage(
        account=account,
        account_key=env.get(STORAGE_KEY_VAR) or None,
        blob_authority=env.get(BLOB_AUTHORITY_VAR) or None,
        capture_container=containers[0] or None,
        lake_container=containers[1] or None,
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


def _eventhubs(env: Mapping[str, str], target: Target) -> AzureEventHubs | None:
    namespace = env.get(EVENTHUB_NAMESPACE_VAR)
    if not namespace:
        if target is Target.AZURE:
            raise SettingsError(
                f"{TARGET_VAR}=azure needs {EVENTHUB_NAMESPACE_VAR}, the namespace's fully "
                "qualified name (for example my-namespace.servicebus.windows.net)"
            )
        return None
    connections = {
        key[len(EVENTHUB_CONNECTION_PREFIX) :].lower().replace("_", "-"): value
        for key, value in env.items()
        if key.startswith(EVENTHUB_CONNECTION_PREFIX) and value
    }
    checkpoint_connection = env.get(CHECKPOINT_CONNECTION_VAR) or None
    checkpoint_url = env.get(CHECKPOINT_ACCOUNT_URL_VAR) or None
    if not (checkpoint_connection or checkpoint_url):
        raise SettingsError(
            f"{EVENTHUB_NAMESPACE_VAR} is set but neither {CHECKPOINT_CONNECTION_VAR} nor "
            f"{CHECKPOINT_ACCOUNT_URL_VAR}: name the storage account that keeps the consumer "
            "groups' checkpoints"
        )
    return AzureEventHubs(
        fully_qualified_namespace=namespace,
        hub_connection_strings=connections,
        checkpoint_connection_string=checkpoint_connection,
        checkpoint_account_url=checkpoint_url,
        checkpoint_container=env.get(CHECKPOINT_CONTAINER_VAR) or "eventhub-checkpoints",
    )


def _deployment(env: Mapping[str, str]) -> AzureDeploymentSettings | None:
    subscription = env.get(SUBSCRIPTION_VAR)
    if not subscription:
        return None
    missing = [v for v in (LOCATION_VAR, ENVIRONMENT_VAR, SUFFIX_VAR) if not env.get(v)]
    if missing:
        raise SettingsError(
            f"{SUBSCRIPTION_VAR} is set; provisioning also needs {', '.join(missing)} "
            "(location like westeurope, environment dv|qa|lv, a short unique suffix)"
        )
    return AzureDeploymentSettings(
        subscription_id=subscription,
        location=env[LOCATION_VAR],
        environment=env[ENVIRONMENT_VAR],
        suffix=env[SUFFIX_VAR],
        principals={
            key[len(PRINCIPAL_PREFIX) :].lower(): value
            for key, value in env.items()
            if key.startswith(PRINCIPAL_PREFIX) and value
        },
    )


# The event backbone: EDA_LAKE_BROKER and Kafka's variables. ---------------------------------


def _backbone(env: Mapping[str, str], target: Target) -> dict[str, Any]:
    """`broker` and `kafka` for Settings: unset, the broker follows the target as before."""
    default = Broker.EVENTHUBS if target is Target.AZURE else Broker.EMBEDDED
    raw = env.get(BROKER_VAR, "").strip().lower() or default.value
    try:
        broker = Broker(raw)
    except ValueError:
        choices = ", ".join(b.value for b in Broker)
        raise SettingsError(
            f"{BROKER_VAR}={raw!r} is not a known event backbone; set it to one of: {choices}"
        ) from None
    if broker is Broker.EVENTHUBS and not env.get(EVENTHUB_NAMESPACE_VAR):
        raise SettingsError(
            f"{BROKER_VAR}=eventhubs needs {EVENTHUB_NAMESPACE_VAR} (and checkpoint storage): "
            f"set them, or choose {BROKER_VAR}=embedded or kafka"
        )
    return {"broker": broker, "kafka": _kafka(env, broker)}


def _kafka(env: Mapping[str, str], broker: Broker) -> KafkaSettings | None:
    servers = env.get(KAFKA_BOOTSTRAP_VAR, "").strip()
    if not servers:
        if broker is Broker.KAFKA:
            raise SettingsError(
                f"{BROKER_VAR}=kafka needs {KAFKA_BOOTSTRAP_VAR}, the cluster's host:port list "
                "(for example 127.0.0.1:9092, or <namespace>.servicebus.windows.net:9093)"
            )
        return None
    protocol = env.get(KAFKA_SECURITY_PROTOCOL_VAR, "").strip().upper() or "PLAINTEXT"
    if protocol not in KAFKA_SECURITY_PROTOCOLS:
        raise SettingsError(
            f"{KAFKA_SECURITY_PROTOCOL_VAR}={protocol!r} is not one of "
            f"{', '.join(KAFKA_SECURITY_PROTOCOLS)}"
        )
    mechanism = env.get(KAFKA_SASL_MECHANISM_VAR, "").strip().upper() or None
    if mechanism is not None and mechanism not in KAFKA_SASL_MECHANISMS:
        raise SettingsError(
            f"{KAFKA_SASL_MECHANISM_VAR}={mechanism!r} is not one of "
            f"{', '.join(KAFKA_SASL_MECHANISMS)}"
        )
    hub_passwords = {
        key[len(KAFKA_SASL_PASSWORD_PREFIX) :].lower().replace("_", "-"): value
        for key, value in env.items()
        if key.startswith(KAFKA_SASL_PASSWORD_PREFIX) and value
    }
    password = env.get(KAFKA_SASL_PASSWORD_VAR) or None
    username = env.get(KAFKA_SASL_USERNAME_VAR) or None
    if protocol.startswith("SASL"):
        if mechanism is None:
            raise SettingsError(
                f"{KAFKA_SECURITY_PROTOCOL_VAR}={protocol} needs {KAFKA_SASL_MECHANISM_VAR} "
                "(PLAIN for Event Hubs' Kafka endpoint, OAUTHBEARER for Entra ID)"
            )
        if mechanism != "OAUTHBEARER" and not (username and (password or hub_passwords)):
            raise SettingsError(
                f"{KAFKA_SASL_MECHANISM_VAR}={mechanism} needs {KAFKA_SASL_USERNAME_VAR} and "
                f"{KAFKA_SASL_PASSWORD_VAR} (or {KAFKA_SASL_PASSWORD_PREFIX}<HUB> per hub; "
                "Event Hubs: user $ConnectionString, the password a connection string)"
            )
    elif mechanism or username or password or hub_passwords:
        raise SettingsError(
            f"SASL variables are set but {KAFKA_SECURITY_PROTOCOL_VAR}={protocol}: set it to "
            "SASL_SSL (or SASL_PLAINTEXT), or unset the SASL variables"
        )
    return KafkaSettings(
        bootstrap_servers=servers,
        security_protocol=protocol,
        sasl_mechanism=mechanism,
        sasl_username=username,
        sasl_password=password,
        hub_passwords=hub_passwords,
        timeout_seconds=_positive_int(env, KAFKA_TIMEOUT_VAR, 30),
    )
