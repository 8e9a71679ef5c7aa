"""The settings' variable table is the one list of the environment: the tests' isolation,
the demo's environment and what the package reads all come from it."""

from __future__ import annotations

import ast
import dataclasses
import os
import re
from pathlib import Path

import pytest

from eda_lake.demo import demo_variables
from eda_lake.settings import (
    HOME_VAR,
    REPO_ROOT,
    SUBSCRIPTION_VAR,
    TARGET_VAR,
    VARIABLES,
    AzureDeploymentSettings,
    AzureEventHubs,
    AzureStorage,
    Broker,
    DiscoveryQueue,
    KafkaSettings,
    Settings,
    TelemetrySettings,
    _Environment,
    declared,
    deployment_variables,
    variable,
)
from eda_lake_tests.conftest import remove_configured_variables

PACKAGE = REPO_ROOT / "eda_lake"
# A name of the environment as the package spells it: eda-lake's own, Dagster's, Azure's.
VARIABLE_NAME = re.compile(r"\b(?:EDA_LAKE|DAGSTER|AZURE|EVENTHUB)_[A-Z0-9_]*[A-Z0-9_]")
# Azure's SDK reads these itself (DefaultAzureCredential); the package only names them.
SDK_VARIABLES = frozenset({"AZURE_TENANT_ID", "AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET"})
ENVIRONMENT = frozenset(
    {"os.environ", "environ", "os.environb", "os.getenv", "os.getenvb", "getenv"}
)


def _member(name: str) -> str:
    """A variable of the table's entry `name`: a family's with a suffix."""
    return name + "CUSTOMER_CREATED" if variable(name).family else name


def test_the_isolation_removes_every_variable_of_the_table(monkeypatch) -> None:
    for known in VARIABLES:
        monkeypatch.setenv(_member(known.name), "the developer's own")
    monkeypatch.setenv("EDA_LAKE_TEST_KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:1")  # the tests' own
    kinds = {"secret", "family", "integer", "provisioning"}
    assert {kind for kind in kinds for k in VARIABLES if getattr(k, kind)} == kinds

    with pytest.MonkeyPatch.context() as patch:
        removed = remove_configured_variables(patch)
        assert sorted(removed) == sorted(_member(k.name) for k in VARIABLES)
        assert not [name for name in os.environ if declared(name)]
        assert os.environ["EDA_LAKE_TEST_KAFKA_BOOTSTRAP_SERVERS"] == "127.0.0.1:1"
    assert os.environ[_member("EDA_LAKE_PRINCIPAL__")] == "the developer's own"  # restored


def test_a_test_starts_with_only_its_own_home_and_dagster_instance(tmp_path) -> None:
    assert {name for name in os.environ if declared(name)} == {"EDA_LAKE_HOME", "DAGSTER_HOME"}
    assert os.environ["EDA_LAKE_HOME"] == str(tmp_path / "eda_lake_home")


def environment_reads(source: str) -> list[str]:
    """What a module reads of the environment by key (os.environ[...], .get, getenv)."""
    reads = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Subscript):
            mapping: ast.expr | None = node.value
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            getter = node.func.attr in ("getenv", "getenvb")
            mapping = node.func if getter else node.func.value
            if not getter and node.func.attr not in ("get", "pop", "setdefault"):
                mapping = None
        else:
            mapping = None
        if mapping is not None and ast.unparse(mapping) in ENVIRONMENT:
            reads.append(ast.unparse(node))
    return reads


def undeclared_names(source: str) -> set[str]:
    """The variable names a module's strings spell that the table does not declare."""
    names = {n for text in _strings(source) for n in VARIABLE_NAME.findall(text)}
    return {n for n in names if not declared(n)} - SDK_VARIABLES


def _strings(source: str) -> list[str]:
    """A module's string constants (docstrings and f-strings' text among them)."""
    tree = ast.parse(source)
    return [
        n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)
    ]


def test_the_checks_below_see_a_variable_read_behind_the_tables_back() -> None:
    source = (
        "import os\n"
        "key = os.environ['AZURE_STORAGE_KEY']\n"
        "region = os.environ.get('EDA_LAKE_REGION')\n"
        "home = os.getenv('EDA_LAKE_HOME')\n"
    )
    assert len(environment_reads(source)) == 3
    assert undeclared_names(source) == {"AZURE_STORAGE_KEY", "EDA_LAKE_REGION"}


def _modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def test_nothing_in_the_package_reads_the_environment_by_key() -> None:
    reads = {
        str(path.relative_to(REPO_ROOT)): found
        for path in _modules()
        if (found := environment_reads(path.read_text()))
    }
    assert reads == {}, "read variables through eda_lake.settings (its VARIABLES table)"


