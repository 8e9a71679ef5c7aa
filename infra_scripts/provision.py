"""`python -m infra_scripts.provision plan|apply`: provision the configured target.

`plan` prints what `apply` would create or change and touches nothing; `apply` brings the
namespace, the schema registry and the lake's areas to the catalogue's desired state, in a
safe order and idempotently. The Dagster `platform` assets call the same code.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from eda_lake.catalogue import CatalogueError
from eda_lake.lake.layout import LakeLayout
from eda_lake.provisioning import local as provisioning
from eda_lake.provisioning.desired import desired_state
from eda_lake.settings import Settings, SettingsError
from eda_lake.simulation.runtime import Simulation


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra_scripts.provision", description=__doc__)
    parser.add_argument("action", choices=["plan", "apply"])
    args = parser.parse_args(argv)
    try:
        settings = Settings.from_env()
        simulation = Simulation(settings)
    except (SettingsError, CatalogueError, NotImplementedError) as exc:
        print(f"provision: error: {exc}", file=sys.stderr)
        return 2
    try:
        desired = desired_state(simulation.catalogue)
        step = provisioning.plan if args.action == "plan" else provisioning.apply
        layout = LakeLayout.from_settings(settings)
        actions = step(desired, simulation.hub, simulation.registry, layout)
    finally:
        simulation.close()
    print(f"target {settings.target.value}, namespace {settings.namespace}:")
    for action in actions:
        print(f"  {action}")
    verb = "would change" if args.action == "plan" else "changed"
    print(f"{len(actions)} resource(s) {verb}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
