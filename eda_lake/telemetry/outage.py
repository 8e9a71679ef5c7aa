"""An exporter whose backend is out of reach costs one warning line, never the run.

OpenTelemetry's exporters retry and log each attempt. Wrapped here, a failed export is said
once per backend in one line, and for `PAUSE_SECONDS` after it exports to that backend are
skipped (their batches dropped) rather than each waiting out the exporter's timeout, so a
process whose collector is down still ends at once; after the pause, the next batch is tried.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from opentelemetry.sdk.metrics.export import (
    AggregationTemporality,
    MetricExporter,
    MetricExportResult,
    MetricsData,
)
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

PAUSE_SECONDS = 60.0
# The exporters' own loggers: each retry and failure of theirs is told by `Backend.failed`.
EXPORTER_LOGGERS = ("opentelemetry.exporter.otlp", "azure.monitor.opentelemetry.exporter")
log = logging.getLogger("eda_lake.telemetry")


def quiet_exporter_loggers() -> None:
    for name in EXPORTER_LOGGERS:
        logging.getLogger(name).setLevel(logging.CRITICAL + 1)


@dataclass
class Backend:
    """One destination (an OTLP collector, Azure Monitor) that traces and metrics share."""

    name: str  # what the warning names: a URL, or "Azure Monitor"; never a secret
    fix: str  # what to check
    paused_until: float = 0.0
    warned: bool = False

    def paused(self) -> bool:
        return time.monotonic() < self.paused_until

    def failed(self, signal: str, count: int, error: Exception | None = None) -> None:
        self.paused_until = time.monotonic() + PAUSE_SECONDS
        if self.warned:
            return
        self.warned = True
        reason = f" ({type(error).__name__}: {error})" if error is not None else ""
        log.warning(
            "eda-lake: telemetry: %s did not take %d %s%s; the run goes on without them and "
            "tries again in %.0f s: %s",
            self.name, count, signal, reason, PAUSE_SECONDS, self.fix,
        )  # fmt: skip

    def recovered(self) -> None:
        if self.warned:
            log.info("eda-lake: telemetry: %s takes telemetry again", self.name)
        self.warned = False


class GuardedSpanExporter(SpanExporter):
    def __init__(self, exporter: SpanExporter, backend: Backend) -> None:
        self.exporter = exporter
        self.backend = backend

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        if self.backend.paused():
            return SpanExportResult.FAILURE
        try:
            result = self.exporter.export(spans)
        except Exception as exc:  # an exporter's fault never ends a run
            self.backend.failed("spans", len(spans), exc)
            return SpanExportResult.FAILURE
        if result is SpanExportResult.SUCCESS:
            self.backend.recovered()
        else:
            self.backend.failed("spans", len(spans))
        return result

    def shutdown(self) -> None:
        self.exporter.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self.exporter.force_flush(timeout_millis)


class GuardedMetricExporter(MetricExporter):
    """`temporality`: the exporter's preferences, these instruments' overridden."""

    def __init__(
        self,
        exporter: MetricExporter,
        backend: Backend,
        temporality: dict[type, AggregationTemporality],
    ) -> None:
        super().__init__(
            preferred_temporality={**(exporter._preferred_temporality or {}), **temporality},
            preferred_aggregation=exporter._preferred_aggregation,
        )
        self.exporter = exporter
        self.backend = backend

    def export(
        self, metrics_data: MetricsData, timeout_millis: float = 10_000, **kwargs: Any
    ) -> MetricExportResult:
        if self.backend.paused():
            return MetricExportResult.FAILURE
        points = sum(
            len(metric.data.data_points)
            for resource in metrics_data.resource_metrics
            for scope in resource.scope_metrics
            for metric in scope.metrics
        )
        try:
            result = self.exporter.export(metrics_data, timeout_millis=timeout_millis, **kwargs)
        except Exception as exc:  # an exporter's fault never ends a run
            self.backend.failed("metric points", points, exc)
            return MetricExportResult.FAILURE
        if result is MetricExportResult.SUCCESS:
            self.backend.recovered()
        else:
            self.backend.failed("metric points", points)
        return result

    def force_flush(self, timeout_millis: float = 10_000) -> bool:
        return self.exporter.force_flush(timeout_millis)

    def shutdown(self, timeout_millis: float = 30_000, **kwargs: Any) -> None:
        self.exporter.shutdown(timeout_millis=timeout_millis, **kwargs)
