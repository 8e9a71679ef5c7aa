"""`python -m infra_scripts.provision plan|apply [--target local|azure]`.

`plan` prints what `apply` would create or change and touches nothing; `apply` brings the
target to the catalogue's desired state, in a safe order and idempotently.

- local: the embedded namespace, schema registry and lake (the Dagster `platform` assets
  call the same code).
- azure: resource group, Event Hubs namespace (Standard), lake storage account (hierarchical
  namespace, capture and lake containers, discovery queue, lifecycle policy), checkpoint
  storage account, schema group, hubs with Capture, consumer groups, hub-scoped Send and
  Listen rules, and the Event Grid subscription that feeds the discovery queue. It needs
  EDA_LAKE_AZURE_SUBSCRIPTION_ID, EDA_LAKE_AZURE_LOCATION, EDA_LAKE_ENVIRONMENT and
  EDA_LAKE_NAME_SUFFIX, and signs in with DefaultAzureCredential.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from collections.abc import Sequence

from eda_lake.console.faults import describe, quiet_sign_in_warnings
from eda_lake.provisioning.runtime import provision
from eda_lake.settings import Settings, Target


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra_scripts.provision", description=__doc__)
    parser.add_argument("action", choices=["plan", "apply"])
    parser.add_argument(
        "--target", choices=["local", "azure"], help="default: EDA_LAKE_TARGET, else local"
    )
    args = parser.parse_args(argv)
    plan_only = args.action == "plan"
    quiet_sign_in_warnings()
    try:
        settings = Settings.from_env()
        if args.target:
            settings = dataclasses.replace(settings, target=Target(args.target))
        actions = provision(settings, plan_only=plan_only)
    except Exception as exc:
        message = describe(exc)  # a mistake or a fault of the environment, in one line
        if message is None:
            raise  # a bug keeps its traceback
        print(f"provision: error: {message}", file=sys.stderr)
        return 2
    print(f"target {settings.target.value}:")
    for action in actions:
        print(f"  {action}")
    verb = "would change" if plan_only else "changed"
    print(f"{len(actions)} resource(s) {verb}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
