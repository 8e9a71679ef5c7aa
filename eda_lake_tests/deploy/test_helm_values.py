"""Dagster's Helm chart on AKS (deploy/helm/): the values keep the shipped limits, write no
secret, run every pod as the workload identity, log to the container provisioning makes, and
fit the chart's own schema; the ConfigMap is the runtime's settings for what provisioning
names."""

from __future__ import annotations

import copy
import importlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from dagster._core.errors import DagsterInvalidConfigError
from dagster._serdes.config_class import ConfigurableClassData
from dagster_azure.blob import AzureBlobComputeLogManager

from eda_lake.provisioning.azure_names import azure_names
from eda_lake.settings import REPO_ROOT, Settings, Target, declared, variable
from eda_lake_tests.conftest import SHARED

HELM = REPO_ROOT / "deploy" / "helm"
VALUES = HELM / "values.yaml"
PRODUCTION = REPO_ROOT / "deploy" / "dagster-production.yaml"
CONFIG_MAP = HELM / "eda-lake-config.yaml"
SECRET_PROVIDERS = HELM / "secret-provider-class.yaml"
SHIPPED = REPO_ROOT / "deploy" / "dagster.yaml"
# The chart as `helm pull dagster --repo https://dagster-io.github.io/helm --version 1.13.27
# --untar` unpacks it (its values.yaml and values.schema.json), beside the checkout with the
# other shared reference material; the chart is Dagster's (Apache-2.0) and is not copied here.
CHART = SHARED / "reference" / "dagster-helm-1.13.27" / "dagster"
# The names the manifests use: provisioning's for EDA_LAKE_ENVIRONMENT=dv,
# EDA_LAKE_AZURE_LOCATION=westeurope, EDA_LAKE_NAME_SUFFIX=x7k2.
NAMES = azure_names("dv", "westeurope", "x7k2")
WORKLOAD_IDENTITY = {"azure.workload.identity/use": "true"}
# Keys whose value is a credential, whatever they sit in.
CREDENTIAL_KEYS = (
    "password", "account_key", "access_key", "sas_token", "secret_credential",
    "connection_string", "client_secret",
)  # fmt: skip


