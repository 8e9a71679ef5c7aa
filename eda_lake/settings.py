"""The one place that reads the environment.

Every variable is declared once, in `VARIABLES`, as the runtime's or provisioning's:
`Settings.from_env` reads the runtime's through that table and
`AzureDeploymentSettings.from_env` provisioning's, neither the other's; `settings_variables`
and `deployment_variables` write each back into the variables that reproduce it. Every other
module receives a `Settings` (or the values it holds); nothing else calls `os.environ`.
Dagster resources get the same variables through `EnvVar`, see `eda_lake.defs.resources`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, Self, TypeVar
from urllib.parse import unquote, urlsplit

from eda_lake.shared import names
from eda_lake.shared.errors import UserError
from eda_lake.shared.key_vault import is_reference, resolved

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


class SettingsError(UserError, ValueError):
    """A variable of the environment holds a value that cannot be used."""


# Names of the variables, so that documentation, Dagster's EnvVar and this module agree.
HOME_VAR = "EDA_LAKE_HOME"
TARGET_VAR = "EDA_LAKE_TARGET"
SCHEMA_DIR_VAR = "EDA_LAKE_SCHEMA_DIR"
CATALOGUE_FILE_VAR = "EDA_LAKE_CATALOGUE_FILE"
NAMESPACE_VAR = "EDA_LAKE_NAMESPACE"
LATENESS_VAR = "EDA_LAKE_CAPTURE_LATENESS_MINUTES"
FILES_PER_RUN_VAR = "EDA_LAKE_FILES_PER_RUN"
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
ALERT_EMAILS_VAR = "EDA_LAKE_ALERT_EMAILS"
MAX_THROUGHPUT_UNITS_VAR = "EDA_LAKE_MAX_THROUGHPUT_UNITS"
STORAGE_SKU_VAR = "EDA_LAKE_STORAGE_SKU"
# What Azure allows, and the deployment's defaults: one source for the variables' table, their
# checks and the provisioning code's own defaults.
MAX_THROUGHPUT_UNITS = 40  # the most a Standard namespace can inflate to
DEFAULT_MAX_THROUGHPUT_UNITS = 10
DEFAULT_STORAGE_SKU = "Standard_ZRS"
LOG_RETENTION_DAYS = (30, 730)  # PerGB2018's interactive retention
DEFAULT_LOG_RETENTION_DAYS = 30  # PerGB2018 includes 31 days at no retention charge
STORAGE_SKUS = ("Standard_LRS", "Standard_ZRS", "Standard_GRS", "Standard_GZRS",
                "Standard_RAGRS", "Standard_RAGZRS")  # fmt: skip
SHARED_KEY_ACCESS_VAR = "EDA_LAKE_SHARED_KEY_ACCESS"
LOG_RETENTION_VAR = "EDA_LAKE_LOG_RETENTION_DAYS"
# An address an action group can send to: a plain local part and a dotted domain, nothing a
# shell, a mail header or a comment line could read otherwise.
EMAIL_ADDRESS = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
# What an Azure plan made offline (no sign-in, nothing read) shows where the subscription goes.
UNNAMED_SUBSCRIPTION = "<subscription>"
# The family's member for the identity the Dagster pods run as (the code location, the daemon,
# the webserver and the run pods), not a team: EDA_LAKE_PRINCIPAL__LAKE.
LAKE_PRINCIPAL = "lake"
QUEUE_CONNECTION_VAR = "EDA_LAKE_QUEUE_CONNECTION_STRING"
PII_KEY_VAR = "EDA_LAKE_PII_KEY"  # the name of the variable, never the key itself
DAGSTER_HOME_VAR = "DAGSTER_HOME"  # Dagster's own: the instance the UI and `eda-lake demo` share
MAX_EVENT_VAR = "EDA_LAKE_MAX_EVENT_MIB"
DEFAULT_MAX_EVENT_MIB = 64
# Arrow's binary columns and Parquet's pages count bytes in 32 bits: one event must stay
# under 2 GiB.
MAX_MAX_EVENT_MIB = 2047


# Traces and metrics (eda_lake.telemetry): OpenTelemetry's own variables, and Azure Monitor's.
OTLP_ENDPOINT_VAR = "OTEL_EXPORTER_OTLP_ENDPOINT"
OTLP_TRACES_ENDPOINT_VAR = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"
OTLP_METRICS_ENDPOINT_VAR = "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT"
OTEL_DISABLED_VAR = "OTEL_SDK_DISABLED"
OTEL_SERVICE_NAME_VAR = "OTEL_SERVICE_NAME"
OTEL_RESOURCE_ATTRIBUTES_VAR = "OTEL_RESOURCE_ATTRIBUTES"
APPINSIGHTS_CONNECTION_VAR = "APPLICATIONINSIGHTS_CONNECTION_STRING"  # the name; a secret
DEFAULT_SERVICE_NAME = "eda-lake"


# The event backbone and Kafka's client settings.
BROKER_VAR = "EDA_LAKE_BROKER"
KAFKA_BOOTSTRAP_VAR = "EDA_LAKE_KAFKA_BOOTSTRAP_SERVERS"
KAFKA_SECURITY_PROTOCOL_VAR = "EDA_LAKE_KAFKA_SECURITY_PROTOCOL"
KAFKA_SASL_MECHANISM_VAR = "EDA_LAKE_KAFKA_SASL_MECHANISM"
KAFKA_SASL_USERNAME_VAR = "EDA_LAKE_KAFKA_SASL_USERNAME"
KAFKA_SASL_PASSWORD_VAR = "EDA_LAKE_KAFKA_SASL_PASSWORD"  # the name; the secret stays in the env
KAFKA_SASL_PASSWORD_PREFIX = "EDA_LAKE_KAFKA_SASL_PASSWORD__"  # + hub: one secret per hub
KAFKA_TIMEOUT_VAR = "EDA_LAKE_KAFKA_TIMEOUT_SECONDS"
KAFKA_COMPRESSION_VAR = "EDA_LAKE_KAFKA_COMPRESSION"
KAFKA_COMPRESSIONS = ("none", "gzip", "snappy", "lz4", "zstd")
EVENT_HUBS_KAFKA_HOST = ".servicebus."  # .windows.net, and the national clouds' domains
KAFKA_SECURITY_PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
KAFKA_SASL_MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "OAUTHBEARER")


# What a variable holds in a Settings, as the text the variable would hold (None: unset); a
# family's members by their suffix.
Rendered = str | dict[str, str] | None


@dataclass(frozen=True)
class Variable:
    """One variable of the environment that eda-lake reads.

    `of`: its value in the settings of its side, a `Settings` (an `AzureDeploymentSettings`
    for provisioning's), as the text `from_env` reads back into the same settings (None:
    unset). `default`: what an unset variable means (one set to nothing is refused), as the
    text it would hold; "" for none. `secret`: its value never leaves the environment
    (Dagster gets an EnvVar, so the UI shows the name). `family`: the name is a prefix, one
    variable per hub or team. `integer`: a whole number (Dagster's config shows it as an Int).
    `provisioning`: read only to create the Azure resources (`AzureDeploymentSettings`),
    never by the runtime (`Settings`).
    """

    name: str
    description: str
    of: Callable[[Any], Rendered]
    default: str = ""
    secret: bool = False
    family: bool = False
    integer: bool = False
    provisioning: bool = False

    def covers(self, name: str) -> bool:
        return name.startswith(self.name) if self.family else name == self.name


def _hub_suffixes(by_hub: Mapping[str, str]) -> dict[str, str]:
    """customer-created -> CUSTOMER_CREATED: a family member's suffix for a hub."""
    return {hub.upper().replace("-", "_"): value for hub, value in by_hub.items()}


# Every variable `Settings.from_env` reads, and so everything the Dagster resource passes on:
# a variable missing here is refused by `from_env` the first time it is read.
VARIABLES: tuple[Variable, ...] = (
    Variable(
        HOME_VAR,
        "where the embedded default keeps its state",
        of=lambda s: str(s.home),
        default=".eda_lake",
    ),
    Variable(
        TARGET_VAR,
        "the backend: local (embedded) or azure",
        of=lambda s: s.target.value,
        default="local",
    ),
    Variable(
        SCHEMA_DIR_VAR,
        "catalogue.toml and the .avsc schemas",
        of=lambda s: str(s.schema_dir),
        default=str(REPO_ROOT / "schemas"),
    ),
    Variable(
        CATALOGUE_FILE_VAR,
        "the catalogue file in EDA_LAKE_SCHEMA_DIR: catalogue.toml (a hub per event) or "
        "catalogue-per-aggregate.toml (a hub per aggregate)",
        of=lambda s: s.catalogue_file,
        default=names.CATALOGUE_FILE,
    ),
    Variable(
        NAMESPACE_VAR,
        "the embedded hub's namespace",
        of=lambda s: s.namespace,
        default="eda-lake-local",
    ),
    Variable(
        LATENESS_VAR,
        "how far back (minutes) the capture sensor and `eda-lake status` look",
        of=lambda s: str(s.capture_lateness_minutes),
        default="120",
        integer=True,
    ),
    Variable(
        FILES_PER_RUN_VAR,
        "the most capture files one ingestion run from a sensor takes (fewer: more runs at "
        "once, as the run queue allows)",
        of=lambda s: str(s.files_per_run),
        default="500",
        integer=True,
    ),
    Variable(
        STORAGE_ACCOUNT_VAR,
        "the Azure Storage account of the lake and Capture",
        of=lambda s: s.storage.account if s.storage else None,
    ),
    Variable(
        STORAGE_KEY_VAR,
        "that account's key (else Entra ID)",
        of=lambda s: s.storage.account_key if s.storage else None,
        secret=True,
    ),
    Variable(
        BLOB_AUTHORITY_VAR,
        "another Blob endpoint (host:port, plain HTTP): Azurite",
        of=lambda s: s.storage.blob_authority if s.storage else None,
    ),
    Variable(
        CAPTURE_CONTAINER_VAR,
        "the container Event Hubs Capture writes into",
        of=lambda s: s.storage.capture_container if s.storage else None,
    ),
    Variable(
        LAKE_CONTAINER_VAR,
        "the container of the Delta tables",
        of=lambda s: s.storage.lake_container if s.storage else None,
    ),
    Variable(
        EVENTHUB_NAMESPACE_VAR,
        "the Event Hubs namespace's fully qualified name",
        of=lambda s: s.eventhubs.fully_qualified_namespace if s.eventhubs else None,
    ),
    Variable(
        EVENTHUB_CONNECTION_PREFIX,
        "a hub-scoped SAS connection string per hub (else Entra ID)",
        of=lambda s: _hub_suffixes(s.eventhubs.hub_connection_strings) if s.eventhubs else None,
        secret=True,
        family=True,
    ),
    Variable(
        CHECKPOINT_CONNECTION_VAR,
        "the checkpoint store's connection string",
        of=lambda s: s.eventhubs.checkpoint_connection_string if s.eventhubs else None,
        secret=True,
    ),
    Variable(
        CHECKPOINT_ACCOUNT_URL_VAR,
        "the checkpoint store's account URL (Entra ID)",
        of=lambda s: s.eventhubs.checkpoint_account_url if s.eventhubs else None,
    ),
    Variable(
        CHECKPOINT_CONTAINER_VAR,
        "the checkpoints' container",
        of=lambda s: s.eventhubs.checkpoint_container if s.eventhubs else None,
        default="eventhub-checkpoints",
    ),
    Variable(
        QUEUE_VAR,
        "the Storage Queue of CaptureFileCreated notifications",
        of=lambda s: s.discovery_queue.name if s.discovery_queue else None,
    ),
    Variable(
        QUEUE_CONNECTION_VAR,
        "that queue's connection string",
        of=lambda s: s.discovery_queue.connection_string if s.discovery_queue else None,
        secret=True,
    ),
    Variable(
        SUBSCRIPTION_VAR,
        "the Azure subscription to provision in",
        of=lambda d: d.subscription_id,
        provisioning=True,
    ),
    Variable(
        LOCATION_VAR,
        "the Azure region to provision in",
        of=lambda d: d.location,
        provisioning=True,
    ),
    Variable(
        ENVIRONMENT_VAR,
        "dv, qa or lv: part of every Azure name",
        of=lambda d: d.environment,
        provisioning=True,
    ),
    Variable(
        SUFFIX_VAR,
        "a short unique suffix of every Azure name",
        of=lambda d: d.suffix,
        provisioning=True,
    ),
    Variable(
        PRINCIPAL_PREFIX,
        "a team's Entra object id, per team; __LAKE: the Dagster pods' workload identity's",
        of=lambda d: {name.upper(): value for name, value in d.identities().items()},
        family=True,
        provisioning=True,
    ),
    Variable(
        ALERT_EMAILS_VAR,
        "comma-separated e-mail addresses the alerts notify (unset: alerts fire, unsent)",
        of=lambda d: ",".join(d.alert_emails),
        provisioning=True,
    ),
    Variable(
        MAX_THROUGHPUT_UNITS_VAR,
        "the most throughput units the namespace's auto-inflate may reach",
        of=lambda d: str(d.max_throughput_units),
        default=str(DEFAULT_MAX_THROUGHPUT_UNITS),
        integer=True,
        provisioning=True,
    ),
    Variable(
        STORAGE_SKU_VAR,
        f"both storage accounts' redundancy: {', '.join(STORAGE_SKUS)}",
        of=lambda d: d.storage_sku,
        default=DEFAULT_STORAGE_SKU,
        provisioning=True,
    ),
    Variable(
        SHARED_KEY_ACCESS_VAR,
        "on or off: storage account keys (default: off with EDA_LAKE_PRINCIPAL__LAKE, "
        "whose Entra ID needs none; on without it)",
        of=lambda d: (
            None if d.shared_key_access is None else ("on" if d.shared_key_access else "off")
        ),
        provisioning=True,
    ),
    Variable(
        LOG_RETENTION_VAR,
        "days the Log Analytics workspace keeps logs and metrics",
        of=lambda d: str(d.log_retention_days),
        default=str(DEFAULT_LOG_RETENTION_DAYS),
        integer=True,
        provisioning=True,
    ),
    Variable(
        PII_KEY_VAR,
        "the key that masks personal fields",
        of=lambda s: s.pii_key,
        secret=True,
    ),
    Variable(
        BROKER_VAR,
        "the event backbone: embedded, eventhubs or kafka (default: by target)",
        of=lambda s: s.broker.value,
    ),
    Variable(
        KAFKA_BOOTSTRAP_VAR,
        "the Kafka cluster's host:port list",
        of=lambda s: s.kafka.bootstrap_servers if s.kafka else None,
    ),
    Variable(
        KAFKA_SECURITY_PROTOCOL_VAR,
        "PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL",
        of=lambda s: s.kafka.security_protocol if s.kafka else None,
    ),
    Variable(
        KAFKA_SASL_MECHANISM_VAR,
        "PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 or OAUTHBEARER",
        of=lambda s: s.kafka.sasl_mechanism if s.kafka else None,
    ),
    Variable(
        KAFKA_SASL_USERNAME_VAR,
        "the SASL user ($ConnectionString for Event Hubs)",
        of=lambda s: s.kafka.sasl_username if s.kafka else None,
    ),
    Variable(
        KAFKA_SASL_PASSWORD_VAR,
        "the SASL password",
        of=lambda s: s.kafka.sasl_password if s.kafka else None,
        secret=True,
    ),
    Variable(
        KAFKA_SASL_PASSWORD_PREFIX,
        "a SASL password per hub",
        of=lambda s: _hub_suffixes(s.kafka.hub_passwords) if s.kafka else None,
        secret=True,
        family=True,
    ),
    Variable(
        KAFKA_TIMEOUT_VAR,
        "seconds any Kafka request may take",
        of=lambda s: str(s.kafka.timeout_seconds) if s.kafka else None,
        default="30",
        integer=True,
    ),
    Variable(
        KAFKA_COMPRESSION_VAR,
        "how the producer compresses batches: none, gzip, snappy, lz4 or zstd "
        "(default: lz4; none on Event Hubs' Kafka endpoint, *.servicebus.*)",
        of=lambda s: s.kafka.compression if s.kafka else None,
    ),
    Variable(
        OTLP_ENDPOINT_VAR,
        "an OTLP/HTTP collector's base URL (traces to /v1/traces, metrics to /v1/metrics): "
        "telemetry on",
        of=lambda s: s.telemetry.otlp_endpoint,
    ),
    Variable(
        OTLP_TRACES_ENDPOINT_VAR,
        "the OTLP/HTTP URL for traces alone (instead of the base URL's /v1/traces)",
        of=lambda s: s.telemetry.otlp_traces_endpoint,
    ),
    Variable(
        OTLP_METRICS_ENDPOINT_VAR,
        "the OTLP/HTTP URL for metrics alone (instead of the base URL's /v1/metrics)",
        of=lambda s: s.telemetry.otlp_metrics_endpoint,
    ),
    Variable(
        APPINSIGHTS_CONNECTION_VAR,
        "an Application Insights connection string: traces and metrics to Azure Monitor",
        of=lambda s: s.telemetry.azure_monitor_connection_string,
        secret=True,
    ),
    Variable(
        OTEL_DISABLED_VAR,
        "true: no traces or metrics, whatever else is set",
        of=lambda s: "true" if s.telemetry.disabled else None,
        default="false",
    ),
    Variable(
        OTEL_SERVICE_NAME_VAR,
        "the service name traces and metrics carry",
        of=lambda s: s.telemetry.service_name,
        default=DEFAULT_SERVICE_NAME,
    ),
    Variable(
        OTEL_RESOURCE_ATTRIBUTES_VAR,
        "key=value,... attributes every span and metric carries (deployment.environment=qa)",
        of=lambda s: s.telemetry.resource_attributes,
    ),
    Variable(
        DAGSTER_HOME_VAR,
        "Dagster's instance directory (default: $EDA_LAKE_HOME/dagster_home)",
        of=lambda s: str(s.dagster_instance) if s.dagster_instance else None,
    ),
    Variable(
        MAX_EVENT_VAR,
        f"the largest capture event (MiB, at most {MAX_MAX_EVENT_MIB}) bronze lands; a file "
        "holding a larger one is quarantined",
        of=lambda s: str(s.max_event_mib),
        default=str(DEFAULT_MAX_EVENT_MIB),
        integer=True,
    ),
)


def variable(name: str) -> Variable:
    """The table's entry for a variable (or the family it belongs to)."""
    for known in VARIABLES:
        if known.covers(name):
            return known
    raise KeyError(f"{name} is not in eda_lake.settings.VARIABLES: add it there")


def declared(name: str) -> bool:
    """Whether the table declares the variable (or the family it belongs to)."""
    return any(known.covers(name) for known in VARIABLES)


def configured_variables(
    environ: Mapping[str, str] | None = None,
) -> dict[str, tuple[Variable, str]]:
    """The variables of the table that the environment sets (members of families included),
    each with its entry and value: what the Dagster resource passes on, secrets by name."""
    env = os.environ if environ is None else environ
    return {
        name: (known, value)
        for name, value in sorted(env.items())
        if value
        for known in VARIABLES
        if known.covers(name)
    }


def settings_variables(settings: Settings) -> dict[str, str]:
    """The variables that `Settings.from_env` reads back into these settings, by the table:
    what a process or a Dagster run that is to hold them is given (secrets included)."""
    return _variables_of(settings, provisioning=False)


def deployment_variables(deployment: AzureDeploymentSettings) -> dict[str, str]:
    """The variables that `AzureDeploymentSettings.from_env` reads back into `deployment`."""
    return _variables_of(deployment, provisioning=True)


def _variables_of(
    settings: Settings | AzureDeploymentSettings, *, provisioning: bool
) -> dict[str, str]:
    environment: dict[str, str] = {}
    for known in VARIABLES:
        if known.provisioning != provisioning:
            continue
        value = known.of(settings)
        if isinstance(value, dict):
            environment |= {known.name + suffix: v for suffix, v in value.items() if v}
        elif value:
            environment[known.name] = value
    return environment


class _Environment:
    """The environment as one side's `from_env` reads it: only the table's variables of that
    side (the runtime's, or with `provisioning` provisioning's), their defaults applied, so
    that nothing is read that the Dagster resource would not pass on."""

    def __init__(self, env: Mapping[str, str], *, provisioning: bool = False) -> None:
        self._env = env
        self._provisioning = provisioning
        # Every variable of the side, read or not by these settings: a variable set to
        # nothing (or only blanks) is a mistake, a line of a .env file cut short or a secret
        # store that answered nothing, where an unset one means its default; a Key Vault
        # reference is read for a secret only.
        for name, value in env.items():
            if not declared(name) or variable(name).provisioning != self._provisioning:
                continue
            if not value.strip():
                default = variable(name).default
                raise SettingsError(
                    f"{name} is set but {'blank' if value else 'empty'}: give it a value, or "
                    f"unset it for {f'the default, {default}' if default else 'none'}"
                )
            if is_reference(value) and not variable(name).secret:
                raise SettingsError(
                    f"{name} holds a Key Vault reference, but only secret variables are read "
                    f"from Key Vault: set {name} to its value"
                )

    def _known(self, name: str) -> Variable:
        """The table's entry for `name`, refused when it is outside the table or the other
        side's, set or not."""
        known = variable(name)
        if known.provisioning != self._provisioning:
            reader = "the runtime" if self._provisioning else "provisioning"
            raise KeyError(f"{name} is read by {reader} alone (its Variable's `provisioning`)")
        return known

    def get(self, name: str) -> str:
        """The variable's value (a secret's Key Vault reference: the secret it names), else
        the table's default, else "" (unset)."""
        known = self._known(name)  # refused when not this side's, set or not
        return resolved(name, self._env.get(name) or known.default)

    def family(self, prefix: str) -> dict[str, str]:
        """Suffix -> value of every set member of a family."""
        if not self._known(prefix).family:
            raise KeyError(f"{prefix} is no family of eda_lake.settings.VARIABLES")
        return {
            key[len(prefix) :]: resolved(key, value)
            for key, value in self._env.items()
            if key.startswith(prefix)
        }


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
    """Where provisioning creates the Azure resources, and how it names them:
    `{environment}-eda-{resource}-{location}-{suffix}`: provisioning's own settings, which
    the runtime never reads."""

    subscription_id: str
    location: str
    environment: str
    suffix: str
    principals: dict[str, str] = field(default_factory=dict)  # team -> Entra object id
    lake_principal: str | None = None  # the Dagster pods' workload identity's object id
    alert_emails: tuple[str, ...] = ()
    max_throughput_units: int = DEFAULT_MAX_THROUGHPUT_UNITS
    storage_sku: str = DEFAULT_STORAGE_SKU
    shared_key_access: bool | None = None  # None: off with the lake's Entra ID, else on
    log_retention_days: int = DEFAULT_LOG_RETENTION_DAYS

    @property
    def shared_keys(self) -> bool:
        """Do the storage accounts accept shared keys (else Entra ID only)? Unset: not when
        the lake signs in with Entra ID, which needs none."""
        if self.shared_key_access is None:
            return self.lake_principal is None
        return self.shared_key_access

    def identities(self) -> dict[str, str]:
        """Every Entra object id given, by the suffix of its variable (lower case)."""
        lake = {LAKE_PRINCIPAL: self.lake_principal} if self.lake_principal else {}
        return {**self.principals, **lake}

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, *, offline: bool = False) -> Self:
        """Provisioning's variables of the table; every missing one named at once.
        `offline`: for a plan that signs in nowhere, which needs the names alone (the
        subscription shows as `UNNAMED_SUBSCRIPTION`)."""
        env = _Environment(os.environ if environ is None else environ, provisioning=True)
        required = (LOCATION_VAR, ENVIRONMENT_VAR, SUFFIX_VAR)
        meaning = {
            SUBSCRIPTION_VAR: "its id",
            LOCATION_VAR: "like westeurope",
            ENVIRONMENT_VAR: "dv, qa or lv",
            SUFFIX_VAR: "2-8 lower-case letters and digits",
        }
        missing = [v for v in ((() if offline else (SUBSCRIPTION_VAR,)) + required)
                   if not env.get(v)]  # fmt: skip
        if missing:
            raise SettingsError(
                f"provisioning Azure needs {', '.join(f'{v} ({meaning[v]})' for v in missing)}: "
                "see README, 'Run it against Azure'"
            )
        principals = {name.lower(): value for name, value in env.family(PRINCIPAL_PREFIX).items()}
        emails = tuple(e.strip() for e in env.get(ALERT_EMAILS_VAR).split(",") if e.strip())
        for email in emails:
            if not EMAIL_ADDRESS.fullmatch(email):
                raise SettingsError(
                    f"{ALERT_EMAILS_VAR}: {email!r} is no e-mail address; separate addresses "
                    "with commas"
                )
        shared_keys = env.get(SHARED_KEY_ACCESS_VAR).strip().lower()
        if shared_keys not in ("", "on", "off"):
            raise SettingsError(f"{SHARED_KEY_ACCESS_VAR}={shared_keys!r}: set it to on or off")
        sku = env.get(STORAGE_SKU_VAR)
        if sku not in STORAGE_SKUS:
            raise SettingsError(
                f"{STORAGE_SKU_VAR}={sku!r}: set it to one of {', '.join(STORAGE_SKUS)}"
            )
        return cls(
            subscription_id=env.get(SUBSCRIPTION_VAR) or UNNAMED_SUBSCRIPTION,
            location=env.get(LOCATION_VAR),
            environment=env.get(ENVIRONMENT_VAR),
            suffix=env.get(SUFFIX_VAR),
            lake_principal=principals.pop(LAKE_PRINCIPAL, None),
            principals=principals,
            alert_emails=emails,
            max_throughput_units=_bounded_int(
                env,
                MAX_THROUGHPUT_UNITS_VAR,
                2,
                MAX_THROUGHPUT_UNITS,
                "a Standard namespace of 1 throughput unit allows auto-inflate",
            ),
            storage_sku=sku,
            shared_key_access=None if not shared_keys else shared_keys == "on",
            log_retention_days=_bounded_int(
                env, LOG_RETENTION_VAR, *LOG_RETENTION_DAYS, "Log Analytics"
            ),
        )