def test_every_variable_the_package_names_is_in_the_table() -> None:
    undeclared = {
        str(path.relative_to(REPO_ROOT)): found
        for path in _modules()
        if (found := undeclared_names(path.read_text()))
    }
    assert undeclared == {}, "declare them in eda_lake.settings.VARIABLES"


def _every_field_set(home: Path) -> Settings:
    """Settings that hold a value for every variable of the table."""
    return Settings(
        home=home.resolve(),
        schema_dir=(home / "schemas").resolve(),
        catalogue_file="catalogue-per-aggregate.toml",
        namespace="another-namespace",
        pii_key="a-key-of-at-least-16-characters",
        capture_lateness_minutes=30,
        files_per_run=50,
        storage=AzureStorage(
            account="account",
            account_key="account-key",
            blob_authority="127.0.0.1:10000",
            capture_container="capture",
            lake_container="lake",
        ),
        discovery_queue=DiscoveryQueue("queue", "queue-connection"),
        eventhubs=AzureEventHubs(
            "ns.servicebus.windows.net",
            hub_connection_strings={"customer-created": "hub-connection"},
            checkpoint_connection_string="checkpoint-connection",
            checkpoint_account_url="https://checkpoints.blob.core.windows.net",
            checkpoint_container="checkpoints",
        ),
        dagster_instance=(home / "instance").resolve(),
        broker=Broker.KAFKA,
        kafka=KafkaSettings(
            "127.0.0.1:9092",
            security_protocol="SASL_SSL",
            sasl_mechanism="PLAIN",
            sasl_username="user",
            sasl_password="password",
            hub_passwords={"customer-created": "hub-password"},
            timeout_seconds=5,
            compression="zstd",
        ),
        max_event_mib=128,
        telemetry=TelemetrySettings(
            otlp_endpoint="http://127.0.0.1:4318",
            otlp_traces_endpoint="http://127.0.0.1:4319/v1/traces",
            otlp_metrics_endpoint="http://127.0.0.1:4319/v1/metrics",
            azure_monitor_connection_string="InstrumentationKey=00000000-0000-0000-0000-000000000000",
            disabled=True,
            service_name="another-service",
            resource_attributes="deployment.environment=qa",
        ),
    )


def test_every_variable_of_a_settings_round_trips_through_the_demos_environment(
    tmp_path,
) -> None:
    settings = _every_field_set(tmp_path)
    passed = demo_variables(settings)
    assert {variable(name).name for name in passed} == {
        k.name for k in VARIABLES if not k.provisioning
    }
    # Each value other than its default, so that a variable lost on the way is seen (the
    # demo runs on the default target only).
    defaults = [
        k.name
        for k in VARIABLES
        if k.default and not k.provisioning and passed[k.name] == k.default
    ]
    assert defaults == [TARGET_VAR]
    assert Settings.from_env(passed) == settings


def test_the_demos_environment_leaves_unset_what_a_settings_does_not_hold(tmp_path) -> None:
    passed = demo_variables(Settings(home=tmp_path))
    assert "EDA_LAKE_STORAGE_ACCOUNT" not in passed and "EDA_LAKE_KAFKA_COMPRESSION" not in passed
    assert Settings.from_env(passed) == Settings(home=tmp_path.resolve())


def test_provisionings_variables_round_trip_through_its_own_settings_alone() -> None:
    deployment = AzureDeploymentSettings(
        "subscription", "westeurope", "dv", "x1",
        principals={"customer": "object-id"}, lake_principal="the lake's object id",
        alert_emails=("ops@example.com", "oncall@example.com"), max_throughput_units=20,
        storage_sku="Standard_GZRS", shared_key_access=True, log_retention_days=90,
    )  # fmt: skip
    passed = deployment_variables(deployment)
    assert {variable(name).name for name in passed} == {k.name for k in VARIABLES if k.provisioning}
    assert AzureDeploymentSettings.from_env(passed) == deployment
    # Each side reads its own variables, and a read of the other side's is refused.
    assert "deployment" not in {f.name for f in dataclasses.fields(Settings)}
    assert Settings.from_env(passed) == Settings.from_env({})
    with pytest.raises(KeyError, match="EDA_LAKE_AZURE_SUBSCRIPTION_ID is read by provisioning"):
        _Environment(passed).get(SUBSCRIPTION_VAR)
    with pytest.raises(KeyError, match="EDA_LAKE_HOME is read by the runtime"):
        _Environment({}, provisioning=True).get(HOME_VAR)
