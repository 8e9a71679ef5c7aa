"""Telemetry backends on 127.0.0.1 for the tests: an OTLP/HTTP collector that decodes the
protobuf requests it is sent, and Azure Monitor's ingestion endpoint, which takes JSON."""

from __future__ import annotations

import gzip
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue


@dataclass(frozen=True)
class CollectedSpan:
    name: str
    trace_id: str
    span_id: str
    parent_span_id: str | None
    kind: int
    status: int  # 0 unset, 1 ok, 2 error
    status_message: str
    events: tuple[str, ...]  # the span events' names ("exception" where one was recorded)
    attributes: dict[str, Any]
    links: tuple[tuple[str, str], ...]  # (trace id, span id)
    resource: dict[str, Any]


@dataclass(frozen=True)
class CollectedPoint:
    name: str
    unit: str
    value: float


def _value(value: AnyValue) -> Any:
    kind = value.WhichOneof("value")
    return getattr(value, kind) if kind else None


def _attributes(pairs: Any) -> dict[str, Any]:
    return {pair.key: _value(pair.value) for pair in pairs}


def _span(span: Any, resource: dict[str, Any]) -> CollectedSpan:
    return CollectedSpan(
        name=span.name,
        trace_id=span.trace_id.hex(),
        span_id=span.span_id.hex(),
        parent_span_id=span.parent_span_id.hex() or None,
        kind=span.kind,
        status=span.status.code,
        status_message=span.status.message,
        events=tuple(event.name for event in span.events),
        attributes=_attributes(span.attributes),
        links=tuple((link.trace_id.hex(), link.span_id.hex()) for link in span.links),
        resource=resource,
    )


@dataclass
class OtlpCollector:
    """What it was sent, decoded: spans and gauge points."""

    url: str = ""
    spans: list[CollectedSpan] = field(default_factory=list)
    points: list[CollectedPoint] = field(default_factory=list)
    requests: int = 0

    def take_traces(self, body: bytes) -> bytes:
        request = ExportTraceServiceRequest.FromString(body)
        for resource_spans in request.resource_spans:
            resource = _attributes(resource_spans.resource.attributes)
            for scope in resource_spans.scope_spans:
                self.spans.extend(_span(span, resource) for span in scope.spans)
        answer: bytes = ExportTraceServiceResponse().SerializeToString()
        return answer

    def take_metrics(self, body: bytes) -> bytes:
        request = ExportMetricsServiceRequest.FromString(body)
        for resource_metrics in request.resource_metrics:
            for scope in resource_metrics.scope_metrics:
                for metric in scope.metrics:
                    self.points.extend(
                        CollectedPoint(metric.name, metric.unit, point.as_double)
                        for point in metric.gauge.data_points
                    )
        answer: bytes = ExportMetricsServiceResponse().SerializeToString()
        return answer

    def named(self, prefix: str) -> list[CollectedSpan]:
        return [span for span in self.spans if span.name.startswith(prefix)]

    def gauge(self, name: str) -> list[CollectedPoint]:
        return [point for point in self.points if point.name == name]


@contextmanager
def otlp_collector() -> Iterator[OtlpCollector]:
    collector = OtlpCollector()
    routes = {"/v1/traces": collector.take_traces, "/v1/metrics": collector.take_metrics}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            if self.headers.get("Content-Encoding") == "gzip":
                body = gzip.decompress(body)
            route = routes.get(self.path)
            if route is None:
                self.send_error(404)
                return
            answer = route(body)
            collector.requests += 1
            self.send_response(200)
            self.send_header("Content-Type", "application/x-protobuf")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: the test reads what was collected."""

    with served(Handler) as url:
        collector.url = url
        yield collector


@dataclass
class AzureIngestion:
    """Application Insights' ingestion endpoint: the envelopes it was sent (JSON)."""

    connection_string: str = ""
    envelopes: list[dict[str, Any]] = field(default_factory=list)

    def of_type(self, base_type: str) -> list[dict[str, Any]]:
        return [e for e in self.envelopes if e["data"]["baseType"] == base_type]


# The instrumentation key of the tests' connection strings: no resource of anyone's.
INSTRUMENTATION_KEY = "00000000-0000-4000-8000-000000000000"


@contextmanager
def azure_ingestion() -> Iterator[AzureIngestion]:
    ingestion = AzureIngestion()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            if self.headers.get("Content-Encoding") == "gzip":
                body = gzip.decompress(body)
            sent = json.loads(body)
            envelopes = sent if isinstance(sent, list) else [sent]
            if self.path.startswith("/v2.1/track"):
                ingestion.envelopes.extend(envelopes)
            answer = json.dumps(
                {"itemsReceived": len(envelopes), "itemsAccepted": len(envelopes), "errors": []}
            ).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: the test reads what was ingested."""

    with served(Handler) as url:
        ingestion.connection_string = (
            f"InstrumentationKey={INSTRUMENTATION_KEY};IngestionEndpoint={url}/"
        )
        yield ingestion


@contextmanager
def served(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