@dataclass(frozen=True)
class DiscoveryQueue:
    """The Storage Queue that Event Grid fills with CaptureFileCreated notifications: reached
    with its connection string, or else with Entra ID (the environment's identity) at
    `account_url`, the lake account's queue endpoint."""

    name: str
    connection_string: str | None = field(default=None, repr=False)
    account_url: str | None = None


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
    compression: str = "lz4"


@dataclass(frozen=True)
class TelemetrySettings:
    """Where traces and metrics go: an OTLP/HTTP collector (the base URL, or a URL per
    signal), Azure Monitor (a connection string, a secret never printed), both, or nowhere.
    Off unless an exporter is named, and always off with `disabled` (OTEL_SDK_DISABLED)."""

    otlp_endpoint: str | None = None
    otlp_traces_endpoint: str | None = None
    otlp_metrics_endpoint: str | None = None
    azure_monitor_connection_string: str | None = field(default=None, repr=False)
    disabled: bool = False
    service_name: str = DEFAULT_SERVICE_NAME
    resource_attributes: str | None = None  # OTEL_RESOURCE_ATTRIBUTES' text: key=value,...

    @property
    def traces_endpoint(self) -> str | None:
        """The OTLP URL spans are sent to, as OpenTelemetry's variables define it."""
        return self.otlp_traces_endpoint or _signal_url(self.otlp_endpoint, "traces")

    @property
    def metrics_endpoint(self) -> str | None:
        return self.otlp_metrics_endpoint or _signal_url(self.otlp_endpoint, "metrics")

    @property
    def enabled(self) -> bool:
        exporters = (self.traces_endpoint, self.metrics_endpoint)
        return not self.disabled and bool(any(exporters) or self.azure_monitor_connection_string)

    def resource(self) -> dict[str, str]:
        """The resource's attributes: OTEL_RESOURCE_ATTRIBUTES', then the service name."""
        return {**resource_attributes(self.resource_attributes), "service.name": self.service_name}


