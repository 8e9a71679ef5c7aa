"""With APPLICATIONINSIGHTS_CONNECTION_STRING, spans and metrics go to Azure Monitor's
ingestion endpoint (here one on 127.0.0.1) as Application Insights envelopes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from eda_lake import telemetry
from eda_lake.settings import Settings
from eda_lake.telemetry import metrics, spans
from eda_lake_tests.telemetry.collectors import INSTRUMENTATION_KEY, azure_ingestion

EVENT = {
    "cloudEvents_id": "4f1c0d6e-0000-4000-8000-000000000001",
    "cloudEvents_source": "/eda-lake/customer",
    "cloudEvents_type": "eda_lake.customer.CustomerCreated",
}


def test_spans_and_metrics_reach_azure_monitor(tmp_path: Path) -> None:
    with azure_ingestion() as ingestion:
        settings = Settings.from_env(
            {
                "EDA_LAKE_HOME": str(tmp_path),
                "APPLICATIONINSIGHTS_CONNECTION_STRING": ingestion.connection_string,
                "OTEL_SERVICE_NAME": "lake-under-test",
            }
        )
        telemetry.configure(settings.telemetry)
        spans.published("customer-created", [EVENT], spans.clock())
        with spans.lake_run("ingest"):
            pass
        now = datetime.now(UTC)
        metrics.bronze_freshness(now - timedelta(seconds=90), now - timedelta(seconds=30), now)
        telemetry.shutdown()

    assert {e["iKey"] for e in ingestion.envelopes} == {INSTRUMENTATION_KEY}
    dependencies = ingestion.of_type("RemoteDependencyData")
    requests = ingestion.of_type("RequestData")
    names = {e["data"]["baseData"]["name"] for e in dependencies + requests}
    assert names == {"publish customer-created", "lake ingest"}
    assert {e["tags"]["ai.cloud.role"] for e in dependencies + requests} == {"lake-under-test"}
    figures = sorted(
        (point["name"], point["value"])
        for envelope in ingestion.of_type("MetricData")
        for point in envelope["data"]["baseData"]["metrics"]
    )  # each once: a gauge is not sent again by the exports after it was set
    assert figures == [(metrics.LAST_COMMIT_AGE, 30.0), (metrics.NEWEST_EVENT_AGE, 90.0)]
