from __future__ import annotations

from collections import Counter

from eda_lake.settings import Settings
from eda_lake.simulation import world
from eda_lake_tests.simulation.helpers import provisioned, published

CUSTOMERS = 600
REACTIONS = (
    "LeadGenerated",
    "LeadAbandoned",
    "SaleConfirmed",
    "LeadPurchased",
    "CustomerPurchased",
)


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

    # every reaction refers to its cause (its times: test_timing)
    sale_by_lead = {str(r["lead_id"]): r for _, r in confirmed}
    for _, lead in purchased:
        assert lead["sale_id"] == sale_by_lead[str(lead["lead_id"])]["sale_id"]
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
    """Ids, CloudEvents times and payloads of every reaction, down to the purchases."""
    runs = []
    for run in ("a", "b"):
        simulation = provisioned(Settings(home=tmp_path / run))
        simulation.run_chain(seed=5, customers=100)
        runs.append(
            sorted(
                (event, e.id, e.time, str(sorted(r.items())))
                for event in REACTIONS
                for e, r in published(simulation, event)
            )
        )
    assert runs[0] == runs[1]
    assert {event for event, *_ in runs[0]} == set(REACTIONS)
