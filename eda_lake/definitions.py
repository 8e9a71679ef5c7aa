"""The Dagster code location: every domain's definitions and the shared resource."""

import dagster as dg

from eda_lake.defs.capture import jobs as capture
from eda_lake.defs.lake import definitions as lake
from eda_lake.defs.platform import assets as platform
from eda_lake.defs.resources import eda_lake_resource
from eda_lake.defs.teams import definitions as teams

defs = dg.Definitions.merge(
    platform.defs,
    teams.defs,
    capture.defs,
    lake.defs,
    dg.Definitions(resources={"eda_lake": eda_lake_resource()}),
)
