"""A causal tree as text for a person, or as JSON for tools (`trace_document`).

The JSON document: {"query": {"event_id": ...} or {"customer_id": ...}, "events": [node]},
each node {"event_id", "source", "type", "event", "time", "trace_id", "span_id",
"parent_span_id", "caused_by", "asked", "bronze": [{"hub", "partition_id", "sequence_number",
"enqueued_time", "source_file", "bronze_version", "ingested_at"}], "silver": [{"table",
"keys", "at"}], "quarantine": [{"table", "reason", "at", "resolved_at"}], "dead_letters":
[{"team", "origin", "reason", "replayed"}], "entities": [{"table", "key", "at"}], "gold":
[{"table", "day", "at"}], "hops": [{"to", "at", "seconds"}], "children": [node]}; times are
ISO 8601 UTC, days YYYY-MM-DD.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from eda_lake.console.rows import json_value
from eda_lake.tracing.tree import TracedEvent


def trace_document(query: dict[str, str], roots: list[TracedEvent]) -> dict[str, Any]:
    return {"query": query, "events": [_node(root) for root in roots]}


def _node(event: TracedEvent) -> dict[str, Any]:
    places = event.places
    node = {
        "event_id": event.event_id,
        "source": event.source,
        "type": event.type,
        "event": event.event,
        "time": event.time,
        "trace_id": event.trace_id,
        "span_id": event.span_id,
        "parent_span_id": event.parent_span_id,
        "caused_by": event.caused_by,
        "asked": event.asked,
        "bronze": event.bronze,
        "silver": places.silver,
        "quarantine": places.quarantine,
        "dead_letters": places.dead_letters,
        "entities": places.entities,
        "gold": places.gold,
        "hops": event.hops(),
        "children": [_node(child) for child in event.children],
    }
    return json_value(node)  # type: ignore[no-any-return]


def trace_lines(roots: list[TracedEvent]) -> Iterator[str]:
    """The tree, one event a paragraph, each child indented under its cause."""
    for root in roots:
        yield from _event_lines(_node(root), 0)


def _event_lines(node: dict[str, Any], depth: int) -> Iterator[str]:
    pad = "    " * depth
    how = {None: "", "span": " <- its cause (span)"}.get(
        node["caused_by"], f" <- its cause by {node['caused_by']}"
    )
    kind = node["event"] or node["type"] or "event"  # a foreign producer's may name none
    asked = " (asked)" if node["asked"] else ""  # the event named in `trace EVENT_ID`
    yield f"{pad}{kind} {node['event_id']}{how}{asked}"
    yield f"{pad}  source {node['source']}, trace {node['trace_id'] or '-'}, span " + (
        f"{node['span_id'] or '-'}, parent {node['parent_span_id'] or '-'}"
    )
    for copy in node["bronze"]:
        yield (
            f"{pad}  hub      {copy['hub']} partition {copy['partition_id']} sequence "
            f"{copy['sequence_number']}, enqueued {copy['enqueued_time']}"
        )
        yield f"{pad}  capture  {copy['source_file']}"
        yield (f"{pad}  bronze   version {copy['bronze_version']}, ingested {copy['ingested_at']}")
    for row in node["silver"]:
        keys = ", ".join(f"{k}={v}" for k, v in sorted(row["keys"].items()))
        yield f"{pad}  silver   {row['table']} ({keys}) at {row['at']}"
    for row in node["quarantine"]:
        state = f"resolved {row['resolved_at']}" if row["resolved_at"] else "still quarantined"
        yield (
            f"{pad}  quarantine {row['table']} at {row['at']} ({state}): reason: {row['reason']}"
        )
    for letter in node["dead_letters"]:
        state = "replayed" if letter["replayed"] else "not replayed"
        yield (
            f"{pad}  dead letter of team {letter['team']} from {letter['origin']} ({state}): "
            f"reason: {letter['reason']}"
        )
    for row in node["entities"]:
        keys = ", ".join(f"{k}={v}" for k, v in row["key"].items())
        yield f"{pad}  entity   {row['table']} ({keys}) at {row['at']}"
    for row in node["gold"]:
        yield f"{pad}  gold     {row['table']} day {row['day']} at {row['at']}"
    hops = [
        f"{hop['to']} +{hop['seconds']:.1f} s" for hop in node["hops"] if hop["seconds"] is not None
    ]
    if hops:
        yield f"{pad}  hops     " + ", ".join(hops)
    for child in node["children"]:
        yield from _event_lines(child, depth + 1)
