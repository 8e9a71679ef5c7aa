"""eda-lake's own capture of the embedded hub or a Kafka broker: what Event Hubs Capture
does by itself in Azure, continuously (capture_windows_sensor)."""

from datetime import UTC, datetime, timedelta
from typing import Any

import dagster as dg
from pydantic import Field

from eda_lake.capture.embedded import CaptureReport
from eda_lake.capture.runtime import last_window_close, run_capture
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


# How soon after a window closes its files are written, at most (plus the capture itself).
CAPTURE_SENSOR_INTERVAL_S = 5
# A tick captures at most this many windows' worth of time itself; a longer backlog (the
# daemon was down) is captured by a capture_job run, which no sensor timeout cuts short.
WINDOWS_PER_TICK = 3
CAPTURE_JOB = "capture_job"


@dg.sensor(
    minimum_interval_seconds=CAPTURE_SENSOR_INTERVAL_S,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Writes each capture window once it closes, as Event Hubs Capture does: the "
    "capture runs in the tick itself (no run to start), only on the first tick after windows "
    "closed; capture_files_sensor then ingests the files. A backlog of more than "
    f"{WINDOWS_PER_TICK} windows (the daemon was down) is captured by a {CAPTURE_JOB} run.",
    job_name=CAPTURE_JOB,
)
def capture_windows_sensor(
    context: dg.SensorEvaluationContext, eda_lake: EdaLakeResource
) -> dg.SensorResult:
    catalogue = eda_lake.catalogue()
    closed = last_window_close(catalogue.capture, datetime.now(UTC))
    captured_until = datetime.fromisoformat(context.cursor) if context.cursor else None
    if captured_until is not None and captured_until >= closed:
        return dg.SensorResult(
            cursor=context.cursor,
            skip_reason=f"no capture window has closed since {context.cursor}",
        )
    if captured_until is not None and closed - captured_until > timedelta(
        seconds=WINDOWS_PER_TICK * catalogue.capture.window_seconds
    ):
        return dg.SensorResult(
            run_requests=[dg.RunRequest(run_key=f"capture-backlog-{closed.isoformat()}")],
            cursor=closed.isoformat(),
        )
    # The cursor moves only once the capture is written: a tick that dies (or a killed code
    # server) leaves it, and the next tick recovers the capture's half-written file first.
    # Two ticks at once (two daemons) take turns on the capture's lock; the ledger writes each
    # window once.
    report = run_capture(eda_lake.settings(), flush=False, catalogue=catalogue, now=closed)
    context.log.info(f"captured {report.events} events into {len(report.files)} file(s)")
    if not report.files:
        return dg.SensorResult(
            cursor=closed.isoformat(),
            skip_reason=f"the windows closed at {closed.isoformat()} held no new event",
        )
    return dg.SensorResult(
        asset_events=[dg.AssetMaterialization(CAPTURE_FILES, metadata=_metadata(report))],
        cursor=closed.isoformat(),
    )


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
        CAPTURE_JOB,
        selection=[CAPTURE_FILES],
        description="Capture the embedded hub or Kafka into lake/capture/.",
    )
    return dg.Definitions(
        assets=[capture_files], jobs=[capture_job], sensors=[capture_windows_sensor]
    )
