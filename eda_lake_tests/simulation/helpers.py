"""Read back what the teams published, decoded, for assertions."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from eda_lake.capture.embedded import CaptureReport
from eda_lake.capture.runtime import run_capture
from eda_lake.events.cloudevents import CloudEvent
from eda_lake.events.publisher import OutgoingEvent
from eda_lake.hub.base import EventData
from eda_lake.lake.runtime import Lake
from eda_lake.provisioning.runtime import provision
from eda_lake.settings import Settings
from eda_lake.simulation.outbox import TeamStore, team_store_file
from eda_lake.simulation.runtime import Simulation


def provisioned(settings: Settings) -> Simulation:
    provision(settings)
    return Simulation(settings)


def publish(simulation: Simulation, events: Iterable[OutgoingEvent]) -> int:
    """Publish as the teams' services do: each event stored in its owning team's outbox, then
    relayed; a team the simulation does not run gets a store holding only its outbox.
    Returns how many events the hub acknowledged."""
    per_team: dict[str, list[tuple[str, EventData]]] = {}
    for event in events:
        team = simulation.catalogue.event(event.event).team
        per_team.setdefault(team, []).append(simulation.publisher.prepare(event))
    sent = 0
    for team, prepared in per_team.items():
        store = simulation.stores.get(team)
        if store is None:
            path = team_store_file(simulation.settings.simulation_dir, team)
            store = simulation.stores[team] = TeamStore(team, path)
        with store.transaction():
            store.enqueue(prepared)
        sent += simulation.relay(team).sent
    return sent


def captured_chain(settings: Settings, seed: int, customers: int) -> CaptureReport:
    """A provisioned embedded hub after the whole causal chain of a seeded population, its
    capture windows written (the open ones too)."""
    simulation = provisioned(settings)
    try:
        simulation.run_chain(seed=seed, customers=customers)
    finally:
        simulation.close()
    return run_capture(settings, flush=True)


def lake_through_gold(
    settings: Settings, seed: int, customers: int, pii_key: str | None = None
) -> Lake:
    """The lake of `captured_chain`'s population: its capture files through bronze, silver
    and gold."""
    captured_chain(settings, seed=seed, customers=customers)
    lake = Lake(settings, pii_key=pii_key)
    lake.ingest()
    lake.silver()
    lake.gold()
    return lake


def published(simulation: Simulation, event: str) -> list[tuple[CloudEvent, dict[str, Any]]]:
    """The event's own on its hub, which may carry other events of its aggregate."""
    spec = simulation.catalogue.event(event)
    hub = simulation.hub
    result = []
    for partition in hub.partition_ids(spec.hub):
        for received in hub.read(spec.hub, partition, None, 10**7):  # type: ignore[attr-defined]
            envelope = CloudEvent.from_properties(received.properties)
            if envelope.type != spec.cloudevents_type():
                continue
            record = simulation.decoder.decode(received.body, content_type=received.content_type)
            result.append((envelope, record))
    return result
