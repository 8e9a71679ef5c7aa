"""Customer's own store: the customers it signed up and the purchases it learnt of."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from eda_lake.simulation.outbox import TeamStore

_IDS_PER_QUERY = 500  # SQLite's bound parameters per statement stay well under its limit

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

    def add_customers(self, records: Sequence[Mapping[str, Any]]) -> list[bool]:
        """Store signed-up customers; for each, whether it is new to the store (False: it
        was stored already)."""
        ids = [str(r["customer_id"]) for r in records]
        with self.store.transaction() as conn:
            known: set[str] = set()
            for start in range(0, len(ids), _IDS_PER_QUERY):
                part = ids[start : start + _IDS_PER_QUERY]
                known.update(
                    row[0]
                    for row in conn.execute(
                        "SELECT customer_id FROM customers WHERE customer_id IN "
                        f"({','.join('?' * len(part))})",
                        part,
                    )
                )
            new = [i not in known for i in ids]
            conn.executemany(
                "INSERT INTO customers VALUES (?, ?, ?, ?, ?, ?) "
                "ON CONFLICT(customer_id) DO NOTHING",
                (
                    (i, r["created_at"].isoformat(), r["email"], r["full_name"], r["country"],
                     r["channel"])
                    for i, r, is_new in zip(ids, records, new, strict=True)
                    if is_new
                ),
            )  # fmt: skip
        return new

    def add_purchase(self, record: Mapping[str, Any]) -> None:
        with self.store.transaction() as conn:
            conn.execute(
                "INSERT INTO purchases VALUES (?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT(sale_id) DO NOTHING",
                (str(record["sale_id"]), str(record["customer_id"]), str(record["lead_id"]),
                 str(record["product_id"]), str(record["amount"]), record["currency"],
                 record["purchased_at"].isoformat()),
            )  # fmt: skip
