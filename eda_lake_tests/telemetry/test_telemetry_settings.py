"""Telemetry is on only when an exporter is named, off with OTEL_SDK_DISABLED, and a value
that cannot be used is refused in one line naming its variable, never showing a secret."""

from __future__ import annotations

import pytest

from eda_lake.cli import ERROR_EXIT, main
from eda_lake.settings import Settings, SettingsError, TelemetrySettings

SECRET_KEY = "5e3c1a0f-0000-4000-8000-00000000beef"


def _telemetry(**environment: str) -> TelemetrySettings:
    return Settings.from_env(environment).telemetry


def test_off_by_default_and_on_with_any_exporter() -> None:
    assert not _telemetry().enabled
    on = _telemetry(OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:4318/")
    assert on.enabled
    assert on.traces_endpoint == "http://127.0.0.1:4318/v1/traces"
    assert on.metrics_endpoint == "http://127.0.0.1:4318/v1/metrics"
    traces_only = _telemetry(OTEL_EXPORTER_OTLP_TRACES_ENDPOINT="http://127.0.0.1:4318/t")
    assert traces_only.enabled and traces_only.metrics_endpoint is None
    assert traces_only.traces_endpoint == "http://127.0.0.1:4318/t"
    azure = _telemetry(APPLICATIONINSIGHTS_CONNECTION_STRING=f"InstrumentationKey={SECRET_KEY}")
    assert azure.enabled and azure.traces_endpoint is None
    assert SECRET_KEY not in repr(azure)


def test_disabled_wins_and_resource_attributes_are_read() -> None:
    disabled = _telemetry(
        OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:4318", OTEL_SDK_DISABLED="TRUE"
    )
    assert disabled.disabled and not disabled.enabled
    named = _telemetry(
        OTEL_SERVICE_NAME="lake-qa",
        OTEL_RESOURCE_ATTRIBUTES="deployment.environment=qa, team=data%20platform",
    )
    assert named.resource() == {
        "deployment.environment": "qa",
        "team": "data platform",
        "service.name": "lake-qa",
    }
    assert _telemetry().resource() == {"service.name": "eda-lake"}


@pytest.mark.parametrize(
    ("connection", "problem"),
    [
        (f"{SECRET_KEY}", "no connection string"),
        (f"IngestionEndpoint=https://x.in.applicationinsights.azure.com/;Key={SECRET_KEY}",
         "no InstrumentationKey"),
        (f"InstrumentationKey={SECRET_KEY};IngestionEndpoint=westeurope-5",
         "IngestionEndpoint is no"),
    ],
)  # fmt: skip
def test_a_malformed_connection_string_is_named_with_its_fix_and_never_shown(
    connection: str, problem: str
) -> None:
    with pytest.raises(SettingsError) as raised:
        _telemetry(APPLICATIONINSIGHTS_CONNECTION_STRING=connection)
    message = str(raised.value)
    assert message.startswith("APPLICATIONINSIGHTS_CONNECTION_STRING")
    assert problem in message and "Overview page" in message
    assert SECRET_KEY not in message and "\n" not in message


@pytest.mark.parametrize(
    ("variable", "value", "fix"),
    [
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "127.0.0.1:4318", "http://127.0.0.1:4318"),
        ("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", "grpc://collector", "http://127.0.0.1:4318"),
        ("OTEL_SDK_DISABLED", "yes", "true or false"),
        ("OTEL_RESOURCE_ATTRIBUTES", "deployment.environment", "key=value"),
        ("OTEL_SERVICE_NAME", " ", "unset it"),
    ],
)
def test_an_unusable_value_is_refused_naming_its_variable(
    variable: str, value: str, fix: str
) -> None:
    with pytest.raises(SettingsError, match=variable) as raised:
        _telemetry(**{variable: value})
    assert fix in str(raised.value)


def test_a_command_with_a_malformed_connection_string_stops_in_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("APPLICATIONINSIGHTS_CONNECTION_STRING", f"Key={SECRET_KEY}")
    assert main(["provision"]) == ERROR_EXIT
    shown = capsys.readouterr()
    (line,) = shown.err.splitlines()
    assert line.startswith("eda-lake: error: APPLICATIONINSIGHTS_CONNECTION_STRING holds no ")
    assert SECRET_KEY not in shown.err + shown.out
