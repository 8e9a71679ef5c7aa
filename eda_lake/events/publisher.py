"""Turns domain records into CloudEvents on the hub: encode, envelope, route, batch."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from eda_lake.catalogue import Catalogue
from eda_lake.events.cloudevents import CloudEvent
from eda_lake.events.wire import AvroEncoder
from eda_lake.hub.base import EventData, EventHubClient

# Reaction ids are uuid5 in this namespace, so a replayed reaction carries its first id.
EVENT_ID_NAMESPACE = uuid.UUID("6b1d3c52-4f0e-4b7a-9a51-2f1f0d1c7e3a")


def derived_event_id(*parts: str) -> str:
    """A deterministic CloudEvents id from what caused the event."""
    return str(uuid.uuid5(EVENT_ID_NAMESPACE, "|".join(parts)))


@dataclass(frozen=True)
class OutgoingEvent:
    """A domain record to publish as the catalogue event `event`."""

    event: str
    record: Mapping[str, Any]
    id: str
    source: str
    time: datetime


class Publisher:
    """Publishes in batches per hub; `batch_size` events per send (one transaction each)."""

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

    def prepare(self, outgoing: OutgoingEvent) -> tuple[str, EventData]:
        """Encode and envelope one event: (hub, event). Raises PayloadError if the record
        does not fit its schema, before anything is sent."""
        spec = self.catalogue.event(outgoing.event)
        payload = self.encoder.encode(outgoing.record, spec.schema)
        key = str(outgoing.record[spec.partition_key])
        envelope = CloudEvent(
            id=outgoing.id,
            source=outgoing.source,
            type=spec.cloudevents_type(),
            time=outgoing.time,
            subject=key,
            dataschema=self.encoder.registry.schema_uri(payload.schema_id),
        )
        data = EventData(
            body=payload.body,
            properties=envelope.to_properties(),
            partition_key=key,
            content_type=payload.content_type,
        )
        return spec.hub, data

    def send(self, prepared: Iterable[tuple[str, EventData]]) -> int:
        pending: dict[str, list[EventData]] = {}
        sent = 0
        for hub, data in prepared:
            batch = pending.setdefault(hub, [])
            batch.append(data)
            if len(batch) >= self.batch_size:
                sent += self.hub.send(hub, batch)
                pending[hub] = []
        for hub, batch in pending.items():
            sent += self.hub.send(hub, batch)
        return sent

    def publish(self, events: Iterable[OutgoingEvent]) -> int:
        return self.send(self.prepare(e) for e in events)
