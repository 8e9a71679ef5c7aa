"""A team's subscriber: read its consumer group, react, store, checkpoint, then relay.

Per partition and batch: decode each event and run the team's handler; a poison event
(no CloudEvents envelope, unknown schema id, undecodable body, a reaction that fails
validation) goes to dead letters, its half-made changes undone, and the batch goes on. The
team's state changes and the reactions of the whole batch are stored in one transaction of
the team's store (the reactions in its outbox), and only then is the partition checkpointed;
the relay sends the outbox once the subscribed partitions are read. A subscriber killed
before the checkpoint reprocesses the batch after restart: the same reactions have the same
ids, and the outbox stores each once.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from eda_lake.catalogue import Catalogue, EventSpec
from eda_lake.events.cloudevents import CloudEvent, CloudEventError
from eda_lake.events.publisher import OutgoingEvent, Publisher
from eda_lake.events.wire import AvroDecoder, PayloadError
from eda_lake.hub.base import EventData, EventHubClient, PropertyValue, ReceivedEvent
from eda_lake.registry.base import RegistryError
from eda_lake.simulation.dead_letters import DeadLetter, DeadLetterStore
from eda_lake.simulation.outbox import AFTER_REACTIONS_STORED, StepHook, TeamStore, no_hook
from eda_lake.simulation.relay import Relay


class ReactionError(ValueError):
    """A handler cannot react to an event (unknown reference, failed validation)."""


@dataclass(frozen=True)
class Incoming:
    """A received event: its envelope, its decoded payload, and where it was read."""

    envelope: CloudEvent
    record: dict[str, Any]
    origin: str


Handler = Callable[[Incoming], list[OutgoingEvent]]


@dataclass
class SubscriberReport:
    received: int = 0
    reactions: int = 0
    dead_lettered: int = 0
    replayed: int = 0
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
        """Process everything available in every subscribed partition, batch by batch."""
        report = SubscriberReport()
        for name in self.handlers:
            spec = self.catalogue.event(name)
            for partition in self.hub.partition_ids(spec.hub):
                while self._run_batch(spec, partition, report):
                    pass
        self.relay.run()
        return report

    def _run_batch(self, spec: EventSpec, partition: str, report: SubscriberReport) -> bool:
        events = self.hub.receive(spec.hub, self.team, partition, self.batch_size)
        if not events:
            return False
        prepared: list[tuple[str, EventData]] = []
        with self.store.transaction():
            for event in events:
                try:
                    with self.store.savepoint():
                        prepared += self._react(spec, event)
                except _POISON as exc:
                    self._dead_letter(spec.hub, event, exc)
                    report.dead_lettered += 1
            report.reactions += self.store.enqueue(prepared)
        report.received += len(events)
        report.by_event[spec.name] = report.by_event.get(spec.name, 0) + len(events)
        self.on_step(AFTER_REACTIONS_STORED)
        self.hub.checkpoint(spec.hub, self.team, partition, events[-1].sequence_number)
        return True

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
        for letter in self.dead_letters.list(self.team):
            spec = self.catalogue.by_hub(letter.origin)
            if spec is None or spec.name not in self.handlers:
                continue
            if self._replay(spec, letter, report):
                self.dead_letters.mark_replayed(letter.id)
                report.replayed += 1
        self.relay.run()
        return report

    def _replay(self, spec: EventSpec, letter: DeadLetter, report: SubscriberReport) -> bool:
        try:
            with self.store.transaction():
                prepared = self._handle(
                    spec, letter.properties, letter.content_type, letter.body, "dead-letter"
                )
                report.reactions += self.store.enqueue(prepared)
        except _POISON:
            report.dead_lettered += 1
            return False
        return True
