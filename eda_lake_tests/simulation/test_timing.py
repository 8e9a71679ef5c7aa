"""Business times along the simulated chain: every reaction at or after its cause, in its
record and in its CloudEvents `time`; a partner's sales confirmed after the file's time; the
README's tables of business times and delays true to `timing`."""

from __future__ import annotations

import csv
import re
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import hypothesis
import pytest
from hypothesis import given, strategies

from eda_lake.events.cloudevents import CloudEvent
from eda_lake.settings import REPO_ROOT, Settings
from eda_lake.simulation import partners, timing
from eda_lake_tests.simulation.helpers import provisioned, published

Published = list[tuple[CloudEvent, dict[str, Any]]]


def _chain(seed: int, customers: int) -> tuple[dict[str, Published], dict[str, datetime]]:
    """Every event the chain published, by type, and each processed partner file's time."""
    with tempfile.TemporaryDirectory() as home:
        simulation = provisioned(Settings(home=Path(home)))
        try:
            simulation.run_chain(seed=seed, customers=customers)
            events = {event: published(simulation, event) for event in timing.BUSINESS_TIME}
            files = _file_times(simulation.partner_drops / "processed")
        finally:
            simulation.close()
    return events, files


def _file_times(folder: Path) -> dict[str, datetime]:
    """Each partner file's latest purchase date, read from the file itself."""
    times = {}
    for path in folder.glob("*.csv"):
        with path.open(newline="") as stream:
            dates = [row[1] for row in list(csv.reader(stream))[1:]]
        latest = max(datetime.strptime(d, partners.DATE_FORMAT) for d in dates)
        times[path.name] = latest.replace(tzinfo=UTC)
    return times


def _times(event: str, events: Published, key: str) -> dict[str, datetime]:
    return {str(r[key]): timing.business_time(event, r) for _, r in events}


def _not_before(
    event: str, reactions: Published, key: str, causes: dict[str, datetime]
) -> list[tuple[str, object]]:
    """The reactions whose business or CloudEvents time is before their cause's."""
    return [
        (event, r[key])
        for envelope, r in reactions
        if min(envelope.time, timing.business_time(event, r)) < causes[str(r[key])]
    ]


@hypothesis.settings(max_examples=25, deadline=None)
@given(seed=strategies.integers(min_value=0, max_value=2**31))
def test_every_reaction_happens_at_or_after_its_cause(seed: int) -> None:
    chain, file_times = _chain(seed, customers=60)
    for event, events in chain.items():
        assert all(e.time == timing.business_time(event, r) for e, r in events), event
    assert chain["CustomerPurchased"]  # the walk reached the chain's end

    created = _times("CustomerCreated", chain["CustomerCreated"], "customer_id")
    generated = _times("LeadGenerated", chain["LeadGenerated"], "lead_id")
    confirmed = _times("SaleConfirmed", chain["SaleConfirmed"], "sale_id")
    purchased = _times("LeadPurchased", chain["LeadPurchased"], "lead_id")
    late = [
        *_not_before("LeadGenerated", chain["LeadGenerated"], "customer_id", created),
        *_not_before("LeadAbandoned", chain["LeadAbandoned"], "customer_id", created),
        *_not_before("SaleConfirmed", chain["SaleConfirmed"], "lead_id", generated),
        *_not_before("SaleConfirmed", chain["SaleConfirmed"], "partner_file", file_times),
        *_not_before("LeadPurchased", chain["LeadPurchased"], "sale_id", confirmed),
        *_not_before("CustomerPurchased", chain["CustomerPurchased"], "lead_id", purchased),
    ]
    assert late == []
    for _, sale in chain["SaleConfirmed"]:  # the partner sold after the lead, before the file
        assert generated[str(sale["lead_id"])] <= sale["sold_at"]
        assert sale["sold_at"] <= file_times[sale["partner_file"]]


def test_a_partner_files_sales_are_confirmed_after_its_latest_sale(settings: Settings) -> None:
    simulation = provisioned(settings)
    simulation.publish_products(seed=4)
    simulation.publish_customers(seed=4, count=90)
    simulation.subscriber("conversions").run()
    leads = simulation.conversions_state.leads_not_dropped()
    partner = leads[0].partner_id
    first, second = [lead for lead in leads if lead.partner_id == partner][:2]
    early = first.generated_at + timedelta(days=1)
    late = second.generated_at + timedelta(days=30)
    incoming = simulation.partner_drops / "incoming"
    incoming.mkdir(parents=True)
    (incoming / f"{partner}-00099.csv").write_text(
        "lead_id,purchase_date\n"
        f"{first.lead_id},{early:{partners.DATE_FORMAT}}\n"
        f"{second.lead_id},{late:{partners.DATE_FORMAT}}\n"
    )
    assert simulation.ingest_partner_files().sales_confirmed == 2
    written_at = late.replace(microsecond=0)
    confirmed = {str(r["lead_id"]): (e, r) for e, r in published(simulation, "SaleConfirmed")}
    envelope, sale = confirmed[first.lead_id]
    assert sale["sold_at"] == early.replace(microsecond=0)
    assert envelope.time == sale["confirmed_at"]
    confirmation = timing.SALE_CONFIRMATION
    assert written_at + timedelta(hours=confirmation.min_hours) <= sale["confirmed_at"]
    assert sale["confirmed_at"] <= written_at + timedelta(hours=confirmation.max_hours)
    assert all(r["confirmed_at"] >= written_at for _, r in confirmed.values())


def test_a_business_time_that_is_no_datetime_is_refused_naming_the_field() -> None:
    moment = datetime(2026, 10, 2, tzinfo=UTC)
    assert timing.business_time("SaleConfirmed", {"confirmed_at": moment}) == moment
    with pytest.raises(TypeError, match=r"SaleConfirmed\.confirmed_at is '2026-10-02'"):
        timing.business_time("SaleConfirmed", {"confirmed_at": "2026-10-02"})


# The README's tables: the events' (last column: the business time) and the delays'.
EVENT_ROW = re.compile(r"^\| ([A-Z]\w+) \|.*\| `(\w+)` \|$", re.MULTILINE)
DELAY_ROW = re.compile(r"^\| ([a-z ]+) \|.*\| uniform ([\d.]+) to ([\d.]+) hours \|", re.MULTILINE)


def _documented_business_times(readme: str) -> dict[str, str]:
    return dict(EVENT_ROW.findall(readme))


def _documented_delays(readme: str) -> dict[str, tuple[float, float]]:
    return {stage: (float(low), float(high)) for stage, low, high in DELAY_ROW.findall(readme)}


def _declared_delays() -> dict[str, tuple[float, float]]:
    return {d.stage: (d.min_hours, d.max_hours) for d in timing.DELAYS}


def test_the_readme_tells_each_events_business_time_and_each_delay() -> None:
    readme = (REPO_ROOT / "README.md").read_text()
    assert _documented_business_times(readme) == timing.BUSINESS_TIME
    assert _documented_delays(readme) == _declared_delays()


def test_a_readme_out_of_step_with_timing_is_found() -> None:
    readme = (REPO_ROOT / "README.md").read_text()
    moved = readme.replace("| `confirmed_at` |", "| `sold_at` |")
    assert _documented_business_times(moved) != timing.BUSINESS_TIME
    stretched = readme.replace("uniform 1 to 72 hours | the customer", "uniform 1 to 96 hours |")
    assert _documented_delays(stretched)["purchase"] == (1, 96)
    assert _documented_delays(stretched) != _declared_delays()
