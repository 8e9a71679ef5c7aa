"""The lake's derived tables, declared as data: silver entities and gold tables.

A declaration says what a table is (name, description, owner, columns), how it is computed
(`sql` over its sources, named by their table name), what identifies a row (`key`), the
business day a row belongs to (`day_column`), and, per source, how the rows of that source
that changed since the table last read it reach this table (`reach`):

- for an entity, the entity keys those rows touch; only those keys are recomputed and
  replaced;
- for a gold table, the business days they touch; only those days are.

A `Reach` names a column of the changed rows, optionally looked up in another source
(`via`: the lead of a confirmed sale reaches its customer through `lead_generated`).

The builders (`lake.entities`, `lake.gold`) and the Dagster definitions are generated from
these declarations: adding a gold table is one more `Derived` here.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from eda_lake.shared import names

SILVER, GOLD = "silver", "gold"


def qualified(layer: str, table: str) -> str:
    """silver + customers -> silver.customers, the name inputs and assets go by."""
    return f"{layer}.{table}"


def short(name: str) -> str:
    """silver.customers -> customers, the name a declaration's SQL reads it by."""
    return name.rpartition(".")[2]


def event_table(event: str) -> str:
    """CustomerCreated -> customer_created: the silver table of a catalogue event."""
    return names.table_name(re.sub(r"(?<!^)(?=[A-Z])", "_", event).lower())


@dataclass(frozen=True)
class Reach:
    column: str  # of the source's changed rows
    via: tuple[str, str, str] | None = None  # (source, its column matching, its column reached)


@dataclass(frozen=True)
class FirstRows:
    """What `{first}` stands for in a declaration's SQL: `source` read as one row per `key`,
    its first by `order` (a window's ranking). Ranking every row sorts the whole source in
    memory; most keys have one row, so a whole-table build ranks only the keys that have
    several (`derived.DerivedBuilder`)."""

    source: str  # short name
    key: str
    order: str  # an ORDER BY list

    def ranked(self, where: str = "") -> str:
        """The relation, ranking the rows `where` admits (a WHERE clause, or none)."""
        return (
            f"(SELECT * EXCLUDE (rn) FROM (SELECT *, row_number() OVER (PARTITION BY {self.key}"
            f" ORDER BY {self.order}) AS rn FROM {self.source}{where}) AS ranked WHERE rn = 1)"
        )


@dataclass(frozen=True)
class Derived:
    layer: str  # silver (entities) or gold
    name: str
    description: str
    owner: str  # the team that answers for it
    sql: str  # over the sources by short name
    reach: Mapping[str, Reach]  # qualified source -> how its changes reach this table
    key: tuple[str, ...]
    day_column: str | None = None
    # column -> description; a column not named here has its sources' description of it
    columns: Mapping[str, str] = field(default_factory=dict)
    first_rows: FirstRows | None = None  # what `{first}` in `sql` reads

    @property
    def qualified_name(self) -> str:
        return qualified(self.layer, self.name)

    @property
    def sources(self) -> tuple[str, ...]:
        """The qualified tables its SQL reads."""
        return tuple(self.reach)

    def query(self, first: str | None = None) -> str:
        """Its SQL, `{first}` read as the relation `first` (by default, ranking every row)."""
        if self.first_rows is None:
            return self.sql
        return self.sql.replace("{first}", first or self.first_rows.ranked())


def _silver(name: str) -> str:
    return qualified(SILVER, name)


