"""The OpenTelemetry SDK, set up from `TelemetrySettings`: imported only when telemetry is on.

One resource (the service name and OTEL_RESOURCE_ATTRIBUTES), a tracer provider with a batch
processor per exporter, a meter provider with a periodic reader per exporter: an OTLP/HTTP
collector (protobuf), Azure Monitor, or both. The providers stay this pipeline's own, never
OpenTelemetry's global ones, so no other library's instrumentation starts sending through them.

Azure Monitor's exporter package, not its distro (`azure-monitor-opentelemetry`): the distro
configures the global providers and instruments every HTTP and database client in the
process (each Blob request a span), where the lake sends the spans and metrics named here.
Its offline storage (failed batches kept in a temporary folder, sent by a later process) is
off: a collector that is down costs a batch, as the OTLP exporter's does.
"""

from __future__ import annotations

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics import _Gauge as Gauge
from opentelemetry.sdk.metrics.export import (
    AggregationTemporality,
    MetricExporter,
    PeriodicExportingMetricReader,
)
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter
from opentelemetry.sdk.util.instrumentation import InstrumentationScope

from eda_lake.settings import (
    APPINSIGHTS_CONNECTION_VAR,
    OTLP_ENDPOINT_VAR,
    TelemetrySettings,
)
from eda_lake.telemetry.outage import (
    Backend,
    GuardedMetricExporter,
    GuardedSpanExporter,
    quiet_exporter_loggers,
)

SCOPE = "eda_lake"
# Metrics are sent every minute, and at each `flush`: a lake run records its figures once.
METRIC_INTERVAL_MS = 60_000
# A gauge is sent in the export after it is set, never again: an age measured once is not
# sent on, ever staler, by a process that lives on.
GAUGES_ONCE: dict[type, AggregationTemporality] = {Gauge: AggregationTemporality.DELTA}
# Spans a process may hold before sending: a relay run publishes tens of thousands of events
# a second, each a span, while the batch processor's default (2,048) would drop most of them.
MAX_QUEUED_SPANS = 1 << 17


class Pipeline:
    """Where this process's spans and metric points go."""

    def __init__(self, settings: TelemetrySettings) -> None:
        quiet_exporter_loggers()
        self.resource = Resource.create(settings.resource())
        self.scope = InstrumentationScope(SCOPE)
        self.tracer_provider = TracerProvider(resource=self.resource, shutdown_on_exit=False)
        self.span_processors: list[BatchSpanProcessor] = []
        readers: list[PeriodicExportingMetricReader] = []
        for spans, metrics, backend in _exporters(settings):
            if spans is not None:
                processor = BatchSpanProcessor(
                    GuardedSpanExporter(spans, backend), max_queue_size=MAX_QUEUED_SPANS
                )
                self.span_processors.append(processor)
                self.tracer_provider.add_span_processor(processor)
            if metrics is not None:
                readers.append(
                    PeriodicExportingMetricReader(
                        GuardedMetricExporter(metrics, backend, GAUGES_ONCE),
                        export_interval_millis=METRIC_INTERVAL_MS,
                    )
                )
        self.tracer = self.tracer_provider.get_tracer(SCOPE)
        self.meter_provider = MeterProvider(
            resource=self.resource, metric_readers=readers, shutdown_on_exit=False
        )
        self.meter = self.meter_provider.get_meter(SCOPE)

    def emit(self, span: ReadableSpan) -> None:
        """A finished span made whole by the caller (an event's, whose ids it carries)."""
        for processor in self.span_processors:
            processor.on_end(span)

    def flush(self) -> None:
        self.tracer_provider.force_flush()
        self.meter_provider.force_flush()

    def shutdown(self) -> None:
        self.tracer_provider.shutdown()
        self.meter_provider.shutdown()


def _exporters(
    settings: TelemetrySettings,
) -> list[tuple[SpanExporter | None, MetricExporter | None, Backend]]:
    """(span exporter, metric exporter, their backend) per destination the settings name."""
    found: list[tuple[SpanExporter | None, MetricExporter | None, Backend]] = []
    traces, metrics = settings.traces_endpoint, settings.metrics_endpoint
    if traces or metrics:
        from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        backend = Backend(
            f"the OTLP collector at {settings.otlp_endpoint or traces or metrics}",
            f"start it, or point {OTLP_ENDPOINT_VAR} at one that is up",
        )
        found.append(
            (
                OTLPSpanExporter(endpoint=traces) if traces else None,
                (OTLPMetricExporter(endpoint=metrics) if metrics else None),
                backend,
            )
        )
    connection = settings.azure_monitor_connection_string
    if connection:
        from azure.monitor.opentelemetry.exporter import (
            AzureMonitorMetricExporter,
            AzureMonitorTraceExporter,
        )

        backend = Backend(
            "Azure Monitor",
            f"check {APPINSIGHTS_CONNECTION_VAR} (its IngestionEndpoint) and the network to it",
        )
        found.append(
            (
                AzureMonitorTraceExporter(
                    connection_string=connection, disable_offline_storage=True
                ),
                AzureMonitorMetricExporter(
                    connection_string=connection, disable_offline_storage=True
                ),
                backend,
            )
        )
    return found
