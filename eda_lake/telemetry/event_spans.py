"""Spans made whole from an event's trace context: imported once telemetry is on."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import Link, SpanContext, SpanKind, Status, StatusCode, TraceFlags

from eda_lake.shared.trace_context import TraceContext
from eda_lake.telemetry.pipeline import Pipeline

_KINDS = {"producer": SpanKind.PRODUCER, "consumer": SpanKind.CONSUMER}
_SAMPLED = TraceFlags(TraceFlags.SAMPLED)
_OK = Status(StatusCode.UNSET)


def span_context(context: TraceContext, span_id: str | None = None, *, remote: bool) -> SpanContext:
    return SpanContext(
        int(context.trace_id, 16), int(span_id or context.span_id, 16), remote, _SAMPLED
    )


def event_span(
    pipeline: Pipeline,
    name: str,
    kind: str,
    context: TraceContext,
    parent_span_id: str | None,
    started_ns: int,
    ended_ns: int,
    attributes: Mapping[str, Any],
    error: BaseException | None = None,
    links: Sequence[TraceContext] = (),
) -> ReadableSpan:
    """A finished span with the context's ids, its parent `parent_span_id` in the same trace."""
    return ReadableSpan(
        name=name,
        context=span_context(context, remote=False),
        parent=(
            None if parent_span_id is None else span_context(context, parent_span_id, remote=True)
        ),
        resource=pipeline.resource,
        attributes=dict(attributes),
        kind=_KINDS[kind],
        links=[Link(span_context(link, remote=True)) for link in links],
        status=(
            # The exception's type alone: its message may quote an event's personal data.
            _OK if error is None else Status(StatusCode.ERROR, type(error).__name__)
        ),
        start_time=started_ns,
        end_time=ended_ns,
        instrumentation_scope=pipeline.scope,
    )
