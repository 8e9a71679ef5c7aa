"""The event index (`eda-lake trace`'s lookup) as an asset that follows bronze.

Indexing costs more than ingesting the same events (README, "Follow one event"), so it is
no part of an ingestion run: its own runs, launched as gold's are (an automation condition
and a sensor evaluating it), keep it at most one run behind bronze, and `eda-lake trace`
indexes whatever is newer before it looks up.
"""

import dagster as dg

from eda_lake.defs.lake.assets import BRONZE
from eda_lake.defs.lake.jobs import FOLLOW_INTERVAL_S
from eda_lake.defs.resources import EdaLakeResource

EVENT_INDEX = dg.AssetKey(["bronze", "event_index"])


@dg.asset(
    key=EVENT_INDEX,
    deps=[BRONZE],
    group_name="bronze",
    kinds={"deltalake"},
    # After each bronze commit, once no run of bronze or of the index is in flight.
    automation_condition=dg.AutomationCondition.eager(),
    description="Each bronze event by its CloudEvents id and by its trace id, with its bronze "
    "place (lake/_index/): what `eda-lake trace` looks up.",
)
def event_index(eda_lake: EdaLakeResource) -> dg.MaterializeResult:  # type: ignore[type-arg]
    report = eda_lake.lake().index_events()
    metadata: dict[str, dg.RawMetadataValue] = {
        "events_in_run": report.events,
        "rows_merged_in_run": report.rows_merged,
    }
    if report.bronze_version is not None:
        metadata["bronze_version"] = report.bronze_version
    return dg.MaterializeResult(metadata=metadata)


event_index_automation_sensor = dg.AutomationConditionSensorDefinition(
    "event_index_automation_sensor",
    target=dg.AssetSelection.assets(EVENT_INDEX),
    minimum_interval_seconds=FOLLOW_INTERVAL_S,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="The event index follows bronze (its automation condition): after each bronze "
    "commit it indexes the new events.",
)