def _signal_url(base: str | None, signal: str) -> str | None:
    return f"{base.rstrip('/')}/v1/{signal}" if base else None


def resource_attributes(text: str | None) -> dict[str, str]:
    """OTEL_RESOURCE_ATTRIBUTES' `key=value,...` (values percent-encoded), as the W3C Baggage
    format OpenTelemetry specifies it; SettingsError names a member that is no key=value."""
    attributes: dict[str, str] = {}
    for member in (text or "").split(","):
        if not member.strip():
            continue
        key, equals, value = member.partition("=")
        if not equals or not key.strip():
            raise SettingsError(
                f"{OTEL_RESOURCE_ATTRIBUTES_VAR}: {member.strip()!r} is no key=value; write "
                "comma-separated key=value pairs, such as deployment.environment=qa"
            )
        attributes[key.strip()] = unquote(value.strip())
    return attributes


@dataclass(frozen=True)
class Settings:
    """Where the embedded default keeps its state and which backend is in use."""

    home: Path
    target: Target = Target.LOCAL
    schema_dir: Path = REPO_ROOT / "schemas"
    catalogue_file: str = names.CATALOGUE_FILE  # in schema_dir
    namespace: str = "eda-lake-local"
    pii_key: str | None = field(default=None, repr=False)  # a secret: never printed
    capture_lateness_minutes: int = 120  # how far back the capture sensor looks
    files_per_run: int = 500  # the most capture files a sensor's run takes
    storage: AzureStorage | None = None  # None: everything in the local directory
    discovery_queue: DiscoveryQueue | None = None  # None: no push discovery
    eventhubs: AzureEventHubs | None = None  # required with EDA_LAKE_TARGET=azure
    dagster_instance: Path | None = None  # None: home/dagster_home
    broker: Broker = Broker.EMBEDDED  # the event backbone
    kafka: KafkaSettings | None = None  # required with EDA_LAKE_BROKER=kafka
    max_event_mib: int = DEFAULT_MAX_EVENT_MIB  # a larger capture event quarantines its file
    telemetry: TelemetrySettings = field(default_factory=TelemetrySettings)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = _Environment(os.environ if environ is None else environ)
        target = _target(env)
        storage = _storage(env)
        return cls(
            home=_directory(env, HOME_VAR),
            target=target,
            schema_dir=_schema_dir(env),
            catalogue_file=_catalogue_file(env),
            namespace=env.get(NAMESPACE_VAR),
            pii_key=env.get(PII_KEY_VAR) or None,
            capture_lateness_minutes=_positive_int(env, LATENESS_VAR),
            files_per_run=_positive_int(env, FILES_PER_RUN_VAR),
            storage=storage,
            discovery_queue=_discovery_queue(env, storage),
            eventhubs=_eventhubs(env, target),
            dagster_instance=(
                _directory(env, DAGSTER_HOME_VAR) if env.get(DAGSTER_HOME_VAR) else None
            ),
            max_event_mib=_max_event_mib(env),
            telemetry=_telemetry(env),
            **_backbone(env, target),
        )

    @property
    def max_event_bytes(self) -> int:
        return self.max_event_mib << 20

    @property
    def dagster_home(self) -> Path:
        """Where Dagster keeps runs and materializations: DAGSTER_HOME, else in the home."""
        return self.dagster_instance or self.home / "dagster_home"

    @property
    def dagster_home_variable(self) -> str:
        """The variable that places `dagster_home`, for an error about that folder to name."""
        return DAGSTER_HOME_VAR if self.dagster_instance else HOME_VAR

    @property
    def lake_dir(self) -> Path:
        return self.home / "lake"

    @property
    def capture_dir(self) -> Path:
        """Where eda-lake's own capture (the embedded hub's or Kafka's) writes its files, in
        the lake folder as Azure's capture container would hold them."""
        return self.lake_dir / "capture"

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


