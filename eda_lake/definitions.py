"""The Dagster code location: every domain's definitions and the shared resource.

The simulation (the teams' synthetic publishers, partners' files, their schedule, the
dead-letter check) and the embedded hub's capture exist only on the embedded default
(`EDA_LAKE_TARGET=local`): with Azure, no synthetic customer can reach a real hub.
"""

from __future__ import annotations

from collections.abc import Mapping

import dagster as dg

from eda_lake.defs.capture import jobs as capture
from eda_lake.defs.lake import definitions as lake
from eda_lake.defs.platform import assets as platform
from eda_lake.defs.resources import eda_lake_resource
from eda_lake.defs.teams import definitions as teams
from eda_lake.settings import Settings, Target


def build_definitions(environ: Mapping[str, str] | None = None) -> dg.Definitions:
    """The definitions for an environment (default: this process's)."""
    parts = [platform.defs, lake.defs]
    if Settings.from_env(environ).target is Target.LOCAL:
        parts += [teams.defs, capture.defs]
    resources = dg.Definitions(resources={"eda_lake": eda_lake_resource(environ)})
    return dg.Definitions.merge(*parts, resources)


defs = build_definitions()
