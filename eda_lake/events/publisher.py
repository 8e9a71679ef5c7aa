"""Turns domain records into CloudEvents for the hub: encode, envelope, route. A team stores
what `prepare` makes in its outbox; its relay sends it, in batches of `batch_size`. Every
event carries its trace context (`traceparent`, and `tracestate` naming its cause's span)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from hashlib import sha1
from typing import Any, NamedTuple

from eda_lake.catalogue import Catalogue
from eda_lake.events.cloudevents import binary_mode_properties
from eda_lake.events.wire import AvroEncoder
from eda_lake.hub.base import EventData, EventHubClient
from eda_lake.shared.trace_context import TraceContext, child_context

# Reaction ids are uuid5 in this namespace, so a replayed reaction carries its first id.
EVENT_ID_NAMESPACE = uuid.UUID("6b1d3c52-4f0e-4b7a-9a51-2f1f0d1c7e3a")
_NAMESPACE_BYTES = EVENT_ID_NAMESPACE.bytes


def derived_event_id(*parts: str) -> str:
    """A deterministic CloudEvents id from what caused the event: uuid5 of the parts.

    Equal to `str(uuid.uuid5(EVENT_ID_NAMESPACE, "|".join(parts)))`, formatted directly
    because publishers call it once per event.
    """
    digest = bytearray(sha1(_NAMESPACE_BYTES + "|".join(parts).encode()).digest()[:16])
    digest[6] = (digest[6] & 0x0F) | 0x50  # version 5
    digest[8] = (digest[8] & 0x3F) | 0x80  # RFC 4122 variant
    h = digest.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


class OutgoingEvent(NamedTuple):
    """A domain record to publish as the catalogue event `event`: a reaction names its
    cause's trace context (`cause`), and continues that trace; an event without one starts
    a trace of its own."""

    event: str
    record: Mapping[str, Any]
    id: str
    source: str
    time: datetime
    cause: TraceContext | None = None


class Publisher:
    """Prepares events for the hub client the teams' relays send through, `batch_size`
    events per send (one transaction each)."""

    def __init__(
        self,
        hub: EventHubClient,
        encoder: AvroEncoder,
        catalogue: Catalogue,
        batch_size: int = 500,
    ) -> None:
        self.hub = hub
        self.encoder = encoder
        self.catalogue = catalogue
        self.batch_size = batch_size
        self._uris: dict[str, str] = {}

    def prepare(self, outgoing: OutgoingEvent) -> tuple[str, EventData]:
        """Encode and envelope one event: (hub, event). Raises PayloadError if the record
        does not fit its schema, before anything is sent."""
        spec = self.catalogue.event(outgoing.event)
        payload = self.encoder.encode(outgoing.record, spec.schema)
        key = str(outgoing.record[spec.partition_key])
        dataschema = self._uris.get(payload.schema_id)
        if dataschema is None:
            dataschema = self._uris[payload.schema_id] = self.encoder.registry.schema_uri(
                payload.schema_id
            )
        # Derived from the event's source and id: an event prepared again (a replayed cause,
        # a replayed dead letter) carries the very same context.
        context = child_context(outgoing.cause, outgoing.source, outgoing.id)
        properties = binary_mode_properties(
            outgoing.id, outgoing.source, spec.cloudevents_type(), outgoing.time, key, dataschema,
            traceparent=context.traceparent(), tracestate=context.tracestate(),
        )  # fmt: skip
        data = EventData(payload.body, properties, key, payload.content_type)
        return spec.hub, data