def catalogue_from_env(environ: Mapping[str, str] | None = None) -> tuple[Path, str]:
    """The catalogue's folder and file alone: what reads only the catalogue (its listing,
    the data dictionary) needs no usable home."""
    env = _Environment(os.environ if environ is None else environ)
    return _schema_dir(env), _catalogue_file(env)


def target_from_env(environ: Mapping[str, str] | None = None) -> Target:
    """The target alone: what provisions Azure reads none of the runtime's other variables
    (they name resources it may not have made yet)."""
    return _target(_Environment(os.environ if environ is None else environ))


def _target(env: _Environment) -> Target:
    return _member(Target, TARGET_VAR, env.get(TARGET_VAR).strip().lower(), "target")


def _schema_dir(env: _Environment) -> Path:
    return Path(env.get(SCHEMA_DIR_VAR)).resolve()


def _catalogue_file(env: _Environment) -> str:
    try:
        return names.catalogue_file_name(env.get(CATALOGUE_FILE_VAR))
    except names.InvalidNameError as exc:
        raise SettingsError(f"{CATALOGUE_FILE_VAR}: {exc}") from None


def _directory(env: _Environment, name: str) -> Path:
    """The variable's directory, one that is or can be made: refused when a file stands at
    it or at one of its parents (its state would be written into, or beside, that file)."""
    directory = Path(env.get(name)).resolve()
    existing = next(p for p in (directory, *directory.parents) if os.path.lexists(p))
    if not existing.is_dir():
        where = "is" if existing == directory else f"lies under {existing},"
        raise SettingsError(
            f"{name}={directory} {where} a file, not a directory: point {name} at a "
            "directory (a missing one is created)"
        )
    return directory


