from __future__ import annotations

from collections import Counter

from eda_lake.settings import Settings
from eda_lake.simulation import world
from eda_lake_tests.simulation.helpers import provisioned, published

CUSTOMERS = 600


def test_whole_chain_counts_and_causes(settings: Settings) -> None:
    simulation = provisioned(settings)
    report = simulation.run_chain(seed=11, customers=CUSTOMERS)

    created = published(simulation, "CustomerCreated")
    generated = published(simulation, "LeadGenerated")
    abandoned = published(simulation, "LeadAbandoned")
    confirmed = published(simulation, "SaleConfirmed")
    purchased = published(simulation, "LeadPurchased")
    purchasers = published(simulation, "CustomerPurchased")

    customer_ids = {str(r["customer_id"]) for _, r in created}
    expected_leads = {c for c in customer_ids if world.becomes_lead(c)}
    lead_ids = {str(r["lead_id"]): str(r["customer_id"]) for _, r in generated}
    expected_sales = {lead for lead in lead_ids if world.partner_sells(lead)}

    assert len(customer_ids) == report.customers == CUSTOMERS
    assert set(lead_ids.values()) == expected_leads
    assert 150 < len(expected_leads) < 250  # about one in three
    assert {str(r["customer_id"]) for _, r in abandoned} == customer_ids - expected_leads
    assert {str(r["lead_id"]) for _, r in confirmed} == expected_sales
    assert {str(r["lead_id"]) for _, r in purchased} == expected_sales
    assert {str(r["customer_id"]) for _, r in purchasers} == {lead_ids[s] for s in expected_sales}
    assert report.sales_confirmed == report.partner_sales == len(expected_sales)
    assert simulation.dead_letters.list() == []

    # every reaction refers to its cause, and happens after it in business time
    created_at = {str(r["customer_id"]): r["created_at"] for _, r in created}
    for _, lead in generated:
        assert lead["generated_at"] > created_at[str(lead["customer_id"])]
    sale_by_lead = {str(r["lead_id"]): r for _, r in confirmed}
    for _, lead in purchased:
        sale = sale_by_lead[str(lead["lead_id"])]
        assert lead["sale_id"] == sale["sale_id"] and lead["purchased_at"] == sale["sold_at"]
    purchased_by_lead = {str(r["lead_id"]): r for _, r in purchased}
    for envelope, customer in purchasers:
        cause = purchased_by_lead[str(customer["lead_id"])]
        assert (
            customer["customer_id"] == cause["customer_id"]
            and customer["amount"] == cause["amount"]
        )
        assert envelope.source == "/eda-lake/customer"

    # one reaction per cause: no duplicate ids anywhere
    for events in (generated, abandoned, confirmed, purchased, purchasers):
        ids = Counter(envelope.id for envelope, _ in events)
        assert max(ids.values()) == 1


def test_same_seed_same_events(tmp_path) -> None:
    ids = []
    for run in ("a", "b"):
        simulation = provisioned(Settings(home=tmp_path / run))
        simulation.run_chain(seed=5, customers=100)
        ids.append(
            sorted(
                (e.id, str(sorted(r.items()))) for e, r in published(simulation, "LeadPurchased")
            )
        )
    assert ids[0] == ids[1] and ids[0]
