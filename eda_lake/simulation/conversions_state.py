"""Conversions' own store: the product price list it follows, its leads, the customers it
gave up on, and the sales partners confirmed.

A team keeps what it needs to react in its own store (here SQLite), fed by the events it
subscribes to; it never reads another team's database. Its changes share a transaction with
the events that report them (`outbox`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from eda_lake.simulation.outbox import TeamStore

SCHEMA = """
CREATE TABLE IF NOT EXISTS products (
    product_id TEXT PRIMARY KEY,
    sku TEXT NOT NULL,
    price TEXT NOT NULL,
    currency TEXT NOT NULL,
    active INTEGER NOT NULL,
    updated_at_us INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS leads (
    lead_id TEXT PRIMARY KEY,
    customer_id TEXT NOT NULL,
    product_id TEXT NOT NULL,
    partner_id TEXT NOT NULL,
    amount TEXT NOT NULL,
    currency TEXT NOT NULL,
    generated_at_us INTEGER NOT NULL,
    partner_drop INTEGER
);
CREATE TABLE IF NOT EXISTS abandoned (
    customer_id TEXT PRIMARY KEY,
    abandoned_at_us INTEGER NOT NULL,
    reason TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS purchased (
    sale_id TEXT PRIMARY KEY,
    lead_id TEXT NOT NULL,
    purchased_at_us INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS sales (
    sale_id TEXT PRIMARY KEY,
    lead_id TEXT NOT NULL,
    partner_file TEXT NOT NULL,
    confirmed_at_us INTEGER NOT NULL
);
"""


@dataclass(frozen=True)
class KnownProduct:
    product_id: str
    sku: str
    price: Decimal
    currency: str


@dataclass(frozen=True)
class Lead:
    lead_id: str
    customer_id: str
    product_id: str
    partner_id: str
    amount: Decimal
    currency: str
    generated_at: datetime


_UNIX = datetime(1970, 1, 1, tzinfo=UTC)


def _micros(moment: datetime) -> int:
    return (moment - _UNIX) // timedelta(microseconds=1)


def _from_micros(micros: int) -> datetime:
    return _UNIX + timedelta(microseconds=micros)


class ConversionsState:
    def __init__(self, store: TeamStore) -> None:
        self.store = store
        self._conn = store.conn

    def upsert_product(self, product: KnownProduct, active: bool, updated_at: datetime) -> None:
        """Keep the newest state of a product (events may arrive out of order)."""
        with self.store.transaction() as conn:
            conn.execute(
                "INSERT INTO products VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(product_id) DO UPDATE "
                "SET sku = excluded.sku, price = excluded.price, currency = excluded.currency, "
                "active = excluded.active, updated_at_us = excluded.updated_at_us "
                "WHERE excluded.updated_at_us >= products.updated_at_us",
                (product.product_id, product.sku, str(product.price), product.currency,
                 int(active), _micros(updated_at)),
            )  # fmt: skip

    def active_products(self) -> list[KnownProduct]:
        rows = self._conn.execute(
            "SELECT product_id, sku, price, currency FROM products WHERE active = 1 ORDER BY sku"
        ).fetchall()
        return [KnownProduct(r[0], r[1], Decimal(r[2]), r[3]) for r in rows]

    def add_lead(self, lead: Lead) -> None:
        with self.store.transaction() as conn:
            conn.execute(
                "INSERT INTO leads VALUES (?, ?, ?, ?, ?, ?, ?, NULL) "
                "ON CONFLICT(lead_id) DO NOTHING",
                (lead.lead_id, lead.customer_id, lead.product_id, lead.partner_id,
                 str(lead.amount), lead.currency, _micros(lead.generated_at)),
            )  # fmt: skip

    def add_abandoned(self, customer_id: str, abandoned_at: datetime, reason: str) -> None:
        with self.store.transaction() as conn:
            conn.execute(
                "INSERT INTO abandoned VALUES (?, ?, ?) ON CONFLICT(customer_id) DO NOTHING",
                (customer_id, _micros(abandoned_at), reason),
            )

    def add_sale(
        self, sale_id: str, lead_id: str, partner_file: str, confirmed_at: datetime
    ) -> None:
        with self.store.transaction() as conn:
            conn.execute(
                "INSERT INTO sales VALUES (?, ?, ?, ?) ON CONFLICT(sale_id) DO NOTHING",
                (sale_id, lead_id, partner_file, _micros(confirmed_at)),
            )

    def add_purchase(self, sale_id: str, lead_id: str, purchased_at: datetime) -> None:
        with self.store.transaction() as conn:
            conn.execute(
                "INSERT INTO purchased VALUES (?, ?, ?) ON CONFLICT(sale_id) DO NOTHING",
                (sale_id, lead_id, _micros(purchased_at)),
            )

    def lead(self, lead_id: str) -> Lead | None:
        row = self._conn.execute(
            "SELECT lead_id, customer_id, product_id, partner_id, amount, currency, "
            "generated_at_us FROM leads WHERE lead_id = ?",
            (lead_id,),
        ).fetchone()
        return None if row is None else self._lead(row)

    def leads_not_dropped(self) -> list[Lead]:
        rows = self._conn.execute(
            "SELECT lead_id, customer_id, product_id, partner_id, amount, currency, "
            "generated_at_us FROM leads WHERE partner_drop IS NULL "
            "ORDER BY generated_at_us, lead_id"
        ).fetchall()
        return [self._lead(r) for r in rows]

    def mark_dropped(self, lead_ids: list[str], drop: int) -> None:
        with self.store.transaction() as conn:
            conn.executemany(
                "UPDATE leads SET partner_drop = ? WHERE lead_id = ?",
                [(drop, lead_id) for lead_id in lead_ids],
            )

    def next_drop(self) -> int:
        row = self._conn.execute("SELECT COALESCE(MAX(partner_drop), 0) + 1 FROM leads").fetchone()
        return int(row[0])

    @staticmethod
    def _lead(row: tuple[str, str, str, str, str, str, int]) -> Lead:
        return Lead(row[0], row[1], row[2], row[3], Decimal(row[4]), row[5], _from_micros(row[6]))
