"""The simulation's parts, assembled once from settings through the adapter factories."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from eda_lake.catalogue import Catalogue, load_catalogue
from eda_lake.events.publisher import OutgoingEvent, Publisher
from eda_lake.events.wire import AvroDecoder, AvroEncoder
from eda_lake.hub.base import EventHubClient, HubNotFoundError
from eda_lake.hub.factory import make_hub_client
from eda_lake.registry.base import SchemaRegistry
from eda_lake.registry.factory import make_registry
from eda_lake.settings import Settings
from eda_lake.shared.closing import close_all
from eda_lake.shared.progress import Progress, no_progress
from eda_lake.simulation import conversions_state, customer_state, partners, product_state, teams
from eda_lake.simulation.conversions_state import ConversionsState
from eda_lake.simulation.customer_state import CustomerState
from eda_lake.simulation.dead_letters import DeadLetterStore, dead_letters_file
from eda_lake.simulation.outbox import StepHook, TeamStore, no_hook, team_store_file
from eda_lake.simulation.product_state import ProductState
from eda_lake.simulation.relay import Relay, RelayReport
from eda_lake.simulation.subscriber import Subscriber, SubscriberReport
from eda_lake.simulation.team_names import TEAMS_WITH_STORES, TEAMS_WITH_SUBSCRIPTIONS

# Changes stored per transaction when a team makes many at once (a population's sign-ups).
CHANGES_PER_TRANSACTION = 5000
_SCHEMAS = {
    "product": product_state.SCHEMA,
    "customer": customer_state.SCHEMA,
    "conversions": conversions_state.SCHEMA,
}


@dataclass
class ChainReport:
    """Counts along the causal chain, as the publishers and subscribers saw them."""

    products: int = 0
    customers: int = 0
    subscribers: dict[str, SubscriberReport] = field(default_factory=dict)
    partner_files: int = 0
    partner_sales: int = 0
    sales_confirmed: int = 0
    bad_partner_rows: int = 0


class Simulation:
    """The teams at work. `on_step` is called at the moments named in `outbox` (the kill
    tests end the process there)."""

    def __init__(
        self,
        settings: Settings,
        catalogue: Catalogue | None = None,
        on_step: StepHook = no_hook,
    ) -> None:
        self.settings = settings
        self.catalogue = catalogue or load_catalogue(settings.schema_dir, settings.catalogue_file)
        self.hub: EventHubClient = make_hub_client(settings)
        self.registry: SchemaRegistry = make_registry(settings)
        self.encoder = AvroEncoder(self.registry, self.catalogue.schema_group)
        self.decoder = AvroDecoder(self.registry)
        self.publisher = Publisher(self.hub, self.encoder, self.catalogue)
        self.on_step = on_step
        state_dir = settings.simulation_dir
        self.dead_letters = DeadLetterStore(dead_letters_file(settings))
        # Conversions' store was its state file before the teams had outboxes: the same file.
        self.stores = {
            team: TeamStore(team, team_store_file(state_dir, team), _SCHEMAS[team], on_step)
            for team in TEAMS_WITH_STORES
        }
        self.product_state = ProductState(self.stores["product"])
        self.customer_state = CustomerState(self.stores["customer"])
        self.conversions_state = ConversionsState(self.stores["conversions"])
        self.partner_drops = state_dir / "partner_drops"

    def close(self) -> None:
        close_all(self.hub, self.registry, self.dead_letters, *self.stores.values())

    def relay(
        self, team: str, progress: Progress = no_progress, stage: str | None = None
    ) -> RelayReport:
        """Send the team's pending outbox rows."""
        relay = Relay(self.stores[team], self.publisher, self.dead_letters, self.on_step)
        return relay.run(progress, stage or f"relay {team}")

    def _store_changes(
        self,
        team: str,
        events: Iterable[OutgoingEvent],
        changes: Callable[[list[OutgoingEvent]], list[bool]],
        progress: Progress,
        stage: str,
        total: int | None = None,
    ) -> int:
        """Store the changes the events report (`changes` stores a chunk's and says which
        were changes) with those events in the team's outbox, CHANGES_PER_TRANSACTION to a
        transaction; returns how many were changes."""
        store, stored, read, remaining = self.stores[team], 0, 0, iter(events)
        while chunk := list(itertools.islice(remaining, CHANGES_PER_TRANSACTION)):
            with store.transaction():
                changed = changes(chunk)
                prepared = (
                    self.publisher.prepare(e) for e, c in zip(chunk, changed, strict=True) if c
                )
                stored += store.enqueue(prepared)
            read += len(chunk)
            progress(stage, read, total)
        return stored

    def subscriber(self, team: str) -> Subscriber:
        handlers = {
            "customer": lambda: teams.customer_handlers(self.catalogue, self.customer_state),
            "conversions": lambda: teams.conversions_handlers(
                self.catalogue, self.conversions_state
            ),
        }
        if team not in handlers:
            raise ValueError(
                f"team {team!r} subscribes to nothing; teams with subscribers: "
                f"{', '.join(TEAMS_WITH_SUBSCRIPTIONS)}"
            )
        return Subscriber(
            team,
            self.catalogue,
            self.hub,
            self.decoder,
            self.publisher,
            self.dead_letters,
            handlers[team](),
            self.stores[team],
            on_step=self.on_step,
        )

    def events_received(self) -> int:
        """Events the teams' consumer groups have processed (sequence numbers checkpointed)."""
        total = 0
        for team in TEAMS_WITH_SUBSCRIPTIONS:
            for spec in self.catalogue.subscriptions_of(team):
                try:
                    partitions = self.hub.partition_ids(spec.hub)
                except HubNotFoundError:
                    continue  # not provisioned here: a lake fed by other producers
                for partition in partitions:
                    checkpoint = self.hub.checkpoint_of(spec.hub, team, partition)
                    total += 0 if checkpoint is None else checkpoint + 1
        return total

    def publish_products(self, seed: int, progress: Progress = no_progress) -> int:
        """Product stores its seeded catalogue, then relays; returns the products changed."""
        events = teams.product_catalogue(self.catalogue, seed)
        changed = self._store_changes(
            "product",
            events,
            lambda chunk: [self.product_state.update_product(e.record) for e in chunk],
            progress,
            "store ProductUpdated",
        )
        self.relay("product", progress, "publish ProductUpdated")
        return changed

    def publish_customers(self, seed: int, count: int, progress: Progress = no_progress) -> int:
        """Customer stores `count` seeded sign-ups, then relays; returns the customers new to
        its store."""
        events = teams.customer_signups(self.catalogue, seed, count)
        created = self._store_changes(
            "customer",
            events,
            lambda chunk: self.customer_state.add_customers([e.record for e in chunk]),
            progress,
            "store CustomerCreated",
            count,
        )
        self.relay("customer", progress, "publish CustomerCreated")
        return created

    def drop_partner_files(self) -> partners.PartnerDropReport:
        return partners.drop_partner_files(self.conversions_state, self.partner_drops)

    def ingest_partner_files(self) -> partners.PartnerIngestReport:
        report = partners.ingest_partner_files(
            self.catalogue,
            self.conversions_state,
            self.publisher,
            self.dead_letters,
            self.partner_drops,
        )
        self.relay("conversions")
        return report

    def run_chain(self, seed: int, customers: int, progress: Progress = no_progress) -> ChainReport:
        """The whole causal chain for a seeded population, each step after the one it needs."""
        report = ChainReport()
        report.products = self.publish_products(seed, progress)
        report.customers = self.publish_customers(seed, customers, progress)
        report.subscribers["conversions"] = self.subscriber("conversions").run()
        drop = self.drop_partner_files()
        report.partner_files, report.partner_sales = len(drop.files), drop.sales
        ingested = self.ingest_partner_files()
        report.sales_confirmed, report.bad_partner_rows = (
            ingested.sales_confirmed,
            ingested.bad_rows,
        )
        report.subscribers["conversions (sales)"] = self.subscriber("conversions").run()
        report.subscribers["customer"] = self.subscriber("customer").run()
        return report
