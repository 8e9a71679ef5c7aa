"""Gold: what the business asks, keyed on the events' own business time.

Incremental: each gold table records, as application transactions, the version of every silver
event table it has seen. A run reads only the silver rows added since, finds the business days
they touch (customers' cohort days, sales days) and recomputes just those days, replacing them
in one commit (`overwrite` with a predicate on the day column).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import pyarrow as pa
import pyarrow.compute as pc
from deltalake import CommitProperties, DeltaTable, Transaction, write_deltalake
from deltalake.exceptions import CommitFailedError

from eda_lake.lake import tables
from eda_lake.lake.entities import EVENT_TABLES, event_tables
from eda_lake.lake.layout import LakeLayout

MAX_CONFLICT_RETRIES = 5
ENTITY_NAMES = ("products", "customers", "leads", "sales", "purchases")
# Silver event tables whose rows name the customer whose cohort day they change.
CUSTOMER_EVENTS = (
    "customer_created", "lead_generated", "lead_abandoned", "lead_purchased", "customer_purchased",
)  # fmt: skip


@dataclass(frozen=True)
class GoldTable:
    name: str
    day_column: str  # the business day a row belongs to
    day_filter: str  # the same column as the query names it
    sql: str  # `{days}` is replaced by the filter on `day_filter`


HOURS = "(date_part('epoch', {end}) - date_part('epoch', {start})) / 3600.0"

GOLD_TABLES = (
    GoldTable(
        "funnel_daily",
        "cohort_date",
        "c.cohort_date",
        """
        SELECT c.cohort_date,
               count(*) AS customers,
               count(l.lead_id) AS leads,
               sum(CASE WHEN l.outcome = 'abandoned' THEN 1 ELSE 0 END) AS abandoned,
               sum(CASE WHEN l.customer_id IS NULL THEN 1 ELSE 0 END) AS undecided,
               count(l.sale_id) AS sales,
               count(p.customer_id) AS purchasers,
               CAST(count(l.lead_id) AS DOUBLE) / count(*) AS lead_rate,
               CAST(count(l.sale_id) AS DOUBLE) / NULLIF(count(l.lead_id), 0) AS sale_rate,
               CAST(count(p.customer_id) AS DOUBLE) / count(*) AS purchase_rate
        FROM customers c
        LEFT JOIN leads l ON l.customer_id = c.customer_id
        LEFT JOIN (SELECT DISTINCT customer_id FROM purchases) p ON p.customer_id = c.customer_id
        WHERE {days}
        GROUP BY c.cohort_date
        """,
    ),
    GoldTable(
        "sales_daily",
        "sale_date",
        "s.sale_date",
        """
        SELECT s.sale_date, s.partner_id, s.product_id, pr.sku, pr.name AS product_name,
               s.currency, count(*) AS sales, sum(s.amount) AS revenue
        FROM sales s
        LEFT JOIN products pr ON pr.product_id = s.product_id
        WHERE {days}
        GROUP BY s.sale_date, s.partner_id, s.product_id, pr.sku, pr.name, s.currency
        """,
    ),
    GoldTable(
        "time_to_convert",
        "cohort_date",
        "cohort_date",
        f"""
        SELECT cohort_date, step, count(*) AS conversions,
               min(hours) AS min_hours,
               median(hours) AS p50_hours,
               percentile_cont(0.9) WITHIN GROUP (ORDER BY hours) AS p90_hours,
               max(hours) AS max_hours
        FROM (
            SELECT cohort_date, 'customer_to_lead' AS step,
                   {HOURS.format(end="generated_at", start="created_at")} AS hours
            FROM leads WHERE lead_id IS NOT NULL
            UNION ALL
            SELECT cohort_date, 'lead_to_sale',
                   {HOURS.format(end="sold_at", start="generated_at")}
            FROM leads WHERE sale_id IS NOT NULL
            UNION ALL
            SELECT cohort_date, 'customer_to_purchase',
                   {HOURS.format(end="purchased_at", start="created_at")}
            FROM leads WHERE purchased_at IS NOT NULL
        ) AS steps
        WHERE {{days}}
        GROUP BY cohort_date, step
        """,
    ),
    GoldTable(
        "abandoned_customers",
        "cohort_date",
        "l.cohort_date",
        """
        SELECT l.cohort_date, l.customer_id, l.abandoned_at, l.abandon_reason AS reason,
               c.country, c.channel
        FROM leads l
        JOIN customers c ON c.customer_id = l.customer_id
        WHERE l.outcome = 'abandoned' AND {days}
        """,
    ),
)


@dataclass
class GoldReport:
    days_recomputed: dict[str, int] = field(default_factory=dict)
    rows_written: dict[str, int] = field(default_factory=dict)


def _day_filter(column: str, days: set[date] | None) -> str:
    if days is None:
        return "TRUE"
    if not days:
        return "FALSE"  # nothing to recompute; the commit still records the progress
    listed = ", ".join(f"DATE '{d.isoformat()}'" for d in sorted(days))
    return f"{column} IN ({listed})"


class GoldBuilder:
    def __init__(self, layout: LakeLayout) -> None:
        self.layout = layout
        self.options = layout.storage_options

    def _sources(self) -> tuple[dict[str, DeltaTable], dict[str, DeltaTable]] | None:
        sources = event_tables(self.layout)
        entities = {
            name: tables.open_table(self.layout.table_uri("silver", name), self.options)
            for name in ENTITY_NAMES
        }
        if sources is None or any(t is None for t in entities.values()):
            return None
        return sources, {name: t for name, t in entities.items() if t is not None}

    def pending_days(self) -> set[date]:
        """The business days that new silver rows touch, over every gold table (every day
        with data for a table that does not exist yet)."""
        found = self._sources()
        if found is None:
            return set()
        sources, entities = found
        pending: set[date] = set()
        for gold in GOLD_TABLES:
            existing = tables.open_table(self.layout.table_uri("gold", gold.name), self.options)
            if existing is None:
                pending |= self._all_days(gold, entities)
                continue
            done, versions = self._progress(existing, sources)
            if not all(_covers(done[n], versions[n]) for n in EVENT_TABLES):
                pending |= self._touched_days(gold, sources, entities, done, versions)
        return pending

    def run(self, days: set[date] | None = None) -> GoldReport:
        """Recompute the days new silver rows touch (or exactly `days`), table by table.

        Progress is recorded only when the days recomputed cover everything pending, so a
        partial recompute (one partition of a backfill) never hides other touched days.
        """
        report = GoldReport()
        found = self._sources()
        if found is None:
            return report
        sources, entities = found
        for gold in GOLD_TABLES:
            for attempt in range(MAX_CONFLICT_RETRIES + 1):
                try:
                    self._build(gold, sources, entities, report, days)
                    break
                except CommitFailedError:
                    # Another gold run replaced days first: recompute from what it left.
                    if attempt == MAX_CONFLICT_RETRIES:
                        raise
        return report

    @staticmethod
    def _progress(
        existing: DeltaTable, sources: dict[str, DeltaTable]
    ) -> tuple[dict[str, int | None], dict[str, int]]:
        done = {name: existing.transaction_version(f"silver:{name}") for name in EVENT_TABLES}
        return done, {name: table.version() for name, table in sources.items()}

    def _all_days(self, gold: GoldTable, entities: dict[str, DeltaTable]) -> set[date]:
        source = "sales" if gold.day_column == "sale_date" else "customers"
        rows = tables.query(f"SELECT DISTINCT {gold.day_column} AS d FROM {source}", **entities)
        return {d for d in rows["d"].to_pylist() if d is not None}

    def _build(
        self,
        gold: GoldTable,
        sources: dict[str, DeltaTable],
        entities: dict[str, DeltaTable],
        report: GoldReport,
        requested: set[date] | None,
    ) -> None:
        uri = self.layout.table_uri("gold", gold.name)
        existing = tables.open_table(uri, self.options)
        versions = {name: table.version() for name, table in sources.items()}
        if existing is None:
            pending: set[date] | None = None  # first build: every day
        else:
            done, versions = self._progress(existing, sources)
            caught_up = all(_covers(done[n], versions[n]) for n in EVENT_TABLES)
            pending = (
                set() if caught_up else self._touched_days(gold, sources, entities, done, versions)
            )
        if requested is None and pending == set():
            return  # nothing new for this table
        days = pending if requested is None else set(requested)
        if days is None:
            covers_pending = True
        elif pending is None:  # a first build of the days asked for: all of them?
            covers_pending = self._all_days(gold, entities) <= days
        else:
            covers_pending = pending <= days
        sql = gold.sql.format(days=_day_filter(gold.day_filter, days))
        rows = tables.query(sql, **entities)
        progress = [Transaction(f"silver:{n}", v) for n, v in versions.items()]
        commit = CommitProperties(
            app_transactions=progress if covers_pending else [], max_commit_retries=0
        )
        if existing is None:  # the first build (of every day, or of the days asked for)
            write_deltalake(
                uri,
                rows,
                mode="overwrite",
                schema_mode="overwrite",
                commit_properties=commit,
                storage_options=self.options,
            )
        else:
            write_deltalake(
                uri, rows, mode="overwrite", predicate=_day_filter(gold.day_column, days),
                commit_properties=commit, storage_options=self.options,
            )  # fmt: skip
        report.days_recomputed[gold.name] = -1 if days is None else len(days)
        report.rows_written[gold.name] = rows.num_rows

    def _touched_days(
        self,
        gold: GoldTable,
        sources: dict[str, DeltaTable],
        entities: dict[str, DeltaTable],
        done: dict[str, int | None],
        versions: dict[str, int],
    ) -> set[date]:
        def new(name: str, columns: list[str]) -> pa.Table:
            return tables.changes(sources[name], done[name], versions[name], columns)

        if gold.day_column == "sale_date":
            sales = tables.query("SELECT lead_id, sale_date, product_id FROM sales", **entities)
            new_leads = new("sale_confirmed", ["lead_id"])["lead_id"]
            days = pc.filter(sales["sale_date"], pc.is_in(sales["lead_id"], new_leads))
            products = new("product_updated", ["product_id"])["product_id"]
            days = pa.concat_arrays(
                [
                    days.combine_chunks(),
                    pc.filter(
                        sales["sale_date"], pc.is_in(sales["product_id"], products)
                    ).combine_chunks(),
                ]
            )
            return set(pc.unique(days).to_pylist())
        customers = tables.query("SELECT customer_id, cohort_date FROM customers", **entities)
        leads = tables.query("SELECT lead_id, cohort_date FROM leads", **entities)
        touched_customers = pa.concat_arrays(
            [new(name, ["customer_id"])["customer_id"].combine_chunks() for name in CUSTOMER_EVENTS]
        )
        touched_leads = new("sale_confirmed", ["lead_id"])["lead_id"].combine_chunks()
        days = pa.concat_arrays(
            [
                pc.filter(
                    customers["cohort_date"], pc.is_in(customers["customer_id"], touched_customers)
                ).combine_chunks(),
                pc.filter(
                    leads["cohort_date"], pc.is_in(leads["lead_id"], touched_leads)
                ).combine_chunks(),
            ]
        )
        return {d for d in pc.unique(days).to_pylist() if d is not None}


def _covers(done: int | None, version: int) -> bool:
    return done is not None and done >= version
