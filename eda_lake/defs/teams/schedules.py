"""Keeps the simulation running under `dagster dev`: a small population every few minutes."""

import dagster as dg

from eda_lake.defs.capture.jobs import capture_windows
from eda_lake.defs.resources import EdaLakeResource
from eda_lake.defs.teams.jobs import (
    conversions_subscriber,
    customer_subscriber,
    partner_files,
    publish_population,
    simulation_chain,
)
from eda_lake.provisioning.runtime import provision


@dg.job(description="The demo: a seeded population through the whole chain, then capture.")
def demo_job() -> None:
    capture_windows(after=simulation_chain())


@dg.job(
    description="One turn of the whole chain: publish, react, sell, purchase (capture_windows_"
    "sensor captures each window as it closes)."
)
def simulation_tick_job() -> None:
    leads = conversions_subscriber.alias("conversions_leads")(after=publish_population())
    sales = partner_files(after=leads)
    purchases = conversions_subscriber.alias("conversions_purchases")(after=sales)
    customer_subscriber(after=purchases)


@dg.schedule(
    job=simulation_tick_job,
    cron_schedule="*/5 * * * *",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="A new seeded population of 50 customers every five minutes.",
)
def simulation_schedule(
    context: dg.ScheduleEvaluationContext, eda_lake: EdaLakeResource
) -> dg.RunRequest | dg.SkipReason:
    pending = provision(eda_lake.settings(), plan_only=True, environ=eda_lake.variables())
    if pending:
        return dg.SkipReason(
            f"the platform is not provisioned yet ({len(pending)} changes pending, first "
            f"{pending[0].kind} {pending[0].name}): materialize the platform group (job "
            "provision_platform) in the UI, then the simulation starts at the next tick"
        )
    tick = context.scheduled_execution_time
    seed = int(tick.timestamp()) // 60 if tick else 0  # a new population per tick
    return dg.RunRequest(
        run_key=f"simulation-{seed}",
        run_config={"ops": {"publish_population": {"config": {"customers": 50, "seed": seed}}}},
    )
