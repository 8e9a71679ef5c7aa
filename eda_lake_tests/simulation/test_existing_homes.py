"""A home made before the teams had their own stores: Conversions' state file becomes its
store in place, the other teams' stores are made by their first run."""

from __future__ import annotations

import sqlite3

from eda_lake.settings import Settings
from eda_lake.simulation.outbox import team_store_file
from eda_lake_tests.simulation.helpers import provisioned

# Conversions' state file as homes made before the outbox hold it: products and leads only.
CONVERSIONS_BEFORE_THE_OUTBOX = """
CREATE TABLE products (product_id TEXT PRIMARY KEY, sku TEXT NOT NULL, price TEXT NOT NULL,
    currency TEXT NOT NULL, active INTEGER NOT NULL, updated_at_us INTEGER NOT NULL);
CREATE TABLE leads (lead_id TEXT PRIMARY KEY, customer_id TEXT NOT NULL,
    product_id TEXT NOT NULL, partner_id TEXT NOT NULL, amount TEXT NOT NULL,
    currency TEXT NOT NULL, generated_at_us INTEGER NOT NULL, partner_drop INTEGER);
INSERT INTO leads VALUES ('6f1c1d5e-8a55-4a43-9a51-2f1f0d1c7e3a', 'c', 'p', 'contoso',
    '49.00', 'EUR', 1790000000000000, NULL);
"""


def test_conversions_state_file_becomes_its_store_in_place(settings: Settings) -> None:
    path = team_store_file(settings.simulation_dir, "conversions")
    path.parent.mkdir(parents=True)
    old = sqlite3.connect(path)
    old.executescript(CONVERSIONS_BEFORE_THE_OUTBOX)
    old.close()
    assert not team_store_file(settings.simulation_dir, "customer").exists()

    simulation = provisioned(settings)
    try:
        lead = simulation.conversions_state.lead("6f1c1d5e-8a55-4a43-9a51-2f1f0d1c7e3a")
        assert lead is not None and lead.partner_id == "contoso"  # its state kept
        simulation.publish_products(seed=3)
        simulation.publish_customers(seed=3, count=20)
        report = simulation.subscriber("conversions").run()
        assert report.reactions == 20  # stored in its outbox and sent
        assert simulation.stores["conversions"].summary().sent == 20
        assert team_store_file(settings.simulation_dir, "customer").is_file()
    finally:
        simulation.close()