def _positive_int(env: _Environment, name: str) -> int:
    raw = env.get(name)
    try:
        value = int(raw)
    except ValueError:
        value = -1
    if value <= 0:
        raise SettingsError(f"{name}={raw!r} must be a positive whole number")
    return value


def _bounded_int(env: _Environment, name: str, low: int, high: int, whose: str) -> int:
    value = _positive_int(env, name)
    if not low <= value <= high:
        raise SettingsError(f"{name}={value} must be from {low} to {high}, as {whose} allows")
    return value


def _max_event_mib(env: _Environment) -> int:
    value = _positive_int(env, MAX_EVENT_VAR)
    if value > MAX_MAX_EVENT_MIB:
        raise SettingsError(
            f"{MAX_EVENT_VAR}={value} must be at most {MAX_MAX_EVENT_MIB}: Arrow and Parquet "
            "hold one value in under 2 GiB"
        )
    return value


def _storage(env: _Environment) -> AzureStorage | None:
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


def _discovery_queue(env: _Environment, storage: AzureStorage | None) -> DiscoveryQueue | None:
    """The queue by its connection string, or else in the lake's account with Entra ID, as
    the lake's blobs are reached without a key (Azurite's and a keyed account's queues need
    the connection string)."""
    name = env.get(QUEUE_VAR)
    if not name:
        return None
    connection = env.get(QUEUE_CONNECTION_VAR)
    if connection:
        return DiscoveryQueue(name=name, connection_string=connection)
    if storage is None or storage.account_key or storage.blob_authority:
        raise SettingsError(
            f"{QUEUE_VAR}={name!r} is set but {QUEUE_CONNECTION_VAR} is not: set the queue's "
            f"connection string (from your secret store), or reach it with Entra ID in the "
            f"lake's account ({STORAGE_ACCOUNT_VAR} without {STORAGE_KEY_VAR} or "
            f"{BLOB_AUTHORITY_VAR}), or unset the queue name"
        )
    return DiscoveryQueue(
        name=name, account_url=f"https://{storage.account}.queue.core.windows.net"
    )


