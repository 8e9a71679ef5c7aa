"""A team's subscriber: read its consumer group, react, store, checkpoint, then relay.

The team reads each hub carrying an event it handles. A hub may carry several events of one
aggregate: an event of a type the team does not handle is skipped by its CloudEvents `type`
property, before anything is decoded. Per partition and batch: decode each event of a
handled type and run the team's handler; a poison event
(no CloudEvents envelope, unknown schema id, undecodable body, a reaction that fails
validation) goes to dead letters, its half-made changes undone, and the batch goes on. The
team's state changes and the reactions of the whole batch are stored in one transaction of
the team's store (the reactions in its outbox), and only then is the partition checkpointed;
the relay sends the outbox once the subscribed partitions are read. A subscriber killed
before the checkpoint reprocesses the batch after restart: the same reactions have the same
ids (and trace contexts, derived from them), and the outbox stores each once.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from eda_lake.catalogue import Catalogue, EventSpec, Hub
from eda_lake.events.cloudevents import CloudEvent, CloudEventError, attributes
from eda_lake.events.publisher import OutgoingEvent, Publisher
from eda_lake.events.wire import AvroDecoder, PayloadError
from eda_lake.hub.base import EventData, EventHubClient, PropertyValue, ReceivedEvent
from eda_lake.registry.base import RegistryError
from eda_lake.shared.cloudevents_names import TYPE
from eda_lake.shared.trace_context import TraceContext
from eda_lake.simulation.dead_letters import DeadLetter, DeadLetterStore
from eda_lake.simulation.outbox import AFTER_REACTIONS_STORED, StepHook, TeamStore, no_hook
from eda_lake.simulation.relay import Relay
from eda_lake.telemetry import spans


class ReactionError(ValueError):
    """A handler cannot react to an event (unknown reference, failed validation)."""


@dataclass(frozen=True)
class Incoming:
    """A received event: its envelope, its decoded payload, and where it was read."""

    envelope: CloudEvent
    record: dict[str, Any]
    origin: str

    @property
    def trace(self) -> TraceContext | None:
        """The trace the event belongs to, which its reactions continue (None: they start
        their own)."""
        return self.envelope.trace_context()


Handler = Callable[[Incoming], list[OutgoingEvent]]


@dataclass
class SubscriberReport:
    received: int = 0
    reactions: int = 0
    dead_lettered: int = 0
    replayed: int = 0
    skipped: int = 0  # other events of a read hub's aggregate, never decoded
    by_event: dict[str, int] = field(default_factory=dict)


_POISON = (CloudEventError, PayloadError, RegistryError, ReactionError)


class Subscriber:
    def __init__(
        self,
        team: str,
        catalogue: Catalogue,
        hub: EventHubClient,
        decoder: AvroDecoder,
        publisher: Publisher,
        dead_letters: DeadLetterStore,
        handlers: Mapping[str, Handler],
        store: TeamStore,
        batch_size: int = 500,
        on_step: StepHook = no_hook,
    ) -> None:
        self.team = team
        self.catalogue = catalogue
        self.hub = hub
        self.decoder = decoder
        self.publisher = publisher
        self.dead_letters = dead_letters
        self.handlers = handlers
        self.store = store
        self.relay = Relay(store, publisher, dead_letters, on_step)
        self.batch_size = batch_size
        self.on_step = on_step
        subscribed = {e.name for e in catalogue.subscriptions_of(team)}
        unknown = set(handlers) - subscribed
        if unknown:
            raise ValueError(
                f"team {team} has handlers for {sorted(unknown)} but the catalogue does not "
                "subscribe it to them; add the team to those events' subscribers"
            )

    def run(self) -> SubscriberReport:
        """Process everything available in every read hub's partitions, batch by batch."""
        report = SubscriberReport()
        for hub in self._read_hubs():
            for partition in self.hub.partition_ids(hub.name):
                while self._run_batch(hub, partition, report):
                    pass
        self.relay.run()
        return report

    def _read_hubs(self) -> list[Hub]:
        """The hubs carrying an event the team handles."""
        return [
            h
            for h in self.catalogue.hubs.values()
            if any(e.name in self.handlers for e in h.events)
        ]

    def _run_batch(self, hub: Hub, partition: str, report: SubscriberReport) -> bool:
        events = self.hub.receive(hub.name, self.team, partition, self.batch_size)
        if not events:
            return False
        prepared: list[tuple[str, EventData]] = []
        skipped = 0
        with self.store.transaction():
            for event in events:
                try:
                    spec = self._event_of(hub, event.properties)
                    if spec.name not in self.handlers:
                        skipped += 1
                        continue
                    report.by_event[spec.name] = report.by_event.get(spec.name, 0) + 1
                    with (
                        spans.reacting(self.team, hub.name, event.partition_id, event.properties),
                        self.store.savepoint(),
                    ):
                        prepared += self._react(spec, event)
                except _POISON as exc:
                    self._dead_letter(hub.name, event, exc)
                    report.dead_lettered += 1
            report.reactions += self.store.enqueue(prepared)
        report.received += len(events) - skipped
        report.skipped += skipped
        self.on_step(AFTER_REACTIONS_STORED)
        self.hub.checkpoint(hub.name, self.team, partition, events[-1].sequence_number)
        return True

    @staticmethod
    def _event_of(hub: Hub, properties: Mapping[str, PropertyValue]) -> EventSpec:
        """The hub's event of this CloudEvents `type`, read from the properties alone."""
        ce_type = attributes(properties).get(TYPE)
        if not ce_type:
            raise CloudEventError(
                f"not a CloudEvent: missing attribute(s) ['{TYPE}'] (on hub {hub.name})"
            )
        spec = hub.carrying(ce_type)
        if spec is None:
            carried = ", ".join(repr(e.cloudevents_type()) for e in hub.events)
            raise ReactionError(
                f"event type {ce_type!r} on hub {hub.name}, which carries {carried}"
            )
        return spec

    def _react(self, spec: EventSpec, event: ReceivedEvent) -> list[tuple[str, EventData]]:
        return self._handle(
            spec,
            event.properties,
            event.content_type,
            event.body,
            f"{spec.hub}/{event.partition_id}",
        )

    def _handle(
        self,
        spec: EventSpec,
        properties: Mapping[str, PropertyValue],
        content_type: str | None,
        body: bytes,
        origin: str,
    ) -> list[tuple[str, EventData]]:
        envelope = CloudEvent.from_properties(properties)
        if envelope.type != spec.cloudevents_type():
            raise ReactionError(
                f"event type {envelope.type!r} on hub {spec.hub}, which carries "
                f"{spec.cloudevents_type()!r}"
            )
        record = self.decoder.decode(
            body, content_type=content_type, dataschema=envelope.dataschema, reader=spec.schema
        )
        reactions = self.handlers[spec.name](Incoming(envelope, record, origin))
        # Encoding validates each reaction against its schema before anything is sent.
        return [self.publisher.prepare(r) for r in reactions]

    def _dead_letter(self, hub: str, event: ReceivedEvent, exc: Exception) -> None:
        self.dead_letters.add(
            team=self.team,
            origin=hub,
            partition_id=event.partition_id,
            sequence_number=event.sequence_number,
            reason=f"{type(exc).__name__}: {exc}",
            body=event.body,
            properties=event.properties,
            content_type=event.content_type,
            partition_key=event.partition_key,
        )

    def replay_dead_letters(self) -> SubscriberReport:
        """Hand the team's stored letters from hubs back to its handlers (after a fix)."""
        report = SubscriberReport()
        read = {h.name: h for h in self._read_hubs()}
        for letter in self.dead_letters.list(self.team):
            if letter.origin not in read:
                continue
            if self._replay(read[letter.origin], letter, report):
                self.dead_letters.mark_replayed(letter.id)
                report.replayed += 1
        self.relay.run()
        return report

    def _replay(self, hub: Hub, letter: DeadLetter, report: SubscriberReport) -> bool:
        try:
            spec = self._event_of(hub, letter.properties)
            if spec.name not in self.handlers:
                raise ReactionError(f"team {self.team} has no handler for {spec.name}")
            with (
                spans.reacting(self.team, hub.name, "dead-letter", letter.properties),
                self.store.transaction(),
            ):
                prepared = self._handle(
                    spec, letter.properties, letter.content_type, letter.body, "dead-letter"
                )
                report.reactions += self.store.enqueue(prepared)
        except _POISON:
            report.dead_lettered += 1
            return False
        return True
