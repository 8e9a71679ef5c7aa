"""The variable table: what `Settings.from_env` may read is what the resource passes on."""

from __future__ import annotations

from typing import Any

import dagster as dg
import pytest

from eda_lake.defs.resources import eda_lake_resource
from eda_lake.settings import VARIABLES, Settings, SettingsError, _Environment, variable


def test_a_variable_outside_the_table_cannot_be_read() -> None:
    name = "EDA_LAKE_NOT_YET_A_VARIABLE"
    with pytest.raises(KeyError, match=rf"{name} is not in eda_lake.settings.VARIABLES"):
        _Environment({name: "set"}).get(name)
    assert variable("EDA_LAKE_PRINCIPAL__CUSTOMER").family  # members of a family are known


def test_every_table_variable_reaches_the_resource_secrets_by_name(tmp_path) -> None:
    environ = {v.name + ("X" if v.family else ""): f"value-of-{v.name}" for v in VARIABLES}
    environ |= {
        "EDA_LAKE_HOME": str(tmp_path),
        "EDA_LAKE_TARGET": "local",
        "EDA_LAKE_SCHEMA_DIR": str(Settings.from_env({}).schema_dir),
        "EDA_LAKE_CATALOGUE_FILE": "catalogue-per-aggregate.toml",
        "EDA_LAKE_CAPTURE_LATENESS_MINUTES": "30",
        "EDA_LAKE_FILES_PER_RUN": "50",
        "EDA_LAKE_ENVIRONMENT": "dv",
        "EDA_LAKE_ALERT_EMAILS": "ops@example.com",
        "EDA_LAKE_MAX_THROUGHPUT_UNITS": "20",
        "EDA_LAKE_STORAGE_SKU": "Standard_LRS",
        "EDA_LAKE_SHARED_KEY_ACCESS": "on",
        "EDA_LAKE_LOG_RETENTION_DAYS": "60",
        "EDA_LAKE_BROKER": "kafka",
        "EDA_LAKE_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
        "EDA_LAKE_KAFKA_SASL_MECHANISM": "PLAIN",
        "EDA_LAKE_KAFKA_TIMEOUT_SECONDS": "30",
        "EDA_LAKE_KAFKA_COMPRESSION": "zstd",
        "EDA_LAKE_MAX_EVENT_MIB": "128",
        "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318",
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://127.0.0.1:4318/v1/traces",
        "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT": "http://127.0.0.1:4318/v1/metrics",
        "APPLICATIONINSIGHTS_CONNECTION_STRING": "InstrumentationKey=value-of-the-key",
        "OTEL_SDK_DISABLED": "true",
        "OTEL_RESOURCE_ATTRIBUTES": "deployment.environment=dv",
    }
    passed = eda_lake_resource(environ).variables()
    assert set(environ) == set(passed)
    for name, value in passed.items():
        if variable(name).secret:
            assert isinstance(value, dg.EnvVar) and value == name
        else:
            assert value == environ[name] and not isinstance(value, dg.EnvVar)


def test_a_broken_environment_is_refused_when_the_definitions_load() -> None:
    with pytest.raises(SettingsError, match="EDA_LAKE_CAPTURE_LATENESS_MINUTES='soon'"):
        eda_lake_resource({"EDA_LAKE_CAPTURE_LATENESS_MINUTES": "soon"})


def test_the_resource_config_is_typed_and_described() -> None:
    from eda_lake.defs.resources import EdaLakeResource

    schema: Any = EdaLakeResource.of({}).to_config_schema().as_field().config_type
    fields = schema.fields
    assert set(fields) == {v.name.removeprefix("EDA_LAKE_").lower() for v in VARIABLES}
    lateness = fields["capture_lateness_minutes"]
    assert lateness.config_type.key == "Noneable.IntSourceType"  # an int, or unset
    assert lateness.default_value == 120
    assert "how far back" in (lateness.description or "")
    assert "secret" in (fields["pii_key"].description or "")
