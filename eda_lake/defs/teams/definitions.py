"""The teams' jobs and schedule."""

from __future__ import annotations

import dagster as dg

from eda_lake.defs.teams.jobs import (
    conversions_subscriber_job,
    customer_subscriber_job,
    partner_files_job,
    publish_job,
)
from eda_lake.defs.teams.schedules import simulation_schedule, simulation_tick_job

defs = dg.Definitions(
    jobs=[
        publish_job,
        conversions_subscriber_job,
        customer_subscriber_job,
        partner_files_job,
        simulation_tick_job,
    ],
    schedules=[simulation_schedule],
)
