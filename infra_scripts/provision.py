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
from eda_lake.provisioning.runtime import provision
from eda_lake.settings import Settings, SettingsError


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra_scripts.provision", description=__doc__)
    parser.add_argument("action", choices=["plan", "apply"])
    args = parser.parse_args(argv)
    try:
        settings = Settings.from_env()
        actions = provision(settings, plan_only=args.action == "plan")
    except (SettingsError, CatalogueError, NotImplementedError) as exc:
        print(f"provision: error: {exc}", file=sys.stderr)
        return 2
    print(f"target {settings.target.value}, namespace {settings.namespace}:")
    for action in actions:
        print(f"  {action}")
    verb = "would change" if args.action == "plan" else "changed"
    print(f"{len(actions)} resource(s) {verb}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
