from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from eda_lake.capture.runtime import run_capture
from eda_lake.events.cloudevents import CloudEvent
from eda_lake.hub.base import EventData
from eda_lake.lake.delta import tables
from eda_lake.lake.runtime import Lake
from eda_lake.lake.silver.masking import MissingPiiKeyError
from eda_lake.settings import Settings
from eda_lake.simulation import timing, world
from eda_lake.simulation.runtime import ChainReport, Simulation
from eda_lake_tests.processes import run_together
from eda_lake_tests.simulation.helpers import provisioned, published

KEY = "a-test-key-that-is-long-enough"


def _capture(settings: Settings, simulation: Simulation) -> None:
    run_capture(settings, flush=True)


def _lake_after_chain(
    settings: Settings, customers: int = 300, seed: int = 5
) -> tuple[Simulation, ChainReport, Lake]:
    simulation = provisioned(settings)
    report = simulation.run_chain(seed=seed, customers=customers)
    _capture(settings, simulation)
    lake = Lake(settings, simulation.catalogue, pii_key=KEY)
    lake.ingest()
    lake.silver()
    lake.gold()
    return simulation, report, lake


def _rows(lake: Lake, area: str, name: str, sql: str = "SELECT * FROM t") -> list[dict[str, Any]]:
    table = tables.open_table(lake.layout.table_uri(area, name), lake.layout.storage_options)
    assert table is not None, name
    rows: list[dict[str, Any]] = tables.query(sql, t=table).to_pylist()
    return rows


def test_gold_funnel_matches_what_the_publishers_report(lake_settings: Settings) -> None:
    settings = lake_settings
    simulation, report, lake = _lake_after_chain(settings)
    funnel = _rows(lake, "gold", "funnel_daily")
    leads = report.subscribers["conversions"].by_event["CustomerCreated"]
    assert sum(r["customers"] for r in funnel) == report.customers == leads
    generated = len(published(simulation, "LeadGenerated"))
    assert sum(r["leads"] for r in funnel) == generated
    assert sum(r["abandoned"] for r in funnel) == report.customers - generated
    assert sum(r["sales"] for r in funnel) == report.sales_confirmed
    assert sum(r["purchasers"] for r in funnel) == report.subscribers["customer"].reactions
    revenue = sum(r["revenue"] for r in _rows(lake, "gold", "sales_daily"))
    assert revenue == sum(r["amount"] for _, r in published(simulation, "LeadPurchased"))
    steps = {r["step"] for r in _rows(lake, "gold", "time_to_convert")}
    assert steps == {"customer_to_lead", "lead_to_sale", "sale_to_purchase", "customer_to_purchase"}
    assert len(_rows(lake, "gold", "abandoned_customers")) == report.customers - generated


def test_time_to_convert_measures_each_stage_from_its_own_times(lake_settings: Settings) -> None:
    _, _, lake = _lake_after_chain(lake_settings)
    stages = _rows(lake, "gold", "time_to_convert")
    assert stages and all(r["min_hours"] >= 0 for r in stages)
    # A purchase follows its sale's confirmation, which follows the partner's file.
    least = timing.SALE_CONFIRMATION.min_hours + timing.PURCHASE.min_hours
    after_sale = [r for r in stages if r["step"] == "sale_to_purchase"]
    assert after_sale and min(r["min_hours"] for r in after_sale) >= least
    # each lead's stages add up to its whole way: per cohort, their extremes bound the whole's
    whole = {r["cohort_date"]: r for r in stages if r["step"] == "customer_to_purchase"}
    for cohort, row in whole.items():
        parts = [r for r in stages if r["cohort_date"] == cohort and r["step"] != row["step"]]
        assert row["max_hours"] <= sum(r["max_hours"] for r in parts) + 1e-6
        assert row["min_hours"] >= sum(r["min_hours"] for r in parts) - 1e-6


def test_personal_data_is_masked_past_bronze(lake_settings: Settings) -> None:
    settings = lake_settings
    simulation, _, lake = _lake_after_chain(settings, customers=50)
    raw = {r["email"] for _, r in published(simulation, "CustomerCreated")}
    silver = _rows(lake, "silver", "customers")
    assert all(r["email"].startswith("pii:") and r["email"] not in raw for r in silver)
    assert len({r["email"] for r in silver}) == len(raw)  # still countable and joinable
    with pytest.raises(MissingPiiKeyError, match="EDA_LAKE_PII_KEY"):
        Lake(settings, simulation.catalogue).silver()


