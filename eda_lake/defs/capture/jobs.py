"""Capture for the embedded hub: what Event Hubs Capture does by itself in Azure."""

import dagster as dg

from eda_lake.capture.runtime import run_embedded_capture
from eda_lake.defs.resources import EdaLakeResource


class CaptureConfig(dg.Config):
    flush: bool = False  # also write windows that are still open


@dg.op(
    description="Write the embedded hub's closed capture windows as Avro files in the lake.",
    ins={"after": dg.In(dg.Nothing)},
)
def capture_windows(
    context: dg.OpExecutionContext, config: CaptureConfig, eda_lake: EdaLakeResource
) -> dg.Output[int]:
    report = run_embedded_capture(eda_lake.settings(), flush=config.flush)
    context.log.info(f"captured {report.events} events into {len(report.files)} file(s)")
    return dg.Output(
        report.events,
        metadata={
            "events": report.events,
            "files": len(report.files),
            "empty_files": report.empty_files,
            "recovered": report.recovered,
            "expired_by_retention": report.expired,
            "newest_files": dg.MetadataValue.json(report.files[-10:]),
        },
    )


@dg.job(description="Capture the embedded hub into lake/capture/.")
def capture_job() -> None:
    capture_windows()


defs = dg.Definitions(jobs=[capture_job])
