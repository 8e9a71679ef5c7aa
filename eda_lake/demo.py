"""`eda-lake demo`: everything end to end on the embedded default, for a seeded population."""

from __future__ import annotations

from dataclasses import dataclass

from eda_lake.capture.embedded import CaptureReport, EmbeddedCapture
from eda_lake.hub.factory import make_local_hub
from eda_lake.lake.layout import LakeLayout
from eda_lake.provisioning import local as provisioning
from eda_lake.provisioning.desired import desired_state
from eda_lake.settings import Settings
from eda_lake.simulation.runtime import ChainReport, Simulation


@dataclass
class DemoReport:
    provisioned: int
    chain: ChainReport
    capture: CaptureReport
    lake: LakeLayout


def embedded_capture(settings: Settings, simulation: Simulation) -> EmbeddedCapture:
    return EmbeddedCapture(
        make_local_hub(settings),
        LakeLayout(settings.lake_dir).capture,
        simulation.catalogue.capture,
        settings.hub_dir,
    )


def run_demo(settings: Settings, *, customers: int, seed: int) -> DemoReport:
    simulation = Simulation(settings)
    lake = LakeLayout(settings.lake_dir)
    try:
        changes = provisioning.apply(
            desired_state(simulation.catalogue), simulation.hub, simulation.registry, lake
        )
        chain = simulation.run_chain(seed=seed, customers=customers)
        capture = embedded_capture(settings, simulation)
        try:
            # The demo does not wait for open windows to close: it flushes them.
            captured = capture.run(flush=True)
        finally:
            capture.close()
    finally:
        simulation.close()
    return DemoReport(len(changes), chain, captured, lake)
