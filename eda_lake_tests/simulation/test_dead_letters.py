from __future__ import annotations

from pathlib import Path

from eda_lake.events.cloudevents import CloudEvent
from eda_lake.hub.base import EventData
from eda_lake.settings import Settings
from eda_lake.simulation import world
from eda_lake.simulation.conversions_state import Lead
from eda_lake.simulation.runtime import Simulation
from eda_lake_tests.processes import run_together
from eda_lake_tests.simulation.helpers import provisioned, published


def _poison(type_: str, body: bytes, content_type: str | None) -> EventData:
    envelope = CloudEvent("poison-" + body.hex()[:8], "/elsewhere", type_, world.EPOCH)
    return EventData(body, envelope.to_properties(), partition_key="p", content_type=content_type)


def test_poison_events_are_dead_lettered_while_the_partition_flows(settings: Settings) -> None:
    simulation = provisioned(settings)
    simulation.publish_products(seed=1)
    simulation.publish_customers(seed=1, count=40)
    customer_type = simulation.catalogue.event("CustomerCreated").cloudevents_type()
    spec = simulation.catalogue.event("CustomerCreated")
    poison = [
        _poison(
            customer_type,
            b"\xff\xff\xff",
            simulation.encoder.encode(
                {
                    "customer_id": "5f0c8d0e-8a4b-4c57-9d43-0b5c2a0f6b11",
                    "created_at": world.EPOCH,
                    "email": "a@b",
                    "full_name": "A B",
                    "country": "DE",
                    "channel": "WEB",
                },
                spec.schema,
            ).content_type,
        ),
        _poison(customer_type, b"\x00", "avro/binary+ffffffffffffffffffffffffffffffff"),
        _poison("com.other.Thing", b"\x00", None),
        EventData(b"no envelope at all", {}, partition_key="p"),
    ]
    simulation.hub.send(spec.hub, poison, partition_id="0")
    simulation.publish_customers(seed=2, count=40)  # healthy events after the poison

    report = simulation.subscriber("conversions").run()
    assert report.dead_lettered == 4
    assert report.reactions == 80  # every healthy customer got its reaction
    reasons = sorted(
        letter.reason.split(":")[0] for letter in simulation.dead_letters.list("conversions")
    )
    assert reasons == ["CloudEventError", "PayloadError", "ReactionError", "SchemaNotFoundError"]
    letter = next(x for x in simulation.dead_letters.list() if x.body == b"no envelope at all")
    assert (letter.origin, letter.partition_id) == (spec.hub, "0") and letter.sequence_number >= 0

    # running again neither repeats the reactions nor duplicates the letters
    again = simulation.subscriber("conversions").run()
    assert (again.received, again.reactions) == (0, 0)
    assert len(simulation.dead_letters.list()) == 4


def test_dead_letter_replay_after_the_cause_is_fixed(settings: Settings) -> None:
    simulation = provisioned(settings)
    simulation.publish_customers(seed=3, count=60)  # before any product is known
    first = simulation.subscriber("conversions").run()
    leads_wanted = sum(
        world.becomes_lead(str(r["customer_id"]))
        for _, r in published(simulation, "CustomerCreated")
    )
    assert first.dead_lettered == leads_wanted > 0
    assert all("knows no active products" in x.reason for x in simulation.dead_letters.list())

    simulation.publish_products(seed=3)
    simulation.subscriber("conversions").run()  # learns the catalogue
    replay = simulation.subscriber("conversions").replay_dead_letters()
    assert replay.replayed == leads_wanted and replay.reactions == leads_wanted
    assert simulation.dead_letters.list("conversions") == []
    assert len(published(simulation, "LeadGenerated")) == leads_wanted


def _a_lead_handed_to_a_partner(settings: Settings) -> tuple[Simulation, Lead, Path]:
    """A simulation whose Conversions team has handed leads to partners, one such lead, and
    the empty folder partners drop their files into."""
    simulation = provisioned(settings)
    simulation.publish_products(seed=4)
    simulation.publish_customers(seed=4, count=90)
    simulation.subscriber("conversions").run()
    lead = simulation.conversions_state.leads_not_dropped()[0]
    incoming = simulation.partner_drops / "incoming"
    incoming.mkdir(parents=True)
    return simulation, lead, incoming


def test_bad_partner_rows_are_dead_lettered_and_good_rows_flow(settings: Settings) -> None:
    simulation, lead, incoming = _a_lead_handed_to_a_partner(settings)
    (incoming / f"{lead.partner_id}-00099.csv").write_text(
        "lead_id,purchase_date\n"
        f"{lead.lead_id},2027-01-01 10:00:00\n"
        "not-a-uuid,2027-01-01 10:00:00\n"
        f"{lead.lead_id},01/02/2027\n"
        "5f0c8d0e-8a4b-4c57-9d43-0b5c2a0f6b11,2027-01-01 10:00:00\n"
        "only-one-column\n"
    )
    (incoming / "contoso-00100.csv").write_text("id;date\nx;y\n")
    report = simulation.ingest_partner_files()
    assert (report.files, report.sales_confirmed, report.bad_rows) == (2, 1, 6)
    reasons = [x.reason for x in simulation.dead_letters.list("conversions")]
    assert any("not a UUID" in r for r in reasons)
    assert any("is not 'YYYY-MM-DD HH:MM:SS'" in r for r in reasons)
    assert any("never handed to a partner" in r for r in reasons)
    assert any("expected 2 columns" in r for r in reasons)
    assert any("header is not lead_id,purchase_date" in r for r in reasons)
    assert not list(incoming.glob("*.csv"))
    assert len(list((simulation.partner_drops / "processed").glob("*.csv"))) == 2


def test_a_partner_file_that_is_no_utf8_csv_is_one_dead_letter_and_the_rest_flow(
    settings: Settings,
) -> None:
    simulation, lead, incoming = _a_lead_handed_to_a_partner(settings)
    unreadable = b"lead_id,purchase_date\n\xff\xfe,2026\n"
    (incoming / "aaa-00100.csv").write_bytes(unreadable)  # sorts first
    (incoming / f"{lead.partner_id}-00099.csv").write_text(
        f"lead_id,purchase_date\n{lead.lead_id},2027-01-01 10:00:00\n"
    )
    report = simulation.ingest_partner_files()
    assert (report.files, report.sales_confirmed, report.bad_rows) == (2, 1, 1)
    [letter] = simulation.dead_letters.list("conversions")
    assert "aaa-00100.csv: not a UTF-8 CSV file" in letter.reason and letter.body == unreadable
    assert not list(incoming.glob("*.csv"))  # neither blocks the next run


def _ingest_partner_files(settings: Settings) -> None:
    from eda_lake.simulation.runtime import Simulation

    Simulation(settings).ingest_partner_files()


def test_two_ingestions_of_one_partner_file_publish_the_same_events(settings: Settings) -> None:
    simulation = provisioned(settings)
    simulation.publish_products(seed=6)
    simulation.publish_customers(seed=6, count=120)
    simulation.subscriber("conversions").run()
    drop = simulation.drop_partner_files()
    assert drop.sales > 0
    run_together(_ingest_partner_files, (settings,), 2, 60)
    confirmed = published(simulation, "SaleConfirmed")
    assert len({envelope.id for envelope, _ in confirmed}) == drop.sales  # repeats share ids
    assert not list((simulation.partner_drops / "incoming").glob("*.csv"))
