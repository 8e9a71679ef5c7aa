"""The teams at work: publishers, subscribers and partners' files, as ops and jobs.

Each op calls the simulation's plain functions and reports what it did as metadata, and
materializes the hub assets (`hub/<hub>`) it published into, with the events it sent to
each: the lineage shows which team's run fed which hub. The `after` inputs carry no data:
they only order ops when a job chains them.
"""

import time
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict
from typing import Any, cast

import dagster as dg
from pydantic import Field

from eda_lake.defs.hubs import hub_key
from eda_lake.defs.resources import EdaLakeResource
from eda_lake.hub.base import Batch, EventData, EventHubClient
from eda_lake.simulation.outbox import OutboxSummary
from eda_lake.simulation.runtime import ChainReport, Simulation


class PopulationConfig(dg.Config):
    customers: int = Field(default=1000, description="New customers per round.")
    seed: int = Field(
        default=42, description="Seeds the population: the same seed, the same people."
    )
    seconds: float = Field(
        default=0.0,
        description="Keep publishing new populations (seed + round) for this long; 0: one round.",
    )


class _CountingHub:
    """The simulation's hub client, counting the events a run sends to each hub."""

    def __init__(self, hub: EventHubClient) -> None:
        self._hub = hub
        self.sent: Counter[str] = Counter()

    def send(self, hub: str, events: Sequence[EventData], **options: Any) -> int:
        sent = self._hub.send(hub, events, **options)
        self.sent[hub] += sent
        return sent

    def send_batches(self, batches: Iterable[Batch]) -> Iterator[tuple[str, int]]:
        for hub, sent in self._hub.send_batches(batches):
            self.sent[hub] += sent
            yield hub, sent

    def __getattr__(self, name: str) -> Any:
        return getattr(self._hub, name)


@contextmanager
def team_run(context: dg.OpExecutionContext, eda_lake: EdaLakeResource) -> Iterator[Simulation]:
    """The simulation for one op. Afterwards, even when the op failed (a hub out of reach
    leaves its events pending): each hub it published into is materialized with the events
    it sent, and every hub whose team's outbox still holds events is observed with how many
    and the oldest one's age."""
    simulation = eda_lake.simulation()
    counting = _CountingHub(simulation.publisher.hub)
    simulation.publisher.hub = cast(EventHubClient, counting)
    try:
        yield simulation
    finally:
        outboxes = {team: store.summary() for team, store in simulation.stores.items()}
        simulation.close()
        _report_hubs(context, simulation, counting.sent, outboxes)


def _report_hubs(
    context: dg.OpExecutionContext,
    simulation: Simulation,
    sent: Counter[str],
    outboxes: dict[str, OutboxSummary],
) -> None:
    now_ms = int(time.time() * 1000)
    for hub in sorted(simulation.catalogue.hubs.values(), key=lambda h: h.name):
        outbox = outboxes.get(hub.team)
        metadata: dict[str, Any] = {"published_by": hub.team}
        if outbox is not None:
            age = outbox.oldest_age_seconds(now_ms)
            metadata["outbox_pending"] = outbox.pending
            metadata["outbox_oldest_pending_age_s"] = 0.0 if age is None else age
        if sent[hub.name]:
            metadata["events_in_run"] = sent[hub.name]
            context.log_event(dg.AssetMaterialization(hub_key(hub), metadata=metadata))
        elif outbox is not None and outbox.pending:
            # Recorded at once, not with the op's events, which a failed op does not keep:
            # pending events are what a failed run (a hub out of reach) leaves behind.
            context.instance.report_runless_asset_event(
                dg.AssetObservation(hub_key(hub), metadata=metadata)
            )


@dg.op(
    description="Product publishes its catalogue; Customer publishes new customers.",
    ins={"after": dg.In(dg.Nothing)},
)
def publish_population(
    context: dg.OpExecutionContext, config: PopulationConfig, eda_lake: EdaLakeResource
) -> dg.Output[int]:
    started, rounds, published = time.monotonic(), 0, 0
    with team_run(context, eda_lake) as simulation:
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
    return dg.Output(published, metadata={"events": published, "rounds": rounds})


def _subscriber_op(team: str) -> dg.OpDefinition:
    @dg.op(
        name=f"{team}_subscriber",
        description=f"Run the {team} team's subscriber once.",
        ins={"after": dg.In(dg.Nothing)},
    )
    def run_subscriber(context: dg.OpExecutionContext, eda_lake: EdaLakeResource) -> dg.Output[int]:
        with team_run(context, eda_lake) as simulation:
            report = simulation.subscriber(team).run()
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
    with team_run(context, eda_lake) as simulation:
        dropped = simulation.drop_partner_files()
        ingested = simulation.ingest_partner_files()
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


class ChainConfig(dg.Config):
    customers: int = Field(default=1000, description="Customers of the seeded population.")
    seed: int = Field(default=42, description="The population's seed.")


@dg.op(
    description="The whole causal chain for a seeded population, each team after the one "
    "it needs: products, customers, leads, partners' sales, purchases."
)
def simulation_chain(
    context: dg.OpExecutionContext, config: ChainConfig, eda_lake: EdaLakeResource
) -> ChainReport:
    with team_run(context, eda_lake) as simulation:
        return simulation.run_chain(seed=config.seed, customers=config.customers)
