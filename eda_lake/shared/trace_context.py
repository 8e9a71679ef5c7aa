"""W3C Trace Context as events carry it: the CloudEvents distributed-tracing extension.

Every event eda-lake publishes carries `traceparent` (`00-<trace id>-<span id>-01`): the trace
it belongs to and the span that published it. A reaction continues its cause's trace: the
same trace id, a span of its own, and the cause's span as its parent, which travels in
`tracestate` under eda-lake's key (`edalake=<parent span id>`), so the lake can rebuild an
event's causal tree from what was sent alone. Ids are derived from the event's CloudEvents
source and id, never drawn at random: an event sent again (a replayed cause, a relay killed
after the hub's acknowledgement) carries the very same context.

Reading is lenient, as everywhere in the lake: a malformed or foreign header gives no
context, never an error.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from hashlib import sha256

VERSION = "00"
# The source of a file's context: events made from a file start traces of their own, which
# link to it (`file_context`).
FILE_SOURCE = "partner-file"
SAMPLED = "01"
TRACESTATE_KEY = "edalake"
_TRACEPARENT = re.compile(r"^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$")
_SPAN_ID = re.compile(r"^[0-9a-f]{16}$")
_INVALID_TRACE = "0" * 32
_INVALID_SPAN = "0" * 16


@dataclass(frozen=True)
class TraceContext:
    """The trace an event belongs to, the span that published it, and its cause's span."""

    trace_id: str  # 32 lowercase hex digits, never all zero
    span_id: str  # 16 lowercase hex digits, never all zero
    parent_span_id: str | None = None  # the cause's span; None for the root of a trace

    def traceparent(self) -> str:
        return f"{VERSION}-{self.trace_id}-{self.span_id}-{SAMPLED}"

    def tracestate(self) -> str | None:
        if self.parent_span_id is None:
            return None
        return f"{TRACESTATE_KEY}={self.parent_span_id}"


def _hex(kind: str, source: str, event_id: str, digits: int) -> str:
    digest = sha256(f"{kind}|{source}|{event_id}".encode()).hexdigest()[:digits]
    # All zeros is invalid in W3C Trace Context; a digest that short of luck is nudged.
    return digest if digest.strip("0") else "1".rjust(digits, "0")


def span_id_of(source: str, event_id: str) -> str:
    """The span that published the event (`source`, `event_id`)."""
    return _hex("span", source, event_id, 16)


def root_context(source: str, event_id: str) -> TraceContext:
    """The context of an event that starts a trace of its own."""
    return TraceContext(_hex("trace", source, event_id, 32), span_id_of(source, event_id))


def file_context(file_name: str) -> TraceContext:
    """The context of a file that events were made from (a partner's sales file, by name):
    the root of a trace of its own. The events made from it start their own traces, and
    their spans link to this one."""
    return root_context(FILE_SOURCE, file_name)


def child_context(cause: TraceContext | None, source: str, event_id: str) -> TraceContext:
    """The context of an event caused by one with `cause`: its trace, the cause as parent.
    A cause that carried no context (a foreign producer's event) starts a new trace."""
    if cause is None:
        return root_context(source, event_id)
    return TraceContext(cause.trace_id, span_id_of(source, event_id), cause.span_id)


def parse(traceparent: str | None, tracestate: str | None = None) -> TraceContext | None:
    """The context in an event's headers; None when `traceparent` is absent or malformed
    (a future version's extra fields are ignored, as the W3C specification asks)."""
    if not traceparent:
        return None
    text = traceparent.strip().lower()
    head = text[:55]
    match = _TRACEPARENT.match(head)
    if match is None or match.group(1) == "ff" or (len(text) > 55 and match.group(1) == "00"):
        return None
    trace_id, span_id = match.group(2), match.group(3)
    if trace_id == _INVALID_TRACE or span_id == _INVALID_SPAN:
        return None
    return TraceContext(trace_id, span_id, _parent_in(tracestate))


def _parent_in(tracestate: str | None) -> str | None:
    for member in (tracestate or "").split(","):
        key, _, value = member.strip().partition("=")
        if key == TRACESTATE_KEY and _SPAN_ID.match(value.strip()):
            return value.strip()
    return None