def test_duplicates_unknown_schemas_and_bad_bodies(lake_settings: Settings) -> None:
    settings = lake_settings
    simulation, _, lake = _lake_after_chain(settings, customers=40)
    spec = simulation.catalogue.event("CustomerCreated")
    hub = simulation.hub
    # at-least-once: the same events delivered again
    first = hub.read(spec.hub, "0", None, 5)  # type: ignore[attr-defined]
    hub.send(
        spec.hub,
        [EventData(e.body, dict(e.properties), e.partition_key, e.content_type) for e in first],
    )
    envelope = CloudEvent("x-1", "/foreign", spec.cloudevents_type(), world.EPOCH).to_properties()
    hub.send(spec.hub, [EventData(b'{"json": true}', envelope, "k")])  # names no schema
    hub.send(spec.hub, [EventData(b"\x00", envelope, "k", "avro/binary+" + "f" * 32)])  # unknown id
    good_type = first[0].content_type
    hub.send(
        spec.hub,
        [EventData(b"\xff\xff\xff\xff", {**envelope, "cloudEvents_id": "bad-1"}, "k", good_type)],
    )
    _capture(settings, simulation)
    lake.ingest()
    run = lake.silver()
    assert run.events.duplicates == len(first)
    assert (run.events.no_schema, run.events.unknown_schema, run.events.quarantined) == (1, 1, 1)
    assert sum(run.events.outcomes().values()) == run.events.rows_read  # each row, one outcome
    quarantined = _rows(lake, "quarantine", "events")
    [bad, unknown] = sorted(quarantined, key=lambda r: r["ce_id"] != "bad-1")
    assert unknown["reason"].startswith("unknown schema id")
    assert (
        bad["ce_id"] == "bad-1"
        and "does not decode" in bad["reason"]
        and bad["body"] == b"\xff\xff\xff\xff"
    )
    assert len(_rows(lake, "silver", "customer_created")) == 40


def test_gold_recomputes_only_the_days_new_events_touch(lake_settings: Settings) -> None:
    settings = lake_settings
    simulation, _, lake = _lake_after_chain(settings, customers=200)
    before = {r["cohort_date"]: r for r in _rows(lake, "gold", "funnel_daily")}
    simulation.publish_customers(seed=99, count=3)  # three more customers, on a few days
    simulation.subscriber("conversions").run()
    _capture(settings, simulation)
    lake.ingest()
    lake.silver()
    report = lake.gold()
    new_days = {world.people(99, 3)[i].created_at.date() for i in range(3)}
    assert report.days_recomputed["funnel_daily"] == len(new_days)
    after = {r["cohort_date"]: r for r in _rows(lake, "gold", "funnel_daily")}
    assert (
        sum(r["customers"] for r in after.values())
        == sum(r["customers"] for r in before.values()) + 3
    )
    assert {d for d in after if after[d] != before.get(d)} <= new_days


def test_rebuild_from_bronze_gives_the_same_tables(lake_settings: Settings) -> None:
    settings = lake_settings
    _, _, lake = _lake_after_chain(settings, customers=120)
    snapshot = {
        name: sorted(map(str, _rows(lake, area, name)))
        for area, name in [
            ("silver", "leads"),
            ("silver", "sales"),
            ("gold", "funnel_daily"),
            ("gold", "sales_daily"),
        ]
    }
    lake.recovery.rebuild()
    for name, rows in snapshot.items():
        area = "gold" if name in ("funnel_daily", "sales_daily") else "silver"
        assert sorted(map(str, _rows(lake, area, name))) == rows, name


def test_same_seed_same_gold(tmp_path: Path) -> None:
    golds = []
    for run in ("a", "b"):
        _, _, lake = _lake_after_chain(Settings(home=tmp_path / run), customers=80, seed=3)
        golds.append(
            [
                sorted(map(str, _rows(lake, "gold", n)))
                for n in ("funnel_daily", "sales_daily", "abandoned_customers")
            ]
        )
    assert golds[0] == golds[1]


def _silver_in_child(settings: Settings) -> None:
    lake = Lake(settings, pii_key=KEY)
    lake.silver()
    lake.gold()


def test_concurrent_silver_runs_land_each_event_once(lake_settings: Settings) -> None:
    settings = lake_settings
    simulation = provisioned(settings)
    simulation.run_chain(seed=6, customers=400)
    _capture(settings, simulation)
    Lake(settings, simulation.catalogue, pii_key=KEY).ingest()
    run_together(_silver_in_child, (settings,), 2, 120)
    lake = Lake(settings, simulation.catalogue, pii_key=KEY)
    rows = _rows(
        lake,
        "silver",
        "customer_created",
        "SELECT count(*) AS n, count(DISTINCT event_id) AS d FROM t",
    )
    assert rows == [{"n": 400, "d": 400}]
    for entity, key in (("customers", "customer_id"), ("leads", "customer_id")):
        sql = f"SELECT count(*) AS n, count(DISTINCT {key}) AS d FROM t"
        assert _rows(lake, "silver", entity, sql) == [{"n": 400, "d": 400}], entity
    assert sum(r["customers"] for r in _rows(lake, "gold", "funnel_daily")) == 400


def test_a_partial_recompute_leaves_the_other_touched_days_pending(lake_settings: Settings) -> None:
    settings = lake_settings
    simulation, _, lake = _lake_after_chain(settings, customers=150)
    assert lake.gold_pending_days() == set()
    simulation.publish_customers(seed=77, count=6)
    simulation.subscriber("conversions").run()
    run_capture(settings, flush=True)
    lake.ingest()
    lake.silver()
    pending = lake.gold_pending_days()
    assert len(pending) >= 2
    some = {min(pending)}
    lake.gold(some)  # one partition of the range: progress must not move
    assert lake.gold_pending_days() == pending
    lake.gold(pending)  # all of them: caught up
    assert lake.gold_pending_days() == set()