ENTITY_TABLES: tuple[Derived, ...] = (
    Derived(
        SILVER,
        "products",
        "The product catalogue: the latest state of each product.",
        "product",
        """
        SELECT product_id, sku, name, category, price, currency, active, updated_at
        FROM {first} AS latest
        """,
        {_silver("product_updated"): Reach("product_id")},
        key=("product_id",),
        columns={
            "price": "Current list price in `currency` (the latest update's).",
            "active": "False once the product is withdrawn from sale (the latest update's).",
            "updated_at": "Business time of the product's latest change, UTC.",
        },
        first_rows=FirstRows("product_updated", "product_id", "updated_at DESC, event_id"),
    ),
    Derived(
        SILVER,
        "customers",
        "Customers, one row each, with their cohort day (the day they signed up).",
        "customer",
        """
        SELECT customer_id, created_at, CAST(created_at AS DATE) AS cohort_date,
               email, full_name, country, channel
        FROM {first} AS signup
        """,
        {_silver("customer_created"): Reach("customer_id")},
        key=("customer_id",),
        day_column="cohort_date",
        columns={
            "cohort_date": "UTC day the customer signed up (`created_at`'s date): the cohort "
            "gold's funnel and conversion times group by.",
            "email": "Keyed hash of the contact address (personal data, masked): equal "
            "addresses hash alike, so it still counts and joins.",
            "full_name": "Keyed hash of the name as given (personal data, masked).",
        },
        first_rows=FirstRows("customer_created", "customer_id", "created_at, event_id"),
    ),
    Derived(
        SILVER,
        "sales",
        "Sales partners' confirmed sales, one per lead, with the lead's customer and value.",
        "conversions",
        """
        SELECT s.sale_id, s.lead_id, s.partner_id, s.sold_at,
               CAST(s.sold_at AS DATE) AS sale_date,
               s.confirmed_at, s.partner_file, g.customer_id, g.product_id,
               g.expected_value AS amount, g.currency
        FROM {first} AS s
        LEFT JOIN lead_generated g ON g.lead_id = s.lead_id
        """,
        {
            _silver("sale_confirmed"): Reach("lead_id"),
            _silver("lead_generated"): Reach("lead_id"),
        },
        key=("lead_id",),
        day_column="sale_date",
        columns={
            "sale_date": "UTC day the partner sold the lead (`sold_at`'s date).",
            "customer_id": "The customer the sold lead is about; null while the lead is not "
            "in silver.lead_generated.",
            "product_id": "The product the sold lead was for; null while the lead is not in "
            "silver.lead_generated.",
            "amount": "Value of the sold lead in `currency`: the product's list price when the "
            "lead was generated (the lead's `expected_value`); null while the lead is unknown.",
            "currency": "ISO 4217 currency of `amount`.",
        },
        first_rows=FirstRows("sale_confirmed", "lead_id", "confirmed_at, sale_id"),
    ),
    Derived(
        SILVER,
        "purchases",
        "Customers' purchases, one per purchased lead.",
        "customer",
        """
        SELECT customer_id, lead_id, sale_id, product_id, amount, currency, purchased_at,
               CAST(purchased_at AS DATE) AS purchase_date
        FROM {first} AS purchase
        """,
        {_silver("customer_purchased"): Reach("lead_id")},
        key=("lead_id",),
        day_column="purchase_date",
        columns={
            "lead_id": "The purchased lead; one row each.",
            "purchase_date": "UTC day of the purchase (`purchased_at`'s date).",
        },
        first_rows=FirstRows("customer_purchased", "lead_id", "purchased_at, event_id"),
    ),
    Derived(
        SILVER,
        "leads",
        "Conversions' decision on each customer (a lead or abandoned) and how far it went; "
        "a lead's columns are null for an abandoned customer, the abandonment's for a lead.",
        "conversions",
        """
        WITH decisions AS (
            SELECT customer_id, lead_id, generated_at, product_id, partner_id, expected_value,
                   currency, CAST(NULL AS TIMESTAMP) AS abandoned_at,
                   CAST(NULL AS VARCHAR) AS reason
            FROM lead_generated
            UNION ALL
            SELECT customer_id, NULL, NULL, NULL, NULL, NULL, NULL, abandoned_at, reason
            FROM lead_abandoned
        ),
        first_sale AS (
            SELECT lead_id, sale_id, sold_at FROM (
                SELECT *, row_number() OVER (PARTITION BY lead_id ORDER BY confirmed_at, sale_id) rn
                FROM sale_confirmed) WHERE rn = 1
        ),
        first_purchase AS (
            SELECT lead_id, min(purchased_at) AS purchased_at FROM lead_purchased GROUP BY lead_id
        )
        SELECT d.customer_id, CAST(c.created_at AS DATE) AS cohort_date, c.created_at,
               d.lead_id, d.generated_at, d.product_id, d.partner_id, d.expected_value, d.currency,
               d.abandoned_at, d.reason AS abandon_reason, s.sale_id, s.sold_at, p.purchased_at,
               CASE WHEN p.purchased_at IS NOT NULL THEN 'purchased'
                    WHEN s.sale_id IS NOT NULL THEN 'sold'
                    WHEN d.lead_id IS NOT NULL THEN 'open'
                    ELSE 'abandoned' END AS outcome
        FROM decisions d
        LEFT JOIN (SELECT customer_id, min(created_at) AS created_at
                   FROM customer_created GROUP BY customer_id) c
               ON c.customer_id = d.customer_id
        LEFT JOIN first_sale s ON s.lead_id = d.lead_id
        LEFT JOIN first_purchase p ON p.lead_id = d.lead_id
        """,
        {
            _silver("lead_generated"): Reach("customer_id"),
            _silver("lead_abandoned"): Reach("customer_id"),
            _silver("customer_created"): Reach("customer_id"),
            _silver("sale_confirmed"): Reach(
                "lead_id", via=("lead_generated", "lead_id", "customer_id")
            ),
            _silver("lead_purchased"): Reach("customer_id"),
        },
        key=("customer_id",),
        day_column="cohort_date",
        columns={
            "customer_id": "The customer Conversions decided on (with a lead or abandoned).",
            "cohort_date": "UTC day the customer signed up; null while the sign-up is not in "
            "silver.customer_created.",
            "created_at": "Business time of the customer's sign-up, UTC (their earliest).",
            "lead_id": "The lead generated for the customer; null when abandoned.",
            "generated_at": "Business time the lead was qualified, UTC; null when abandoned.",
            "abandon_reason": "Why no lead was produced (silver.lead_abandoned's `reason`).",
            "sale_id": "The lead's first confirmed sale (earliest confirmation); null while "
            "unsold.",
            "sold_at": "Sale date the partner reported for that first sale, UTC.",
            "purchased_at": "The lead's earliest purchase, UTC (after its sale's confirmation); "
            "null while not purchased.",
            "outcome": "How far it went: purchased (a purchase recorded), sold (a confirmed "
            "sale, no purchase yet), open (a lead not sold yet) or abandoned (no lead).",
        },
    ),
)

