"""Read back what the teams published, decoded, for assertions."""

from __future__ import annotations

from typing import Any

from eda_lake.capture.embedded import CaptureReport
from eda_lake.capture.runtime import run_capture
from eda_lake.events.cloudevents import CloudEvent
from eda_lake.provisioning.runtime import provision
from eda_lake.settings import Settings
from eda_lake.simulation.runtime import Simulation


def provisioned(settings: Settings) -> Simulation:
    provision(settings)
    return Simulation(settings)


def captured_chain(settings: Settings, seed: int, customers: int) -> CaptureReport:
    """A provisioned embedded hub after the whole causal chain of a seeded population, its
    capture windows written (the open ones too)."""
    simulation = provisioned(settings)
    try:
        simulation.run_chain(seed=seed, customers=customers)
    finally:
        simulation.close()
    return run_capture(settings, flush=True)


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
