"""The simulated teams: their jobs, schedule and dead-letter check (embedded default only)."""

from __future__ import annotations

import dagster as dg

from eda_lake.defs.teams.checks import dead_letter_rate
from eda_lake.defs.teams.jobs import (
    conversions_subscriber_job,
    customer_subscriber_job,
    partner_files_job,
    publish_job,
)
from eda_lake.defs.teams.schedules import demo_job, simulation_schedule, simulation_tick_job

defs = dg.Definitions(
    jobs=[
        publish_job,
        conversions_subscriber_job,
        customer_subscriber_job,
        partner_files_job,
        simulation_tick_job,
        demo_job,
    ],
    schedules=[simulation_schedule],
    asset_checks=[dead_letter_rate],
)
