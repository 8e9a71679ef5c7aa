"""The teams at work: publishers, subscribers and partners' files, as ops and jobs.

Each op calls the simulation's plain functions and reports what it did as metadata. The
`after` inputs carry no data: they only order ops when a job chains them.
"""

import time
from dataclasses import asdict

import dagster as dg

from eda_lake.defs.resources import EdaLakeResource


class PopulationConfig(dg.Config):
    customers: int = 1000
    seed: int = 42
    seconds: float = 0.0  # if > 0: keep publishing new populations for this long


@dg.op(
    description="Product publishes its catalogue; Customer publishes new customers.",
    ins={"after": dg.In(dg.Nothing)},
)
def publish_population(
    context: dg.OpExecutionContext, config: PopulationConfig, eda_lake: EdaLakeResource
) -> dg.Output[int]:
    simulation = eda_lake.simulation()
    started, rounds, published = time.monotonic(), 0, 0
    try:
        published += simulation.publish_products(config.seed)
        while True:
            seed = config.seed + rounds
            published += simulation.publish_customers(seed, config.customers)
            rounds += 1
            elapsed = time.monotonic() - started
            context.log.info(
                f"published {published} events in {elapsed:.1f} s "
                f"({published / max(elapsed, 1e-9):,.0f} events/s), round {rounds}"
            )
            if elapsed >= config.seconds:
                break
    finally:
        simulation.close()
    return dg.Output(published, metadata={"events": published, "rounds": rounds})


def _subscriber_op(team: str) -> dg.OpDefinition:
    @dg.op(
        name=f"{team}_subscriber",
        description=f"Run the {team} team's subscriber once.",
        ins={"after": dg.In(dg.Nothing)},
    )
    def run_subscriber(context: dg.OpExecutionContext, eda_lake: EdaLakeResource) -> dg.Output[int]:
        simulation = eda_lake.simulation()
        try:
            report = simulation.subscriber(team).run()
        finally:
            simulation.close()
        context.log.info(f"{team}: {report}")
        return dg.Output(report.reactions, metadata=dict(asdict(report)))

    return run_subscriber


conversions_subscriber = _subscriber_op("conversions")
customer_subscriber = _subscriber_op("customer")


@dg.op(
    description="Partners drop files of sold leads; Conversions turns rows into sales.",
    ins={"after": dg.In(dg.Nothing)},
)
def partner_files(context: dg.OpExecutionContext, eda_lake: EdaLakeResource) -> dg.Output[int]:
    simulation = eda_lake.simulation()
    try:
        dropped = simulation.drop_partner_files()
        ingested = simulation.ingest_partner_files()
    finally:
        simulation.close()
    context.log.info(f"dropped {dropped}; ingested {ingested}")
    return dg.Output(
        ingested.sales_confirmed,
        metadata={"files": ingested.files, "bad_rows": ingested.bad_rows},
    )


@dg.job(description="Publish a seeded population: products and customers.")
def publish_job() -> None:
    publish_population()


@dg.job(description="Conversions: leads from new customers, purchased leads from sales.")
def conversions_subscriber_job() -> None:
    conversions_subscriber()


@dg.job(description="Customer: purchasing customers from purchased leads.")
def customer_subscriber_job() -> None:
    customer_subscriber()


@dg.job(description="Partners' sales files into SaleConfirmed events.")
def partner_files_job() -> None:
    partner_files()
