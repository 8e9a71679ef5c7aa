"""The simulated teams' own health: their dead letters (the simulation exists only locally)."""

import dagster as dg

from eda_lake.defs.lake.assets import BRONZE
from eda_lake.defs.resources import EdaLakeResource

DEAD_LETTER_THRESHOLD = 0.01


@dg.asset_check(
    asset=BRONZE,
    description="The teams' dead letters relative to the events they received (<= 1%).",
)
def dead_letter_rate(eda_lake: EdaLakeResource) -> dg.AssetCheckResult:
    simulation = eda_lake.simulation()
    try:
        dead = simulation.dead_letters.count()
        received = simulation.events_received()
    finally:
        simulation.close()
    rate = dead / received if received else 0.0
    return dg.AssetCheckResult(
        passed=rate <= DEAD_LETTER_THRESHOLD,
        description=f"{dead} dead letters for {received} events received ({rate:.2%})",
        metadata={"dead_letters": dead, "received": received, "rate": rate},
    )
