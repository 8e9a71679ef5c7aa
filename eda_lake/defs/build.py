"""The code location's definitions for an environment: every domain's and the resource.

The simulation (the teams' synthetic publishers, partners' files, their schedule, the
dead-letter check) and the embedded hub's capture exist only on the embedded default
(`EDA_LAKE_TARGET=local`): with Azure, no synthetic customer can reach a real hub, and the
capture files are Event Hubs Capture's (an external asset). Steps run in the run's own
process (no subprocess per step): a run's cost is its work.
"""

from __future__ import annotations

from collections.abc import Mapping

import dagster as dg

from eda_lake.catalogue import load_catalogue
from eda_lake.defs import hubs, properties
from eda_lake.defs.capture import jobs as capture
from eda_lake.defs.lake import definitions as lake
from eda_lake.defs.platform import assets as platform
from eda_lake.defs.resources import eda_lake_resource
from eda_lake.defs.teams import definitions as teams
from eda_lake.embedded.owner_only import owner_only_tree
from eda_lake.settings import Settings, Target


def build_definitions(environ: Mapping[str, str] | None = None) -> dg.Definitions:
    """The definitions for an environment (default: this process's)."""
    settings = Settings.from_env(environ)
    # Code servers and run workers load these definitions before they write to Dagster's
    # instance (event logs, compute logs): from here on they create it owner-only.
    owner_only_tree(settings.dagster_home, create=False, named_by=settings.dagster_home_variable)
    catalogue = load_catalogue(settings.schema_dir, settings.catalogue_file)
    parts = [
        platform.defs,
        dg.Definitions(assets=hubs.hub_specs(catalogue)),
        lake.build(settings, catalogue),
    ]
    if settings.target is Target.LOCAL:
        parts += [teams.defs, capture.build(catalogue)]
    else:
        parts.append(dg.Definitions(assets=[hubs.capture_files_spec(catalogue)]))
    shared = dg.Definitions(
        resources={"eda_lake": eda_lake_resource(environ)}, executor=dg.in_process_executor
    )
    return properties.apply(dg.Definitions.merge(*parts, shared), catalogue)
