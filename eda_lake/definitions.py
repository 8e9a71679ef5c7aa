"""The Dagster code location (workspace.yaml, `dagster dev`): the definitions for this
process's environment. See `eda_lake.defs.build`."""

from eda_lake.defs.build import build_definitions

defs = build_definitions()
