"""Product's own store: its catalogue, each product as last changed."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from eda_lake.simulation.outbox import TeamStore

SCHEMA = """
CREATE TABLE IF NOT EXISTS products (
    product_id TEXT PRIMARY KEY,
    updated_at TEXT NOT NULL,
    sku TEXT NOT NULL,
    name TEXT NOT NULL,
    category TEXT NOT NULL,
    price TEXT NOT NULL,
    currency TEXT NOT NULL,
    active INTEGER NOT NULL
);
"""


class ProductState:
    def __init__(self, store: TeamStore) -> None:
        self.store = store

    def update_product(self, record: Mapping[str, Any]) -> bool:
        """Store a product as it is now; False if the store holds it so already."""
        values = (
            str(record["product_id"]), record["updated_at"].isoformat(), record["sku"],
            record["name"], record["category"], str(record["price"]), record["currency"],
            int(record["active"]),
        )  # fmt: skip
        with self.store.transaction() as conn:
            cursor = conn.execute(
                "INSERT INTO products VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT(product_id) DO UPDATE SET updated_at = excluded.updated_at, "
                "sku = excluded.sku, name = excluded.name, category = excluded.category, "
                "price = excluded.price, currency = excluded.currency, active = excluded.active "
                "WHERE (products.updated_at, products.sku, products.name, products.category, "
                "products.price, products.currency, products.active) <> "
                "(excluded.updated_at, excluded.sku, excluded.name, excluded.category, "
                "excluded.price, excluded.currency, excluded.active)",
                values,
            )
            return cursor.rowcount == 1
