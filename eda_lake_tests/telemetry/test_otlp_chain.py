"""The spans and metrics of a real publish, reaction, capture, ingestion and silver run on
the embedded hub reach an OTLP/HTTP collector, each event's spans in the event's own trace."""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import replace
from pathlib import Path

import pytest

from eda_lake import telemetry
from eda_lake.capture.runtime import run_capture
from eda_lake.lake.runtime import Lake
from eda_lake.settings import Settings, TelemetrySettings
from eda_lake.shared import trace_context
from eda_lake.telemetry import metrics, outage, spans
from eda_lake_tests.simulation.helpers import provisioned
from eda_lake_tests.telemetry.collectors import CollectedSpan, otlp_collector

PII_KEY = "a-key-of-at-least-16-characters"
CUSTOMERS = 12


def _run_the_chain(settings: Settings) -> None:
    """What a deployment's processes do in turn: publish, react, capture, ingest, silver's
    event tables."""
    simulation = provisioned(settings)
    try:
        simulation.publish_products(seed=3)
        simulation.publish_customers(seed=3, count=CUSTOMERS)
        simulation.subscriber("conversions").run()
    finally:
        simulation.close()
    run_capture(settings, flush=True)
    lake = Lake(settings)
    lake.ingest()
    lake.silver_events()


def _by_event(spans: list[CollectedSpan]) -> dict[str, CollectedSpan]:
    return {span.attributes["cloudevents.event_id"]: span for span in spans}


def test_each_event_is_a_trace_from_its_publish_to_its_reaction_and_the_runs_are_spans(
    tmp_path: Path,
) -> None:
    with otlp_collector() as collector:
        settings = Settings(
            home=tmp_path / "home",
            pii_key=PII_KEY,
            telemetry=TelemetrySettings(otlp_endpoint=collector.url),
        )
        telemetry.configure(settings.telemetry)
        _run_the_chain(settings)
        lake = Lake(settings)
        lake.entities()
        lake.gold()
        telemetry.shutdown()  # everything sent, while the collector listens

    created = _by_event(collector.named("publish customer-created"))
    assert len(created) == CUSTOMERS
    for event_id, span in created.items():
        expected = trace_context.root_context(span.attributes["cloudevents.event_source"], event_id)
        assert (span.trace_id, span.span_id, span.parent_span_id) == (
            expected.trace_id, expected.span_id, None,
        )  # fmt: skip
        assert span.resource["service.name"] == "eda-lake"
    # Conversions' reaction to each: in its cause's trace, the cause's publish as its parent.
    reactions = _by_event(collector.named("react conversions customer-created"))
    assert reactions.keys() == created.keys()
    for event_id, reaction in reactions.items():
        cause = created[event_id]
        assert (reaction.trace_id, reaction.parent_span_id) == (cause.trace_id, cause.span_id)
        assert reaction.attributes["messaging.consumer.group.name"] == "conversions"
        assert reaction.status == 0
    # What the reactions published has spans of its own.
    assert collector.named("publish lead-")

    runs = {span.name: span for span in collector.named("lake ")}
    assert set(runs) == {"lake capture", "lake ingest", "lake silver", "lake gold"}
    assert runs["lake gold"].attributes["eda_lake.gold.tables"] > 0
    assert runs["lake gold"].attributes["eda_lake.gold.rows_written"] > 0
    published = len(collector.named("publish "))
    assert runs["lake capture"].attributes["eda_lake.capture.events"] == published
    assert runs["lake ingest"].attributes["eda_lake.ingest.rows"] == published
    assert runs["lake silver"].attributes["eda_lake.silver.rows_read"] == published

    # each sent once (the export after it was set), though the shutdown exported again
    (newest,) = collector.gauge(metrics.NEWEST_EVENT_AGE)
    (committed,) = collector.gauge(metrics.LAST_COMMIT_AGE)
    (rate,) = collector.gauge(metrics.QUARANTINE_RATE)
    assert newest.unit == committed.unit == "s" and rate.unit == "1"
    assert 0 <= committed.value <= newest.value < 600
    assert rate.value == 0.0


