"""A Dagster step configures its process's telemetry from the resource's variables (the UI
shows a secret's name only) and sends what it recorded when it ends."""

from __future__ import annotations

from pathlib import Path

import dagster as dg

from eda_lake import telemetry
from eda_lake.defs.resources import eda_lake_resource
from eda_lake.telemetry import spans
from eda_lake_tests.telemetry.collectors import otlp_collector


def test_a_steps_spans_are_sent_when_it_ends(tmp_path: Path) -> None:
    with otlp_collector() as collector:
        resource = eda_lake_resource(
            {"EDA_LAKE_HOME": str(tmp_path), "OTEL_EXPORTER_OTLP_ENDPOINT": collector.url}
        )
        with dg.build_resources({"eda_lake": resource}):
            assert telemetry.active() is not None
            with spans.lake_run("gold"):
                pass
            assert collector.named("lake gold") == []  # batched until the step's end
        assert [span.name for span in collector.named("lake ")] == ["lake gold"]
