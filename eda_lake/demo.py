"""`eda-lake demo`: everything end to end on the embedded default, for a seeded population."""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa

from eda_lake.capture.embedded import CaptureReport
from eda_lake.capture.runtime import run_embedded_capture
from eda_lake.lake.bronze import BronzeReport
from eda_lake.lake.gold import GoldReport
from eda_lake.lake.layout import LakeLayout
from eda_lake.lake.masking import demo_key
from eda_lake.lake.runtime import Lake, SilverRun
from eda_lake.progress import Progress, no_progress
from eda_lake.provisioning.runtime import provision
from eda_lake.settings import Settings
from eda_lake.simulation.runtime import ChainReport, Simulation


@dataclass
class DemoReport:
    provisioned: int
    chain: ChainReport
    capture: CaptureReport
    lake: LakeLayout
    bronze: BronzeReport
    silver: SilverRun
    gold: GoldReport
    funnel: pa.Table
    demo_pii_key: bool


def run_demo(
    settings: Settings, *, customers: int, seed: int, progress: Progress = no_progress
) -> DemoReport:
    simulation = Simulation(settings)
    layout = LakeLayout.from_settings(settings)
    try:
        changes = provision(settings, catalogue=simulation.catalogue)
        chain = simulation.run_chain(seed=seed, customers=customers, progress=progress)
        # The demo does not wait for open windows to close: it flushes them.
        captured = run_embedded_capture(
            settings, flush=True, catalogue=simulation.catalogue, progress=progress
        )
    finally:
        simulation.close()
    # Demo data only: without a configured key, one is derived from the seed (and said so).
    lake = Lake(settings, simulation.catalogue, pii_key=settings.pii_key or demo_key(seed))
    bronze = lake.ingest(progress=progress)
    silver = lake.silver(progress)
    gold = lake.gold(progress=progress)
    return DemoReport(
        provisioned=len(changes),
        chain=chain,
        capture=captured,
        lake=layout,
        bronze=bronze,
        silver=silver,
        gold=gold,
        funnel=lake.funnel(),
        demo_pii_key=settings.pii_key is None,
    )