def test_a_collector_that_is_down_costs_one_warning_line_and_nothing_of_the_run(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    with otlp_collector() as gone:
        url = gone.url  # closed on leaving: nothing listens there any more
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TIMEOUT", "1")  # the SDK's own: its retries' bound
    settings = Settings(
        home=tmp_path / "home", pii_key=PII_KEY, telemetry=TelemetrySettings(otlp_endpoint=url)
    )
    telemetry.configure(settings.telemetry)
    caplog.set_level(logging.INFO)
    _run_the_chain(settings)
    telemetry.flush()
    telemetry.shutdown()

    lake = Lake(settings)
    assert lake.silver_events().rows_read == 0  # the run before read every row
    lines = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert [r.name for r in lines] == [outage.log.name]
    assert f"the OTLP collector at {url} did not take" in lines[0].getMessage()
    assert "OTEL_EXPORTER_OTLP_ENDPOINT" in lines[0].getMessage()


def test_with_telemetry_off_no_span_is_made(tmp_path: Path) -> None:
    with otlp_collector() as collector:
        settings = replace(Settings(home=tmp_path / "home"), pii_key=PII_KEY)
        telemetry.configure(settings.telemetry)
        assert telemetry.active() is None
        _run_the_chain(settings)
        telemetry.flush()
    assert collector.requests == 0


def test_a_failed_run_is_a_failed_span_naming_the_exceptions_type_alone(tmp_path: Path) -> None:
    """An exception's message may quote an event's data: neither it nor its stack leaves."""
    with otlp_collector() as collector:
        settings = Settings(
            home=tmp_path / "home", telemetry=TelemetrySettings(otlp_endpoint=collector.url)
        )
        telemetry.configure(settings.telemetry)
        with pytest.raises(ValueError, match=r"jane@example\.com"), spans.lake_run("silver"):
            raise ValueError("row of jane@example.com does not fit")
        telemetry.shutdown()

    [run] = collector.named("lake silver")
    assert (run.status, run.status_message, run.events) == (2, "ValueError", ())


def test_a_poison_events_reaction_is_a_failed_span_in_its_trace(tmp_path: Path) -> None:
    """Without the product catalogue Conversions cannot price a lead: each CustomerCreated
    that would become one is dead-lettered, and its reaction span says so."""
    with otlp_collector() as collector:
        settings = Settings(
            home=tmp_path / "home", telemetry=TelemetrySettings(otlp_endpoint=collector.url)
        )
        telemetry.configure(settings.telemetry)
        simulation = provisioned(settings)
        try:
            simulation.publish_customers(seed=3, count=6)
            report = simulation.subscriber("conversions").run()
        finally:
            simulation.close()
        telemetry.shutdown()

    assert 0 < report.dead_lettered < report.received == 6
    created = _by_event(collector.named("publish customer-created"))
    reactions = _by_event(collector.named("react conversions"))
    statuses = Counter(span.status for span in reactions.values())
    assert statuses == {2: report.dead_lettered, 0: report.received - report.dead_lettered}
    assert {(r.trace_id, r.parent_span_id) for r in reactions.values()} == {
        (c.trace_id, c.span_id) for c in created.values()
    }


def test_a_partner_files_span_links_to_each_sale_made_from_it(tmp_path: Path) -> None:
    with otlp_collector() as collector:
        settings = Settings(
            home=tmp_path / "home", telemetry=TelemetrySettings(otlp_endpoint=collector.url)
        )
        telemetry.configure(settings.telemetry)
        simulation = provisioned(settings)
        try:
            report = simulation.run_chain(seed=11, customers=60)
        finally:
            simulation.close()
        telemetry.shutdown()

    files = collector.named("partner-file")
    assert len(files) == report.partner_files > 0
    sales = {(s.trace_id, s.span_id) for s in collector.named("publish sale-confirmed")}
    linked = [link for span in files for link in span.links]
    assert len(sales) == report.sales_confirmed == len(linked)
    assert set(linked) == sales
    for span in files:
        expected = trace_context.file_context(span.attributes["eda_lake.partner_file"])
        assert (span.trace_id, span.span_id) == (expected.trace_id, expected.span_id)
