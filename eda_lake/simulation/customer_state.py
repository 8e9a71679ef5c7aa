"""Customer's own store: the customers it signed up and the purchases it learnt of."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from eda_lake.simulation.outbox import TeamStore

SCHEMA = """
CREATE TABLE IF NOT EXISTS customers (
    customer_id TEXT PRIMARY KEY,
    created_at TEXT NOT NULL,
    email TEXT NOT NULL,
    full_name TEXT NOT NULL,
    country TEXT NOT NULL,
    channel TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS purchases (
    sale_id TEXT PRIMARY KEY,
    customer_id TEXT NOT NULL,
    lead_id TEXT NOT NULL,
    product_id TEXT NOT NULL,
    amount TEXT NOT NULL,
    currency TEXT NOT NULL,
    purchased_at TEXT NOT NULL
);
"""


class CustomerState:
    def __init__(self, store: TeamStore) -> None:
        self.store = store

    def add_customer(self, record: Mapping[str, Any]) -> bool:
        """Store a signed-up customer; False if it was stored already."""
        with self.store.transaction() as conn:
            cursor = conn.execute(
                "INSERT INTO customers VALUES (?, ?, ?, ?, ?, ?) "
                "ON CONFLICT(customer_id) DO NOTHING",
                (str(record["customer_id"]), record["created_at"].isoformat(), record["email"],
                 record["full_name"], record["country"], record["channel"]),
            )  # fmt: skip
            return cursor.rowcount == 1

    def add_purchase(self, record: Mapping[str, Any]) -> None:
        with self.store.transaction() as conn:
            conn.execute(
                "INSERT INTO purchases VALUES (?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT(sale_id) DO NOTHING",
                (str(record["sale_id"]), str(record["customer_id"]), str(record["lead_id"]),
                 str(record["product_id"]), str(record["amount"]), record["currency"],
                 record["purchased_at"].isoformat()),
            )  # fmt: skip
