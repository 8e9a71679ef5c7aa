"""Traces and metrics, OpenTelemetry's: off unless an exporter is configured.

`TelemetrySettings` (eda_lake.settings, from OpenTelemetry's own variables and Azure
Monitor's connection string) names where they go. Until `configure` is given settings that
name an exporter, nothing of the OpenTelemetry SDK is imported and every call of `spans` and
`metrics` returns at once: a process that sends no telemetry pays nothing for it. Once on,
one pipeline per process (`pipeline.Pipeline`) batches spans and metrics in the background
and sends them at exit, at `flush`, or as its batches fill.
"""

from __future__ import annotations

import atexit
from typing import TYPE_CHECKING

from eda_lake.settings import TelemetrySettings

if TYPE_CHECKING:
    from eda_lake.telemetry.pipeline import Pipeline

_pipeline: Pipeline | None = None
_settings = TelemetrySettings()  # what `_pipeline` was built from
_exit_registered = False


def configure(settings: TelemetrySettings) -> None:
    """This process's telemetry as `settings` say: built once, rebuilt when they change (the
    previous pipeline sent and shut down first), left off when they name no exporter."""
    global _pipeline, _settings, _exit_registered
    if settings == _settings:
        return
    shutdown()
    _settings = settings
    if not settings.enabled:
        return
    from eda_lake.telemetry.pipeline import Pipeline

    _pipeline = Pipeline(settings)
    if not _exit_registered:
        atexit.register(shutdown)  # what is batched still leaves with the process
        _exit_registered = True


def active() -> Pipeline | None:
    """The pipeline spans and metrics go to, None while telemetry is off."""
    return _pipeline


def flush() -> None:
    """Send what is batched now: at the end of a relay's or the lake's run, as a Dagster
    step's process may end without running `atexit`."""
    if _pipeline is not None:
        _pipeline.flush()


def shutdown() -> None:
    """Send what is batched and stop: telemetry is off until the next `configure`."""
    global _pipeline, _settings
    if _pipeline is not None:
        _pipeline.shutdown()
    _pipeline = None
    _settings = TelemetrySettings()
