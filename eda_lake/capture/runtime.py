"""The embedded capture, assembled from settings: what the CLI, Dagster and the demo run."""

from __future__ import annotations

from eda_lake.capture.embedded import CaptureReport, EmbeddedCapture
from eda_lake.catalogue import Catalogue, load_catalogue
from eda_lake.hub.factory import make_local_hub
from eda_lake.lake.layout import LakeLayout
from eda_lake.progress import Progress, no_progress
from eda_lake.settings import Settings


def run_embedded_capture(
    settings: Settings,
    *,
    flush: bool,
    catalogue: Catalogue | None = None,
    progress: Progress = no_progress,
) -> CaptureReport:
    """Capture the embedded hub's closed windows (and open ones with `flush`) into
    `lake/capture/` with the catalogue's capture settings."""
    catalogue = catalogue or load_catalogue(settings.schema_dir)
    hub = make_local_hub(settings)
    capture = EmbeddedCapture(
        hub, LakeLayout(settings.lake_dir).capture, catalogue.capture, settings.hub_dir
    )
    try:
        report = capture.run(flush=flush, progress=progress)
        # Retention runs after capture, as Event Hubs' does: expired events are in the lake.
        report.expired = hub.apply_retention()
        return report
    finally:
        capture.close()
        hub.close()