def _load(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def _documents(path: Path) -> list[dict[str, Any]]:
    return [document for document in yaml.safe_load_all(path.read_text()) if document]


# The run queue and the pool -------------------------------------------------------------


def _limit_differences(values: dict[str, Any], shipped: dict[str, Any]) -> list[str]:
    """How the chart's limits differ from the shipped instance's (`concurrency` of
    deploy/dagster.yaml, which the chart renders from its camelCase keys)."""
    chart, ours = values["concurrency"], shipped["concurrency"]
    differences = []
    if chart.get("enabled") is not True:
        differences.append("concurrency is not enabled, so the chart renders none of it")
    if chart["pools"].get("defaultLimit") != ours["pools"]["default_limit"]:
        differences.append(f"pools: {chart['pools']} against {ours['pools']}")
    runs = chart["runs"]
    if runs.get("maxConcurrentRuns") != ours["runs"]["max_concurrent_runs"]:
        differences.append(f"maxConcurrentRuns: {runs.get('maxConcurrentRuns')}")
    if runs.get("tagConcurrencyLimits") != ours["runs"]["tag_concurrency_limits"]:
        differences.append(f"tagConcurrencyLimits: {runs.get('tagConcurrencyLimits')}")
    coordinator = values["dagsterDaemon"]["runCoordinator"]
    if not coordinator.get("enabled") or coordinator.get("type") != "QueuedRunCoordinator":
        differences.append(f"the daemon's run coordinator is {coordinator}, not the run queue")
    if coordinator.get("config"):  # the chart refuses limits set in both places
        differences.append(f"the run coordinator sets limits of its own: {coordinator['config']}")
    return differences


def test_the_charts_run_queue_and_pool_limits_are_the_shipped_ones() -> None:
    assert _limit_differences(_load(VALUES), _load(SHIPPED)) == []


def test_a_limit_other_than_the_shipped_one_is_found() -> None:
    values, shipped = _load(VALUES), _load(SHIPPED)
    gold = copy.deepcopy(values)
    gold["concurrency"]["runs"]["tagConcurrencyLimits"][1]["limit"] = 2
    pool = copy.deepcopy(values)
    pool["concurrency"]["pools"]["defaultLimit"] = 3
    twice = copy.deepcopy(values)
    twice["dagsterDaemon"]["runCoordinator"]["config"] = {
        "queuedRunCoordinator": {"maxConcurrentRuns": 8}
    }
    for changed in (gold, pool, twice):
        assert len(_limit_differences(changed, shipped)) == 1


# Secrets --------------------------------------------------------------------------------


def _written_secrets(node: Any, where: str = "") -> Iterator[str]:
    """Where a manifest holds a secret's value: a credential's key, or a secret variable of
    eda_lake.settings.VARIABLES (in a ConfigMap's data or an env list), set to a value."""
    if isinstance(node, list):
        for index, item in enumerate(node):
            if isinstance(item, dict) and _is_secret_variable(item.get("name")) and "value" in item:
                yield f"{where}[{index}]"
            yield from _written_secrets(item, f"{where}[{index}]")
    elif isinstance(node, dict):
        for key, value in node.items():
            path = f"{where}.{key}"
            credential = any(word in str(key).lower() for word in CREDENTIAL_KEYS)
            if (credential or _is_secret_variable(key)) and isinstance(value, str) and value:
                yield path
            yield from _written_secrets(value, path)


def _is_secret_variable(name: object) -> bool:
    return isinstance(name, str) and declared(name) and variable(name).secret


def _manifests() -> dict[str, list[dict[str, Any]]]:
    return {path.name: _documents(path) for path in (VALUES, CONFIG_MAP, SECRET_PROVIDERS)}


def test_no_secret_is_written_in_the_manifests() -> None:
    for name, documents in _manifests().items():
        assert [where for d in documents for where in _written_secrets(d)] == [], name
    values = _load(VALUES)
    assert values["generatePostgresqlPasswordSecret"] is False  # no Secret from a value
    assert "postgresqlPassword" not in values["postgresql"]


def test_a_secret_written_as_a_value_is_found() -> None:
    values, [config_map] = _load(VALUES), _documents(CONFIG_MAP)
    values["postgresql"]["postgresqlPassword"] = "hunter2"
    values["dagsterDaemon"]["env"] = [{"name": "EDA_LAKE_PII_KEY", "value": "a-key-16-chars-long"}]
    config_map["data"]["EDA_LAKE_STORAGE_ACCOUNT_KEY"] = "a2V5"
    assert sorted(_written_secrets(values)) == [
        ".dagsterDaemon.env[0]",
        ".postgresql.postgresqlPassword",
    ]
    assert list(_written_secrets(config_map)) == [".data.EDA_LAKE_STORAGE_ACCOUNT_KEY"]


def test_the_secrets_the_pods_read_are_the_ones_key_vault_fills() -> None:
    values = _load(VALUES)
    synced = {
        secret["secretName"]: {item["key"] for item in secret["data"]}
        for provider in _documents(SECRET_PROVIDERS)
        for secret in provider["spec"]["secretObjects"]
    }
    # the chart reads the password from this Secret's key postgresql-password
    assert synced[values["global"]["postgresqlSecretName"]] == {"postgresql-password"}
    [deployment] = values["dagster-user-deployments"]["deployments"]
    assert {synced_key for s in deployment["envSecrets"] for synced_key in synced[s["name"]]} == {
        "EDA_LAKE_PII_KEY"
    }
    # each pod mounts the class of every Secret it reads: the mount is what makes the driver
    # fetch and sync it
    assert _classes(deployment) == [p["metadata"]["name"] for p in _documents(SECRET_PROVIDERS)]
    for pod in ("dagsterWebserver", "dagsterDaemon"):  # the database alone, never the PII key
        assert _classes(values[pod]) == ["dagster-postgresql"]


def _classes(pod: dict[str, Any]) -> list[str]:
    """The SecretProviderClasses a pod's values mount."""
    return [v["csi"]["volumeAttributes"]["secretProviderClass"] for v in pod["volumes"]]


# Identity, compute logs and settings ----------------------------------------------------


def test_every_dagster_pod_runs_as_the_workload_identity() -> None:
    values = _load(VALUES)
    [deployment] = values["dagster-user-deployments"]["deployments"]
    pods = {
        "webserver": values["dagsterWebserver"]["labels"],
        "daemon": values["dagsterDaemon"]["labels"],
        "code server": deployment["labels"],
        "run pods": values["runLauncher"]["config"]["k8sRunLauncher"]["labels"],
    }
    assert {pod: labels.items() >= WORKLOAD_IDENTITY.items() for pod, labels in pods.items()} == {
        pod: True for pod in pods
    }
    assert values["global"]["serviceAccountName"] == values["serviceAccount"]["name"]
    assert values["serviceAccount"]["annotations"]["azure.workload.identity/client-id"]
    assert deployment["includeConfigInLaunchedRuns"] == {"enabled": True}


def _compute_log_manager(config: dict[str, Any]) -> AzureBlobComputeLogManager:
    """The compute log manager as the instance loads it from the chart's rendering of
    `customComputeLogManager` (module, class and config as written): dagster-azure's."""
    custom = _load(VALUES)["computeLogManager"]["config"]["customComputeLogManager"]
    data = ConfigurableClassData(custom["module"], custom["class"], yaml.safe_dump(config))
    return data.rehydrate(AzureBlobComputeLogManager)


def test_compute_logs_go_to_the_container_provisioning_makes_with_the_pods_identity() -> None:
    manager = _load(VALUES)["computeLogManager"]
    assert manager["type"] == "CustomComputeLogManager"
    config = manager["config"]["customComputeLogManager"]["config"]
    _compute_log_manager(config)  # dagster-azure's class, whose schema accepts it
    production = _load(PRODUCTION)["compute_logs"]["config"]
    # as deploy/dagster-production.yaml, for provisioning's account: Entra ID, no key
    assert config == {**production, "storage_account": NAMES.lake_account}
    assert config["container"] == NAMES.compute_log_container
    assert config["default_azure_credential"] == {}


def test_dagster_storage_uses_the_driver_the_image_holds() -> None:
    production = _load(PRODUCTION)["storage"]["postgres"]["postgres_db"]
    assert _load(VALUES)["postgresql"]["postgresqlScheme"] == production["scheme"]
    assert production["scheme"] == "postgresql+psycopg2"
    importlib.import_module("psycopg2")


def test_every_module_the_charts_instance_names_is_installed() -> None:
    values = _load(VALUES)
    custom = values["computeLogManager"]["config"]["customComputeLogManager"]
    assert values["runLauncher"]["type"] == "K8sRunLauncher"
    for module in (custom["module"], "dagster_k8s.launcher", "dagster_postgres.run_storage"):
        importlib.import_module(module)  # the webserver and daemon run the same image


def test_a_misspelt_compute_log_setting_is_refused_by_dagster_azure() -> None:
    config = _load(VALUES)["computeLogManager"]["config"]["customComputeLogManager"]["config"]
    with pytest.raises(DagsterInvalidConfigError, match="default_azure_credentials"):
        _compute_log_manager({**config, "default_azure_credentials": {}})


def test_the_config_map_holds_the_runtimes_settings_for_what_provisioning_names() -> None:
    [config_map] = _documents(CONFIG_MAP)
    data: dict[str, str] = config_map["data"]
    for name in data:
        known = variable(name)
        assert not known.secret and not known.provisioning, name
    settings = Settings.from_env(data)
    assert settings.target is Target.AZURE and settings.storage is not None
    assert settings.storage.account == NAMES.lake_account
    assert settings.storage.capture_container == NAMES.capture_container
    assert settings.storage.lake_container == NAMES.lake_container
    assert settings.storage.account_key is None  # Entra ID
    assert settings.eventhubs is not None
    assert settings.eventhubs.fully_qualified_namespace.split(".")[0] == NAMES.namespace
    assert f"//{NAMES.checkpoint_account}." in str(settings.eventhubs.checkpoint_account_url)
    assert settings.discovery_queue is not None
    assert settings.discovery_queue.name == NAMES.discovery_queue
    assert settings.discovery_queue.account_url == (
        f"https://{NAMES.lake_account}.queue.core.windows.net"
    )


# The chart's own schema -----------------------------------------------------------------


def _chart() -> tuple[dict[str, Any], dict[str, Any]]:
    """The chart's default values and its values schema."""
    if not (CHART / "values.schema.json").is_file():
        pytest.skip(
            f"Dagster's chart 1.13.27 is not unpacked at {CHART}: `helm pull dagster --repo "
            "https://dagster-io.github.io/helm --version 1.13.27 --untar` there"
        )
    return _load(CHART / "values.yaml"), json.loads((CHART / "values.schema.json").read_text())


def _helm_merge(defaults: Any, overrides: Any) -> Any:
    """Values as Helm coalesces them: maps merge key by key, anything else is replaced, and
    a null removes the chart's default."""
    if not (isinstance(defaults, dict) and isinstance(overrides, dict)):
        return overrides
    merged = dict(defaults)
    for key, value in overrides.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = _helm_merge(defaults.get(key), value)
    return merged


def _references(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        if isinstance(node.get("$ref"), str):
            yield node["$ref"]
        node = list(node.values())
    if isinstance(node, list):
        for item in node:
            yield from _references(item)


class _AnySchema(dict[str, Any]):
    """An empty schema (anything fits) at every pointer into it."""

    def __missing__(self, key: str) -> _AnySchema:
        return _AnySchema()


def _schema_errors(values: dict[str, Any]) -> list[str]:
    """Helm's check of the merged values against the chart's schema. The schema's references
    to Kubernetes' own definitions (volumes, probes, resources) point at a web site, which no
    test reaches: those parts are taken as they are; every key of the chart's is checked."""
    import jsonschema
    from referencing import Registry, Resource

    defaults, schema = _chart()
    elsewhere = {ref.partition("#")[0] for ref in _references(schema) if "://" in ref}
    registry: Registry[Any] = Registry().with_resources(
        (uri, Resource.opaque(_AnySchema())) for uri in elsewhere
    )
    validator = jsonschema.validators.validator_for(schema, default=jsonschema.Draft7Validator)
    errors = validator(schema, registry=registry).iter_errors(_helm_merge(defaults, values))
    return [f"{'.'.join(map(str, e.absolute_path))}: {e.message}" for e in errors]


def test_the_values_fit_the_charts_schema() -> None:
    assert _schema_errors(_load(VALUES)) == []


def test_a_misspelt_key_is_refused_by_the_charts_schema() -> None:
    values = _load(VALUES)
    launcher = values["runLauncher"]["config"]["k8sRunLauncher"]
    launcher["label"] = launcher.pop("labels")
    errors = _schema_errors(values)
    assert errors and any("'label'" in error for error in errors)
