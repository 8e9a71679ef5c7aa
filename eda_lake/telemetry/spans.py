"""The spans eda-lake records: each event's publish and each reaction to it, a partner file's
ingestion, and the lake's runs (capture, ingest, silver, gold).

An event's spans live in the event's own trace, as its CloudEvents `traceparent` names it
(`eda_lake.shared.trace_context`): its publish span has the event's span id and its cause's
span as parent, so a trace in the backend is one causal chain, from the first event to the
last reaction, whichever process published each. An event with no traceparent (stored
before events carried one) gets the context the contract gives a root event.

Every call returns at once while telemetry is off. Event spans are made whole (ids, times,
attributes) and handed to the batch processors directly: the tracer's own path (sampler,
id generator, context) costs five times as much per span, on the relay's hot path.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import fields, is_dataclass
from typing import TYPE_CHECKING, Any

from eda_lake.events.cloudevents import attributes
from eda_lake.shared import trace_context
from eda_lake.shared.cloudevents_names import ID, SOURCE, TRACEPARENT, TRACESTATE, TYPE
from eda_lake.shared.trace_context import TraceContext
from eda_lake.telemetry import active

if TYPE_CHECKING:
    from opentelemetry.trace import Span

# A file's span links to at most this many of its sales (OpenTelemetry's default limit).
MAX_LINKS = 128
_NO_REACTION: AbstractContextManager[None] = nullcontext()


def clock() -> int:
    """Now, as spans' times are: nanoseconds since the epoch."""
    return time.time_ns()


def context_of(found: Mapping[str, str]) -> TraceContext | None:
    """The trace an event belongs to, as its CloudEvents attributes (`attributes` of its
    properties) carry it; without a traceparent, the root context of its source and id; None
    without either."""
    carried = trace_context.parse(found.get(TRACEPARENT), found.get(TRACESTATE))
    if carried is not None:
        return carried
    if ID in found and SOURCE in found:
        return trace_context.root_context(found[SOURCE], found[ID])
    return None


def published(hub: str, events: Sequence[Mapping[str, object]], started_ns: int) -> None:
    """The hub took these events (their properties), sent from `started_ns` until now: a
    publish span each, in the event's own trace."""
    pipeline = active()
    if pipeline is None or not events:
        return
    from eda_lake.telemetry.event_spans import event_span

    ended = clock()
    for properties in events:
        found = attributes(properties)
        context = context_of(found)
        if context is None:
            continue  # no id, no source: nothing to know it by
        pipeline.emit(
            event_span(
                pipeline, f"publish {hub}", "producer", context, context.parent_span_id,
                started_ns, ended, _event_attributes(hub, found),
            )
        )  # fmt: skip


def reacting(
    team: str, hub: str, partition: str, properties: Mapping[str, object]
) -> AbstractContextManager[None]:
    """Around a team's handling of one event: a span in the event's trace, its parent the
    event's publish span; failed (a poison event, dead-lettered) when the handling raises."""
    if active() is None:
        return _NO_REACTION
    return _reaction(team, hub, partition, properties)


@contextmanager
def _reaction(
    team: str, hub: str, partition: str, properties: Mapping[str, object]
) -> Iterator[None]:
    from eda_lake.telemetry.event_spans import event_span

    started = clock()
    found = attributes(properties)
    cause = context_of(found)
    context = TraceContext(
        cause.trace_id if cause else f"{random.getrandbits(128):032x}",
        f"{random.getrandbits(64):016x}",
    )
    span_attributes: dict[str, Any] = {
        **_event_attributes(hub, found),
        "messaging.consumer.group.name": team,
        "messaging.destination.partition.id": partition,
    }
    error: BaseException | None = None
    try:
        yield
    except BaseException as exc:
        error = exc
        raise
    finally:
        pipeline = active()
        if pipeline is not None:
            pipeline.emit(
                event_span(
                    pipeline, f"react {team} {hub}", "consumer", context,
                    cause.span_id if cause else None, started, clock(), span_attributes, error,
                )
            )  # fmt: skip


def partner_file(file: str, sales: Sequence[Mapping[str, object]], started_ns: int) -> None:
    """Conversions read a partner's file from `started_ns` until now and made these sales
    (their properties): the file's span, with the file's context, linked to each sale's
    trace (the first MAX_LINKS), as each sale's trace is a trace of its own."""
    pipeline = active()
    if pipeline is None:
        return
    from eda_lake.telemetry.event_spans import event_span

    found = (attributes(properties) for properties in sales[:MAX_LINKS])
    links = [context for context in map(context_of, found) if context is not None]
    pipeline.emit(
        event_span(
            pipeline, "partner-file", "consumer", trace_context.file_context(file), None,
            started_ns, clock(), {"eda_lake.partner_file": file, "eda_lake.sales": len(sales)},
            links=links,
        )
    )  # fmt: skip


def _event_attributes(hub: str, found: Mapping[str, str]) -> dict[str, Any]:
    """OpenTelemetry's messaging and CloudEvents attributes of an event."""
    return {
        "messaging.destination.name": hub,
        "cloudevents.event_id": found.get(ID, ""),
        "cloudevents.event_source": found.get(SOURCE, ""),
        "cloudevents.event_type": found.get(TYPE, ""),
    }


class LakeRun:
    """A run's span while it runs: `report` puts the run's counts on it."""

    def __init__(self, name: str, span: Span | None) -> None:
        self.name = name
        self.span = span

    def report(self, report: object) -> None:
        """Every whole-number or fractional field of the run's report (a dataclass), as
        `eda_lake.<run>.<field>`; with telemetry off, nothing."""
        if self.span is None or not is_dataclass(report):
            return
        found = {field.name: getattr(report, field.name) for field in fields(report)}
        self.counts(**{k: v for k, v in found.items() if isinstance(v, int | float)})

    def counts(self, **counts: float) -> None:
        """These counts of the run, as `eda_lake.<run>.<name>`."""
        if self.span is not None:
            for name, value in counts.items():
                self.span.set_attribute(f"eda_lake.{self.name}.{name}", value)


@contextmanager
def lake_run(name: str) -> Iterator[LakeRun]:
    """Around one run of the lake (capture, ingest, silver, gold): a span of its own, failed
    with the exception that ends the run, and sent when it ends."""
    pipeline = active()
    if pipeline is None:
        yield LakeRun(name, None)
        return
    from opentelemetry.trace import Status, StatusCode

    try:
        # The exception's type only, never its message or stack: a message may quote an
        # event's data (personal fields among them), which must not leave the lake.
        with pipeline.tracer.start_as_current_span(
            f"lake {name}", record_exception=False, set_status_on_exception=False
        ) as span:
            try:
                yield LakeRun(name, span)
            except BaseException as exc:
                span.set_status(Status(StatusCode.ERROR, type(exc).__name__))
                raise
    finally:
        pipeline.flush()