_HOURS = "(date_part('epoch', {end}) - date_part('epoch', {start})) / 3600.0"


GOLD_TABLES: tuple[Derived, ...] = (
    Derived(
        GOLD,
        "funnel_daily",
        "The funnel per cohort day: customers, leads, abandoned, sales, purchasers, rates.",
        "conversions",
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
        GROUP BY c.cohort_date
        """,
        {
            _silver("customers"): Reach("cohort_date"),
            _silver("leads"): Reach("cohort_date"),
            _silver("purchases"): Reach(
                "customer_id", via=("customers", "customer_id", "cohort_date")
            ),
        },
        key=("cohort_date",),
        day_column="cohort_date",
        columns={
            "cohort_date": "UTC day the customers signed up: the cohort every figure of the "
            "row counts.",
            "customers": "Customers who signed up that day (silver.customers).",
            "leads": "Leads generated for the cohort's customers (silver.leads rows with a lead).",
            "abandoned": "Cohort customers Conversions abandoned (decided no lead).",
            "undecided": "Cohort customers Conversions has not decided on yet (neither a lead "
            "nor abandoned).",
            "sales": "Cohort leads a partner sold (with a confirmed sale).",
            "purchasers": "Cohort customers with a purchase in silver.purchases.",
            "lead_rate": "leads / customers: share of the cohort's sign-ups that became a "
            "lead, 0 to 1.",
            "sale_rate": "sales / leads: share of the cohort's leads a partner sold, 0 to 1; "
            "null when the cohort has no leads.",
            "purchase_rate": "purchasers / customers: share of the cohort's sign-ups that "
            "purchased, 0 to 1.",
        },
    ),
    Derived(
        GOLD,
        "sales_daily",
        "Sales and revenue per sale day, partner and product.",
        "conversions",
        """
        SELECT s.sale_date, s.partner_id, s.product_id, pr.sku, pr.name AS product_name,
               s.currency, count(*) AS sales, sum(s.amount) AS revenue
        FROM sales s
        LEFT JOIN products pr ON pr.product_id = s.product_id
        GROUP BY s.sale_date, s.partner_id, s.product_id, pr.sku, pr.name, s.currency
        """,
        {
            _silver("sales"): Reach("sale_date"),
            _silver("products"): Reach("product_id", via=("sales", "product_id", "sale_date")),
        },
        key=("sale_date", "partner_id", "product_id", "currency"),
        day_column="sale_date",
        columns={
            "product_name": "The product's current name in the catalogue (silver.products); "
            "null while the product is unknown.",
            "currency": "ISO 4217 currency of `revenue`.",
            "sales": "Confirmed sales that day of this partner and product, in this currency "
            "(one per lead).",
            "revenue": "Sum of the sold leads' values (silver.sales `amount`: the list price "
            "when each lead was generated) in `currency`.",
        },
    ),
    Derived(
        GOLD,
        "time_to_convert",
        "Hours of each stage from sign-up to purchase (sign-up to lead, lead to sale, sale to "
        "purchase) and of the whole way, per cohort day.",
        "conversions",
        f"""
        SELECT cohort_date, step, count(*) AS conversions,
               min(hours) AS min_hours,
               median(hours) AS p50_hours,
               percentile_cont(0.9) WITHIN GROUP (ORDER BY hours) AS p90_hours,
               max(hours) AS max_hours
        FROM (
            SELECT cohort_date, 'customer_to_lead' AS step,
                   {_HOURS.format(end="generated_at", start="created_at")} AS hours
            FROM leads WHERE lead_id IS NOT NULL
            UNION ALL
            SELECT cohort_date, 'lead_to_sale',
                   {_HOURS.format(end="sold_at", start="generated_at")}
            FROM leads WHERE sale_id IS NOT NULL
            UNION ALL
            SELECT cohort_date, 'sale_to_purchase',
                   {_HOURS.format(end="purchased_at", start="sold_at")}
            FROM leads WHERE purchased_at IS NOT NULL AND sale_id IS NOT NULL
            UNION ALL
            SELECT cohort_date, 'customer_to_purchase',
                   {_HOURS.format(end="purchased_at", start="created_at")}
            FROM leads WHERE purchased_at IS NOT NULL
        ) AS steps
        GROUP BY cohort_date, step
        """,
        {_silver("leads"): Reach("cohort_date")},
        key=("cohort_date", "step"),
        day_column="cohort_date",
        columns={
            "cohort_date": "UTC day the customers signed up: the cohort whose times are measured.",
            "step": "Which interval is measured, each from its own two times: customer_to_lead "
            "(sign-up `created_at` to the lead's `generated_at`), lead_to_sale (`generated_at` "
            "to the partner's `sold_at` of the first sale), sale_to_purchase (that `sold_at` "
            "to the lead's first `purchased_at`) or customer_to_purchase (sign-up to that "
            "`purchased_at`: the whole way, the three stages together).",
            "conversions": "Cohort leads that made the step (one per silver.leads row that has "
            "both ends): the number of times the figures summarize.",
            "min_hours": "Shortest time of the step, in hours (fractional: end minus start in "
            "seconds / 3600).",
            "p50_hours": "Median time of the step, in hours (interpolated between the two "
            "middle values).",
            "p90_hours": "90th percentile time of the step, in hours (continuous: interpolated).",
            "max_hours": "Longest time of the step, in hours.",
        },
    ),
    Derived(
        GOLD,
        "abandoned_customers",
        "Customers Conversions abandoned, with the reason, per cohort day.",
        "conversions",
        """
        SELECT l.cohort_date, l.customer_id, l.abandoned_at, l.abandon_reason AS reason,
               c.country, c.channel
        FROM leads l
        JOIN customers c ON c.customer_id = l.customer_id
        WHERE l.outcome = 'abandoned'
        """,
        {
            _silver("leads"): Reach("cohort_date"),
            _silver("customers"): Reach("cohort_date"),
        },
        key=("customer_id",),
        day_column="cohort_date",
        columns={
            "cohort_date": "UTC day the customer signed up.",
            "customer_id": "The abandoned customer.",
            "reason": "Why Conversions produced no lead (silver.lead_abandoned's `reason`).",
        },
    ),
)


def entity(name: str) -> Derived:
    return _find(ENTITY_TABLES, name)


def gold_table(name: str) -> Derived:
    return _find(GOLD_TABLES, name)


def _find(declared: tuple[Derived, ...], name: str) -> Derived:
    for table in declared:
        if table.name == name:
            return table
    known = ", ".join(t.name for t in declared)
    raise KeyError(f"no declared table {name!r}; declared: {known}")
