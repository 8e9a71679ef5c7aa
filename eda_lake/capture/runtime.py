"""The capture, assembled from settings: what the CLI, Dagster and the demo run.

The one place that picks the capture for the event backbone: the embedded hub's, or Kafka's.
Event Hubs has its own Capture service, which writes the files itself.
"""

from __future__ import annotations

from datetime import datetime

from eda_lake.capture.embedded import CaptureReport, EmbeddedCapture
from eda_lake.capture.naming import window_start
from eda_lake.catalogue import CaptureSettings, Catalogue, load_catalogue
from eda_lake.hub.base import ms_to_datetime
from eda_lake.hub.factory import make_kafka_hub, make_local_hub
from eda_lake.settings import BROKER_VAR, Broker, Settings
from eda_lake.shared.errors import UserError
from eda_lake.shared.progress import Progress, no_progress
from eda_lake.telemetry import spans


class CaptureNotNeededError(UserError, ValueError):
    """`capture run` with a backbone whose own service captures (Event Hubs)."""


def run_capture(
    settings: Settings,
    *,
    flush: bool,
    catalogue: Catalogue | None = None,
    now: datetime | None = None,
    progress: Progress = no_progress,
) -> CaptureReport:
    """Capture the backbone's windows closed by `now` (default: the clock; and open ones with
    `flush`) into `lake/capture/` with the catalogue's capture settings."""
    with spans.lake_run("capture") as run:
        report = _capture(settings, flush=flush, catalogue=catalogue, now=now, progress=progress)
        run.report(report)
        return report


def _capture(
    settings: Settings,
    *,
    flush: bool,
    catalogue: Catalogue | None,
    now: datetime | None,
    progress: Progress,
) -> CaptureReport:
    catalogue = catalogue or load_catalogue(settings.schema_dir, settings.catalogue_file)
    destination = settings.capture_dir
    if settings.broker is Broker.KAFKA:
        from eda_lake.capture.kafka import KafkaCapture

        kafka = make_kafka_hub(settings)
        try:
            kafka_capture = KafkaCapture(kafka, destination, catalogue.capture, settings.hub_dir)
            # The catalogue's topics only, as Capture is enabled on the catalogue's hubs: a
            # shared cluster's other topics are not the lake's.
            return kafka_capture.run(list(catalogue.hubs), now=now, flush=flush)
        finally:
            kafka.close()
    if settings.broker is Broker.EVENTHUBS:
        raise CaptureNotNeededError(
            f"{BROKER_VAR}=eventhubs: Event Hubs Capture writes the files itself (enable it on "
            "each hub); `capture run` captures the embedded hub or Kafka"
        )
    hub = make_local_hub(settings)
    capture = EmbeddedCapture(hub, destination, catalogue.capture, settings.hub_dir)
    try:
        report = capture.run(now=now, flush=flush, progress=progress)
        # Retention runs after capture, as Event Hubs' does: expired events are in the lake.
        report.expired = hub.apply_retention()
        return report
    finally:
        capture.close()
        hub.close()


def last_window_close(settings: CaptureSettings, now: datetime) -> datetime:
    """The latest moment at or before `now` when capture windows closed (`window_start`):
    until the next such moment no capture has anything new to write."""
    return ms_to_datetime(window_start(int(now.timestamp() * 1000), settings.window_seconds * 1000))