def _eventhubs(env: _Environment, target: Target) -> AzureEventHubs | None:
    namespace = env.get(EVENTHUB_NAMESPACE_VAR)
    if not namespace:
        if target is Target.AZURE:
            raise SettingsError(
                f"{TARGET_VAR}=azure needs {EVENTHUB_NAMESPACE_VAR}, the namespace's fully "
                "qualified name (for example my-namespace.servicebus.windows.net)"
            )
        return None
    connections = {
        hub.lower().replace("_", "-"): value
        for hub, value in env.family(EVENTHUB_CONNECTION_PREFIX).items()
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
        checkpoint_container=env.get(CHECKPOINT_CONTAINER_VAR),
    )


# Traces and metrics: OpenTelemetry's variables and Azure Monitor's. --------------------------

# What a connection string holds, as the Azure portal shows it (`InstrumentationKey=...;
# IngestionEndpoint=https://...;LiveEndpoint=...`): the key is required, an endpoint a URL.
_INSTRUMENTATION_KEY = "instrumentationkey"
_CONNECTION_ENDPOINTS = {"ingestionendpoint": "IngestionEndpoint", "liveendpoint": "LiveEndpoint"}
_CONNECTION_STRING_FIX = (
    "copy it whole from the Application Insights resource's Overview page (Connection String), "
    "or unset it"
)


