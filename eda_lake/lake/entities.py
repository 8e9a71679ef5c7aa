"""Silver's conformed entities for analysts, derived from the per-event tables.

products, customers, leads (one row per Conversions decision on a customer, with its outcome),
sales and purchases. They are rebuilt from the event tables in one overwrite each, which is
atomic: readers see the old table or the new one.
"""

from __future__ import annotations

from dataclasses import dataclass

from deltalake import DeltaTable, write_deltalake

from eda_lake.lake import tables
from eda_lake.lake.layout import LakeLayout

EVENT_TABLES = (
    "product_updated", "customer_created", "customer_purchased", "lead_generated",
    "lead_abandoned", "sale_confirmed", "lead_purchased",
)  # fmt: skip

ENTITIES: dict[str, str] = {
    "products": """
        SELECT product_id, sku, name, category, price, currency, active, updated_at
        FROM (
            SELECT *, row_number() OVER (
                PARTITION BY product_id ORDER BY updated_at DESC, event_id) AS rn
            FROM product_updated)
        WHERE rn = 1
    """,
    "customers": """
        SELECT customer_id, created_at, CAST(created_at AS DATE) AS cohort_date,
               email, full_name, country, channel
        FROM (
            SELECT *, row_number() OVER (
                PARTITION BY customer_id ORDER BY created_at, event_id) AS rn
            FROM customer_created)
        WHERE rn = 1
    """,
    "sales": """
        SELECT s.sale_id, s.lead_id, s.partner_id, s.sold_at,
               CAST(s.sold_at AS DATE) AS sale_date,
               s.confirmed_at, s.partner_file, g.customer_id, g.product_id,
               g.expected_value AS amount, g.currency
        FROM (
            SELECT *, row_number() OVER (PARTITION BY lead_id ORDER BY confirmed_at, sale_id) AS rn
            FROM sale_confirmed) s
        LEFT JOIN lead_generated g ON g.lead_id = s.lead_id
        WHERE s.rn = 1
    """,
    "purchases": """
        SELECT customer_id, lead_id, sale_id, product_id, amount, currency, purchased_at,
               CAST(purchased_at AS DATE) AS purchase_date
        FROM (
            SELECT *, row_number() OVER (PARTITION BY lead_id ORDER BY purchased_at, event_id) AS rn
            FROM customer_purchased)
        WHERE rn = 1
    """,
    "leads": """
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
        LEFT JOIN customer_created c ON c.customer_id = d.customer_id
        LEFT JOIN first_sale s ON s.lead_id = d.lead_id
        LEFT JOIN first_purchase p ON p.lead_id = d.lead_id
    """,
}


@dataclass
class EntitiesReport:
    rows: dict[str, int]


def event_tables(layout: LakeLayout) -> dict[str, DeltaTable] | None:
    """Every silver event table, or None while any of them does not exist yet."""
    opened = {
        name: tables.open_table(layout.table_uri("silver", name), layout.storage_options)
        for name in EVENT_TABLES
    }
    if any(t is None for t in opened.values()):
        return None
    return {name: t for name, t in opened.items() if t is not None}


def build_entities(layout: LakeLayout) -> EntitiesReport:
    sources = event_tables(layout)
    if sources is None:
        return EntitiesReport({})
    rows = {}
    for entity, sql in ENTITIES.items():
        result = tables.query(sql, **sources)
        write_deltalake(
            layout.table_uri("silver", entity),
            result,
            mode="overwrite",
            schema_mode="overwrite",
            storage_options=layout.storage_options,
        )
        rows[entity] = result.num_rows
    return EntitiesReport(rows)
