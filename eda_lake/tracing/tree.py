"""An event's causal tree, or a customer's: the events, each under its cause.

Within a trace, an event's cause is the event whose span is its parent span (both read from
its traceparent and tracestate). A sale made from a partner's file starts a trace of its
own, and an event that carried no trace context is a trace by itself: those are joined to
their cause through the domain keys (`DOMAIN_CAUSES`: the customer's creation, its lead or
abandonment, the sale, the purchase).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from itertools import pairwise
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from eda_lake.lake.derived.declarations import SILVER, event_table
from eda_lake.lake.event_index import EVENT, TRACE, EventIndex
from eda_lake.shared.errors import UserError
from eda_lake.tracing.places import LakePlaces, Places, seconds_between

# (event, its cause's event, the key they share): how the chain continues across traces.
DOMAIN_CAUSES = (
    ("LeadGenerated", "CustomerCreated", "customer_id"),
    ("LeadAbandoned", "CustomerCreated", "customer_id"),
    ("SaleConfirmed", "LeadGenerated", "lead_id"),
    ("LeadPurchased", "SaleConfirmed", "sale_id"),
    ("CustomerPurchased", "LeadPurchased", "sale_id"),
)
# A customer's events, in the order they are found: (event, the key found by), each key
# known from the customer's id or from the ids of the events found before (its leads').
CUSTOMER_CHAIN = (
    ("CustomerCreated", "customer_id"),
    ("LeadGenerated", "customer_id"),
    ("LeadAbandoned", "customer_id"),
    ("SaleConfirmed", "lead_id"),
    ("CustomerPurchased", "customer_id"),
    ("LeadPurchased", "customer_id"),
)


class UnknownEventError(UserError):
    """The id names no event the lake holds."""


@dataclass
class TracedEvent:
    event_id: str
    source: str
    type: str | None
    event: str | None  # the catalogue's name for its type
    time: datetime | None  # CloudEvents time: when the producer says it happened
    trace_id: str | None
    span_id: str | None
    parent_span_id: str | None
    bronze: list[dict[str, Any]]  # each delivery (a resent event has several)
    places: Places
    caused_by: str | None = None  # how it hangs under its parent: "span", or a domain key
    asked: bool = False  # the event `eda-lake trace EVENT_ID` named
    children: list[TracedEvent] = field(default_factory=list)

    @property
    def enqueued(self) -> datetime:
        first: datetime = min(b["enqueued_time"] for b in self.bronze)
        return first

    def hops(self) -> list[dict[str, Any]]:
        """Each hop the event made, from its publish (the broker's enqueued time) on, with
        the seconds it took from the one before."""
        first = min(self.bronze, key=lambda b: b["enqueued_time"])
        stops: list[tuple[str, datetime | None]] = [
            ("published", first["enqueued_time"]),
            ("bronze", first["ingested_at"]),
        ]
        if self.places.silver:
            stops.append(("silver", self.places.silver[0]["at"]))
        if self.places.entities:
            stops.append(("entities", _latest(self.places.entities)))
        if self.places.gold:
            stops.append(("gold", _latest(self.places.gold)))
        hops = []
        for (_, before), (name, at) in pairwise(stops):
            hops.append({"to": name, "at": at, "seconds": seconds_between(before, at)})
        return [{"to": "published", "at": first["enqueued_time"], "seconds": None}, *hops]

    def walk(self) -> Iterable[TracedEvent]:
        yield self
        for child in self.children:
            yield from child.walk()


class Tracer:
    def __init__(self, index: EventIndex, places: LakePlaces) -> None:
        self.index = index
        self.lake = places

    def event(self, event_id: str) -> list[TracedEvent]:
        """The causal tree of the event with this CloudEvents id: its customer's whole chain
        where it belongs to one (found up the domain keys from it or from its trace's
        events), else its trace; the event itself marked `asked`."""
        found = self.index.find(EVENT, [event_id])
        if found.num_rows == 0:
            raise UnknownEventError(
                f"no event with id {event_id!r} in the lake: check the id (a CloudEvents id, "
                "as `eda-lake sql` shows in bronze.events ce_id), or ingest first (eda-lake "
                "ingest)"
            )
        roots = self._trees(found)
        traced = [e for root in roots for e in root.walk()]
        customer = next(filter(None, (self._customer_of(e) for e in traced)), None)
        if customer is not None:
            chain = set(self._customer_events(customer)) - {e.event_id for e in traced}
            if chain:
                roots = self._trees(self.index.find(EVENT, sorted({event_id, *chain})))
        for root in roots:
            for event in root.walk():
                event.asked = event.event_id == event_id
        return roots

    def _customer_of(self, event: TracedEvent) -> str | None:
        """The customer an event's chain starts from: up its causes' domain keys (a sale's
        lead names the customer) from its silver row's keys."""
        keys = event.places.keys
        name = event.event
        while "customer_id" not in keys:
            up = next(((c, k) for n, c, k in DOMAIN_CAUSES if n == name and k in keys), None)
            if up is None:
                return None
            name, key = up
            table = event_table(name)
            found = self.lake.rows(
                SILVER, table, key, [keys[key]], self.lake.id_columns(SILVER, table)
            ).to_pylist()
            if not found:
                return None
            keys = {k: v for k, v in found[0].items() if isinstance(v, str)}
        return keys["customer_id"]

    def customer(self, customer_id: str) -> list[TracedEvent]:
        """The causal trees of a customer's events, joined through the domain keys."""
        ids = self._customer_events(customer_id)
        if not ids:
            raise UnknownEventError(
                f"no events of customer {customer_id!r} in silver: check the id (silver."
                "customers customer_id), or build silver first (eda-lake silver)"
            )
        return self._trees(self.index.find(EVENT, ids))

    def _customer_events(self, customer_id: str) -> list[str]:
        """The ids of a customer's events in silver, down the domain keys."""
        keys: dict[str, set[str]] = {"customer_id": {customer_id}}
        for name, key in CUSTOMER_CHAIN:
            table = event_table(name)
            columns = self.lake.id_columns(SILVER, table)
            for row in self.lake.rows(
                SILVER, table, key, sorted(keys.get(key, ())), columns
            ).to_pylist():
                for column in columns:
                    if isinstance(row[column], str):
                        keys.setdefault(column, set()).add(row[column])
        return sorted(keys.get("event_id", ()))

    def _trees(self, found: pa.Table) -> list[TracedEvent]:
        traces = [t for t in pc.unique(found["trace_id"]).to_pylist() if t]
        members = pa.concat_tables([found, self.index.find(TRACE, traces)])
        events = self._events(members)
        by_span = {e.span_id: e for e in events if e.span_id}
        roots = []
        for event in sorted(events, key=lambda e: e.enqueued):
            parent = by_span.get(event.parent_span_id or "")
            if parent is not None and parent is not event:
                event.caused_by = "span"
                parent.children.append(event)
            elif not self._join_by_domain(event, events):
                roots.append(event)
        return roots

    def _join_by_domain(self, event: TracedEvent, events: list[TracedEvent]) -> bool:
        keys = event.places.keys
        for name, cause_name, key in DOMAIN_CAUSES:
            if event.event != name or key not in keys:
                continue
            cause = next(
                (
                    c
                    for c in events
                    if c.event == cause_name and c.places.keys.get(key) == keys[key]
                ),
                None,
            )
            if cause is not None:
                event.caused_by = key
                cause.children.append(event)
                return True
        return False

    def _events(self, rows: pa.Table) -> list[TracedEvent]:
        """One TracedEvent per (source, id) of the index rows, its deliveries together."""
        # An event's rows: keyed by its id and by its trace id, once per delivery each.
        deliveries: dict[tuple[str, str], dict[tuple[str, str, int], dict[str, Any]]] = {}
        for row in rows.to_pylist():
            event = (row["ce_source"] or "", row["ce_id"] or "")
            delivery = (row["hub"], row["partition_id"], row["sequence_number"])
            deliveries.setdefault(event, {})[delivery] = row
        events = []
        for (source, event_id), delivered in deliveries.items():
            copies = sorted(delivered.values(), key=lambda c: c["enqueued_time"])
            first = copies[0]
            files = sorted({c["source_file"] for c in copies})
            spec = self.lake.spec(first["ce_type"])
            events.append(
                TracedEvent(
                    event_id=event_id,
                    source=source,
                    type=first["ce_type"],
                    event=spec.name if spec else None,
                    time=first["ce_time"],
                    trace_id=first["trace_id"],
                    span_id=first["span_id"],
                    parent_span_id=first["parent_span_id"],
                    bronze=[_bronze_place(c) for c in copies],
                    places=self.lake.places(
                        source,
                        event_id,
                        first["ce_type"],
                        files,
                        min(c["bronze_version"] for c in copies),
                    ),
                )
            )
        return events


def _latest(places: list[dict[str, Any]]) -> datetime | None:
    """When the event had reached every one of these tables (None: a time is unknown)."""
    times = [p["at"] for p in places]
    return None if None in times else max(times)


def _bronze_place(row: dict[str, Any]) -> dict[str, Any]:
    return {
        name: row[name]
        for name in (
            "hub", "partition_id", "sequence_number", "enqueued_time", "source_file",
            "bronze_version", "ingested_at",
        )
    }  # fmt: skip