def _telemetry(env: _Environment) -> TelemetrySettings:
    disabled = env.get(OTEL_DISABLED_VAR).strip().lower()
    if disabled not in ("true", "false"):
        raise SettingsError(f"{OTEL_DISABLED_VAR}={disabled!r}: set it to true or false")
    endpoints = {
        name: env.get(name).strip() or None
        for name in (OTLP_ENDPOINT_VAR, OTLP_TRACES_ENDPOINT_VAR, OTLP_METRICS_ENDPOINT_VAR)
    }
    for name, url in endpoints.items():
        if url is not None and urlsplit(url).scheme not in ("http", "https"):
            raise SettingsError(
                f"{name}={url!r} is no http:// or https:// URL: name the OTLP/HTTP collector, "
                "for example http://127.0.0.1:4318"
            )
    connection = env.get(APPINSIGHTS_CONNECTION_VAR).strip() or None
    if connection is not None:
        _check_connection_string(connection)
    settings = TelemetrySettings(
        otlp_endpoint=endpoints[OTLP_ENDPOINT_VAR],
        otlp_traces_endpoint=endpoints[OTLP_TRACES_ENDPOINT_VAR],
        otlp_metrics_endpoint=endpoints[OTLP_METRICS_ENDPOINT_VAR],
        azure_monitor_connection_string=connection,
        disabled=disabled == "true",
        service_name=env.get(OTEL_SERVICE_NAME_VAR).strip(),
        resource_attributes=env.get(OTEL_RESOURCE_ATTRIBUTES_VAR).strip() or None,
    )
    settings.resource()  # a malformed OTEL_RESOURCE_ATTRIBUTES is refused here, by name
    return settings


