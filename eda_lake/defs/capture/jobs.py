"""eda-lake's own capture of the embedded hub or a Kafka broker: what Event Hubs Capture
does by itself in Azure."""

from typing import Any

import dagster as dg
from pydantic import Field

from eda_lake.capture.embedded import CaptureReport
from eda_lake.capture.runtime import run_capture
from eda_lake.catalogue import Catalogue
from eda_lake.defs.hubs import CAPTURE_DESCRIPTION, CAPTURE_DESTINATION, CAPTURE_FILES, hub_key
from eda_lake.defs.resources import EdaLakeResource


class CaptureConfig(dg.Config):
    flush: bool = Field(
        default=False,
        description="Also write the windows that are still open (the demo does; a scheduled "
        "capture waits for each window to close).",
    )


def _metadata(report: CaptureReport) -> dict[str, Any]:
    return {
        "events_in_run": report.events,
        "files_in_run": len(report.files),
        "empty_files_in_run": report.empty_files,
        "recovered_in_run": report.recovered,
        "expired_by_retention_in_run": report.expired,
        "newest_files": dg.MetadataValue.json(report.files[-10:]),
    }


def capture(
    context: dg.OpExecutionContext, flush: bool, eda_lake: EdaLakeResource
) -> CaptureReport:
    report = run_capture(eda_lake.settings(), flush=flush)
    context.log.info(f"captured {report.events} events into {len(report.files)} file(s)")
    return report


@dg.op(
    description="Write the broker's closed capture windows (the embedded hub's or Kafka's) as "
    "Avro files in the lake.",
    ins={"after": dg.In(dg.Nothing)},
)
def capture_windows(
    context: dg.OpExecutionContext, config: CaptureConfig, eda_lake: EdaLakeResource
) -> CaptureReport:
    report = capture(context, config.flush, eda_lake)
    context.log_event(dg.AssetMaterialization(CAPTURE_FILES, metadata=_metadata(report)))
    return report


def build(catalogue: Catalogue) -> dg.Definitions:
    @dg.asset(
        key=CAPTURE_FILES,
        deps=[CAPTURE_DESTINATION, *(hub_key(hub) for hub in catalogue.hubs.values())],
        group_name="capture",
        description=CAPTURE_DESCRIPTION + " Written by eda-lake's capture (embedded hub or Kafka).",
        kinds={"python"},
    )
    def capture_files(
        context: dg.AssetExecutionContext, config: CaptureConfig, eda_lake: EdaLakeResource
    ) -> dg.MaterializeResult:  # type: ignore[type-arg]
        report = capture(context.op_execution_context, config.flush, eda_lake)
        return dg.MaterializeResult(metadata=_metadata(report))

    capture_job = dg.define_asset_job(
        "capture_job",
        selection=[CAPTURE_FILES],
        description="Capture the embedded hub or Kafka into lake/capture/.",
    )
    return dg.Definitions(assets=[capture_files], jobs=[capture_job])
