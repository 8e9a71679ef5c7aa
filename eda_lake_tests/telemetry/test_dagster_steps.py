"""A Dagster step configures its process's telemetry from the resource's variables (the UI
shows a secret's name only); a run of the lake sends its span when it ends, as a step's
process may end without `atexit`."""

from __future__ import annotations

from pathlib import Path

import dagster as dg

from eda_lake import telemetry
from eda_lake.defs.resources import eda_lake_resource
from eda_lake.telemetry import spans
from eda_lake_tests.telemetry.collectors import otlp_collector


def test_a_step_configures_telemetry_and_a_runs_span_leaves_when_the_run_ends(
    tmp_path: Path,
) -> None:
    with otlp_collector() as collector:
        resource = eda_lake_resource(
            {"EDA_LAKE_HOME": str(tmp_path), "OTEL_EXPORTER_OTLP_ENDPOINT": collector.url}
        )
        with dg.build_resources({"eda_lake": resource}):
            assert telemetry.active() is not None
            with spans.lake_run("gold"):
                pass
            assert [span.name for span in collector.named("lake ")] == ["lake gold"]