def _check_connection_string(connection: str) -> None:
    """Refuses, naming the variable (never its value, a secret), a connection string whose
    instrumentation key is missing or whose endpoint is no URL."""
    parts: dict[str, str] = {}
    for member in connection.split(";"):
        key, equals, value = member.partition("=")
        if member.strip() and not equals:
            raise SettingsError(
                f"{APPINSIGHTS_CONNECTION_VAR} is no connection string (Key=value pairs "
                f"separated by ';'): {_CONNECTION_STRING_FIX}"
            )
        parts[key.strip().lower()] = value.strip()
    if not parts.get(_INSTRUMENTATION_KEY):
        raise SettingsError(
            f"{APPINSIGHTS_CONNECTION_VAR} holds no InstrumentationKey: {_CONNECTION_STRING_FIX}"
        )
    for endpoint, name in _CONNECTION_ENDPOINTS.items():
        url = parts.get(endpoint)
        if url is not None and urlsplit(url).scheme not in ("http", "https"):
            raise SettingsError(
                f"{APPINSIGHTS_CONNECTION_VAR}: its {name} is no http:// or https:// URL: "
                f"{_CONNECTION_STRING_FIX}"
            )


# The event backbone: EDA_LAKE_BROKER and Kafka's variables. ---------------------------------


_Member = TypeVar("_Member", bound=StrEnum)


def _member(kind: type[_Member], name: str, raw: str, what: str) -> _Member:
    """The member of `kind` whose value `raw` is, or an error naming the variable and the
    values it takes."""
    try:
        return kind(raw)
    except ValueError:
        choices = ", ".join(m.value for m in kind)
        raise SettingsError(
            f"{name}={raw!r} is not a known {what}; set it to one of: {choices}"
        ) from None


def _backbone(env: _Environment, target: Target) -> dict[str, Any]:
    """`broker` and `kafka` for Settings: unset, the broker is the target's own (Event Hubs
    on Azure, else the embedded hub)."""
    default = Broker.EVENTHUBS if target is Target.AZURE else Broker.EMBEDDED
    raw = env.get(BROKER_VAR).strip().lower() or default.value
    broker = _member(Broker, BROKER_VAR, raw, "event backbone")
    if broker is Broker.EVENTHUBS and not env.get(EVENTHUB_NAMESPACE_VAR):
        raise SettingsError(
            f"{BROKER_VAR}=eventhubs needs {EVENTHUB_NAMESPACE_VAR} (and checkpoint storage): "
            f"set them, or choose {BROKER_VAR}=embedded or kafka"
        )
    return {"broker": broker, "kafka": _kafka(env, broker)}


def _kafka(env: _Environment, broker: Broker) -> KafkaSettings | None:
    servers = env.get(KAFKA_BOOTSTRAP_VAR).strip()
    if not servers:
        if broker is Broker.KAFKA:
            raise SettingsError(
                f"{BROKER_VAR}=kafka needs {KAFKA_BOOTSTRAP_VAR}, the cluster's host:port list "
                "(for example 127.0.0.1:9092, or <namespace>.servicebus.windows.net:9093)"
            )
        return None
    protocol = env.get(KAFKA_SECURITY_PROTOCOL_VAR).strip().upper() or "PLAINTEXT"
    if protocol not in KAFKA_SECURITY_PROTOCOLS:
        raise SettingsError(
            f"{KAFKA_SECURITY_PROTOCOL_VAR}={protocol!r} is not one of "
            f"{', '.join(KAFKA_SECURITY_PROTOCOLS)}"
        )
    mechanism = env.get(KAFKA_SASL_MECHANISM_VAR).strip().upper() or None
    if mechanism is not None and mechanism not in KAFKA_SASL_MECHANISMS:
        raise SettingsError(
            f"{KAFKA_SASL_MECHANISM_VAR}={mechanism!r} is not one of "
            f"{', '.join(KAFKA_SASL_MECHANISMS)}"
        )
    hub_passwords = {
        hub.lower().replace("_", "-"): value
        for hub, value in env.family(KAFKA_SASL_PASSWORD_PREFIX).items()
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
    # lz4 costs the producer little and spares the broker and the network most of the
    # bytes; Event Hubs' Kafka endpoint does not take every codec (its documentation names
    # gzip, and not on every tier), so there batches go uncompressed unless told otherwise.
    on_event_hubs = any(
        EVENT_HUBS_KAFKA_HOST in server.strip().split(":")[0].lower()
        for server in servers.split(",")
    )
    compression = env.get(KAFKA_COMPRESSION_VAR).strip().lower()
    compression = compression or ("none" if on_event_hubs else "lz4")
    if compression not in KAFKA_COMPRESSIONS:
        raise SettingsError(
            f"{KAFKA_COMPRESSION_VAR}={compression!r} is not one of {', '.join(KAFKA_COMPRESSIONS)}"
        )
    return KafkaSettings(
        bootstrap_servers=servers,
        compression=compression,
        security_protocol=protocol,
        sasl_mechanism=mechanism,
        sasl_username=username,
        sasl_password=password,
        hub_passwords=hub_passwords,
        timeout_seconds=_positive_int(env, KAFKA_TIMEOUT_VAR),
    )
