"""`eda-lake trace`, as a user runs it, on lakes built through the teams, capture and the lake."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from deltalake import DeltaTable

from eda_lake.capture.runtime import run_capture
from eda_lake.cli import main
from eda_lake.hub.base import EventData
from eda_lake.lake.delta import freshness, tables
from eda_lake.lake.runtime import Lake
from eda_lake.settings import Settings
from eda_lake.shared import trace_context
from eda_lake.shared.cloudevents_names import TRACEPARENT_PROPERTY, TRACESTATE_PROPERTY
from eda_lake.tracing.places import Places
from eda_lake.tracing.tree import TracedEvent
from eda_lake_tests.lake.helpers import synthetic_container
from eda_lake_tests.lake.test_incremental_layers import quarantined_unknown_schema, register
from eda_lake_tests.simulation.helpers import captured_chain, provisioned, published

KEY = "a-test-key-that-is-long-enough"
CHAIN = ["CustomerCreated", "LeadGenerated", "SaleConfirmed", "LeadPurchased", "CustomerPurchased"]


def _through_gold(settings: Settings) -> Lake:
    lake = Lake(settings, pii_key=KEY)
    lake.ingest()
    lake.silver()
    lake.gold()
    return lake


def _first(lake: Lake, table: str, column: str) -> str:
    found = tables.open_table(lake.layout.table_uri("silver", table))
    assert found is not None
    value: str = tables.query(f"SELECT {column} FROM t ORDER BY {column} LIMIT 1", t=found)[column][
        0
    ].as_py()
    return value


def _trace(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    status = main(["trace", *args])
    out, err = capsys.readouterr()
    return status, out, err


def _walk(nodes: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for node in nodes:
        yield node
        yield from _walk(node["children"])


def test_a_customers_whole_chain_is_traced_with_every_hop(
    settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    captured_chain(settings, seed=3, customers=20)
    lake = _through_gold(settings)
    customer = _first(lake, "customer_purchased", "customer_id")

    status, text, _ = _trace(capsys, "--customer", customer)
    assert status == 0
    # Each event of the chain under its cause, one level deeper each.
    heads = [line for line in text.splitlines() if not line.lstrip().startswith(
        ("source", "hub", "capture", "bronze", "silver", "entity", "gold", "hops", "quarantine",
         "dead letter"))]  # fmt: skip
    assert [h.split()[0] for h in heads] == CHAIN
    assert [len(h) - len(h.lstrip()) for h in heads] == [0, 4, 8, 12, 16]
    assert "<- its cause by lead_id" in heads[2]  # the partner's sale: a trace of its own
    for place in ("hub ", "capture ", "bronze ", "silver ", "entity ", "gold ", "hops "):
        assert text.count(f"  {place}") >= len(CHAIN), place
    assert "partner_file=" in text and "gold.funnel_daily day" in text
    assert "@" not in text and "pii:" not in text  # ids only: no e-mail, no masked value

    status, document, _ = _trace(capsys, "--customer", customer, "--format", "json")
    assert status == 0
    parsed = json.loads(document)
    assert parsed["query"] == {"customer_id": customer}
    nodes = list(_walk(parsed["events"]))
    assert [n["event"] for n in nodes] == CHAIN
    assert [n["event_id"] for n in nodes] == [h.split()[1] for h in heads]  # as the text
    for node in nodes:
        [copy] = node["bronze"]
        assert copy["source_file"] in text and str(copy["bronze_version"]) in text
        assert node["silver"] and node["entities"] and node["gold"]
        assert [h["to"] for h in node["hops"]] == [
            "published", "bronze", "silver", "entities", "gold",
        ]  # fmt: skip
        assert all(h["seconds"] >= 0 for h in node["hops"][1:])

    # Any one event of the chain: the same whole tree (across the partner's sale's own
    # trace), that event marked.
    for asked in nodes:
        status, alone, _ = _trace(capsys, asked["event_id"], "--format", "json")
        assert status == 0
        tree = list(_walk(json.loads(alone)["events"]))
        assert [n["event_id"] for n in tree] == [n["event_id"] for n in nodes], asked["event"]
        assert [n["event_id"] for n in tree if n["asked"]] == [asked["event_id"]]
    status, text, _ = _trace(capsys, nodes[3]["event_id"])
    assert f"LeadPurchased {nodes[3]['event_id']} <- its cause (span) (asked)" in text


def _hop_times(capsys: pytest.CaptureFixture[str], customer: str) -> dict[str, list[Any]]:
    status, document, _ = _trace(capsys, "--customer", customer, "--format", "json")
    assert status == 0
    return {n["event_id"]: n["hops"] for n in _walk(json.loads(document)["events"])}


def test_a_hop_is_timed_by_the_first_commit_holding_the_event_not_by_a_rewrite(
    settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    captured_chain(settings, seed=3, customers=20)
    lake = _through_gold(settings)
    customer = _first(lake, "customer_purchased", "customer_id")
    before = _hop_times(capsys, customer)
    assert all(len(hops) == 5 for hops in before.values())

    # Later events rewrite entity rows and recompute gold days; compaction rewrites files.
    captured_chain(settings, seed=4, customers=20)
    _through_gold(settings)
    compacted = 0
    for name, uri in lake.layout.existing_tables().items():
        if name.startswith(("silver.", "gold.")):
            compacted += DeltaTable(uri).optimize.compact(min_commit_interval=None)[
                "numFilesRemoved"
            ]
    assert compacted > 0
    assert _hop_times(capsys, customer) == before


def test_an_event_only_in_bronze_shows_its_bronze_place(
    settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    captured_chain(settings, seed=2, customers=2)
    lake = Lake(settings)
    lake.ingest()
    bronze = tables.open_table(lake.layout.bronze_uri)
    assert bronze is not None
    event_id = tables.query("SELECT min(ce_id) AS id FROM b", b=bronze)["id"][0].as_py()
    status, document, _ = _trace(capsys, event_id, "--format", "json")
    assert status == 0
    [event] = json.loads(document)["events"]
    assert event["bronze"] and event["silver"] == event["entities"] == event["gold"] == []
    assert [hop["to"] for hop in event["hops"]] == ["published", "bronze"]


def _with_context(data: EventData, event_id: str, context: trace_context.TraceContext) -> EventData:
    properties = {**data.properties, "cloudEvents_id": event_id}
    properties[TRACEPARENT_PROPERTY] = context.traceparent()
    if (state := context.tracestate()) is not None:
        properties[TRACESTATE_PROPERTY] = state
    return EventData(data.body, properties, data.partition_key, data.content_type)


def test_a_quarantined_event_shows_its_cause_and_its_quarantine_reason(
    settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    simulation = provisioned(settings)
    simulation.publish_products(seed=1)
    simulation.publish_customers(seed=1, count=3)
    spec = simulation.catalogue.event("CustomerCreated")
    [sent, *_] = simulation.hub.read(spec.hub, "0", None, 1)  # type: ignore[attr-defined]
    source = str(sent.properties["cloudEvents_source"])
    root = trace_context.root_context(source, "root-1")
    child = trace_context.child_context(root, source, "bad-1")
    broken = EventData(b"\xff\xff\xff\xff", dict(sent.properties), "k", sent.content_type)
    simulation.hub.send(
        spec.hub, [_with_context(sent, "root-1", root), _with_context(broken, "bad-1", child)]
    )
    simulation.close()
    run_capture(settings, flush=True)
    _through_gold(settings)

    status, text, _ = _trace(capsys, "bad-1")
    assert status == 0
    lines = text.splitlines()
    # root-1 carries a customer's record: that customer's chain, root-1 a root of it.
    root_at = lines.index("CustomerCreated root-1")
    assert f"trace {root.trace_id}" in lines[root_at + 1]
    child_at = next(i for i, line in enumerate(lines) if "bad-1" in line)
    assert lines[child_at] == "    CustomerCreated bad-1 <- its cause (span) (asked)"
    assert any("quarantine silver.customer_created" in x and "does not decode" in x
               for x in lines[child_at:])  # fmt: skip

    status, document, _ = _trace(capsys, "bad-1", "--format", "json")
    roots = json.loads(document)["events"]
    [tree] = [r for r in roots if r["event_id"] == "root-1"]
    assert len(roots) > 1 and tree["asked"] is False
    [bad] = tree["children"]
    assert (bad["span_id"], bad["parent_span_id"]) == (child.span_id, root.span_id)
    assert (
        bad["asked"] and bad["silver"] == [] and "does not decode" in bad["quarantine"][0]["reason"]
    )
    assert tree["silver"] and tree["quarantine"] == []


def test_a_dead_lettered_event_shows_the_letter_and_the_replay(
    settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    simulation = provisioned(settings)
    simulation.publish_customers(seed=3, count=30)  # before any product is known
    assert simulation.subscriber("conversions").run().dead_lettered > 0
    simulation.publish_products(seed=3)
    simulation.subscriber("conversions").run()  # learns the catalogue
    assert simulation.subscriber("conversions").replay_dead_letters().replayed > 0
    letter = simulation.dead_letters.list("conversions", include_replayed=True)[0]
    event_id = str(letter.properties["cloudEvents_id"])
    customer = next(
        str(record["customer_id"])
        for envelope, record in published(simulation, "CustomerCreated")
        if envelope.id == event_id
    )
    simulation.close()
    run_capture(settings, flush=True)
    _through_gold(settings)

    status, text, _ = _trace(capsys, "--customer", customer)
    assert status == 0
    assert "dead letter of team conversions from customer-created (replayed)" in text
    assert "knows no active products" in text
    status, document, _ = _trace(capsys, "--customer", customer, "--format", "json")
    [created] = json.loads(document)["events"]
    assert created["event_id"] == event_id
    assert created["dead_letters"][0]["replayed"] is True
    # The replay's reaction: the lead, under the customer it was decided on.
    assert [c["event"] for c in created["children"]] == ["LeadGenerated"]


@pytest.mark.parametrize(
    "hostile",
    ["no-such-id", "x' OR '1'='1", "a'); DROP TABLE t; --", "../../_delta_log", "\\' \" %s"],
)
def test_an_unknown_or_hostile_id_is_one_error_line(
    settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str], hostile: str
) -> None:
    synthetic_container(tmp_path / "capture", files=2, events_per_file=3)
    assert main(["ingest", "--capture-root", str(tmp_path / "capture")]) == 0
    capsys.readouterr()
    status, out, err = _trace(capsys, hostile)
    assert status != 0 and out == ""
    [line] = err.strip().splitlines()
    assert line.startswith("eda-lake: error: no event with id") and repr(hostile) in line
    status, _, err = _trace(capsys, "--customer", hostile)
    assert status != 0 and "no events of customer" in err
    status, out, _ = _trace(capsys, "0-1")  # the lake still answers for a real id
    assert status == 0 and out.splitlines()[0] == "event 0-1 (asked)"


def test_no_lake_and_no_id_are_refused(capsys: pytest.CaptureFixture[str]) -> None:
    status, _, err = _trace(capsys, "some-id")
    assert status != 0 and "no lake at" in err and len(err.strip().splitlines()) == 1
    status, _, err = _trace(capsys)
    assert status != 0 and "name one event (EVENT_ID) or one customer" in err
    status, _, err = _trace(capsys, "some-id", "--customer", "c")
    assert status != 0 and "name one event" in err


def test_a_hop_whose_table_keeps_no_record_of_the_event_is_untimed() -> None:
    at = datetime(2026, 12, 4, 12, tzinfo=UTC)
    places = Places(
        silver=[{"table": "silver.t", "keys": {}, "at": at + timedelta(seconds=2)}],
        entities=[
            {"table": "silver.a", "key": {}, "at": at + timedelta(seconds=3)},
            {"table": "silver.b", "key": {}, "at": None},  # written before records were kept
        ],
        gold=[{"table": "gold.g", "day": at.date(), "at": at + timedelta(seconds=5)}],
    )
    bronze = {"enqueued_time": at, "ingested_at": at + timedelta(seconds=1)}
    event = TracedEvent("e", "/s", None, None, None, None, None, None, [bronze], places)
    assert [(h["to"], h["seconds"]) for h in event.hops()] == [
        ("published", None), ("bronze", 1.0), ("silver", 1.0), ("entities", None), ("gold", None),
    ]  # fmt: skip


def test_an_event_retried_from_quarantine_reaches_silver_when_it_landed(
    settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    lake, evolved = quarantined_unknown_schema(settings)
    register(lake, evolved)
    assert lake.recovery.retry_quarantine(files=False).events_landed == 1
    table = tables.open_table(lake.layout.table_uri("silver", "customer_created"))
    assert table is not None
    landed = freshness.last_commit(table)

    status, document, _ = _trace(capsys, "later-1", "--format", "json")
    assert status == 0
    [event] = [n for n in _walk(json.loads(document)["events"]) if n["event_id"] == "later-1"]
    assert event["quarantine"][0]["resolved_at"] is not None
    assert datetime.fromisoformat(event["silver"][0]["at"]) == landed
