"""An event's schema evolves by Avro's rules and silver follows without a failed run: events
of both writer versions land, promoted columns take the new type, an added field holds the
reader's default for older events, a removed one goes, and a rebuild gives the same tables."""

from __future__ import annotations

import json
import shutil
import uuid
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from deltalake import DeltaTable

from eda_lake.catalogue import Catalogue, load_catalogue
from eda_lake.cli import main
from eda_lake.events.cloudevents import CloudEvent
from eda_lake.events.wire import content_type
from eda_lake.hub.base import EventData
from eda_lake.lake.delta import commits, tables
from eda_lake.lake.delta.commits import Write
from eda_lake.lake.derived.build import Reached
from eda_lake.lake.derived.declarations import Derived, Reach
from eda_lake.lake.derived.entities import entity_builder
from eda_lake.lake.runtime import Lake
from eda_lake.lake.silver.event_tables import BRONZE
from eda_lake.lake.silver.evolution import TableUpgradeError
from eda_lake.lake.silver.masking import Masker
from eda_lake.registry.embedded import EmbeddedSchemaRegistry, embedded_schema_id
from eda_lake.registry.schema import AvroSchema
from eda_lake.settings import REPO_ROOT, Settings
from eda_lake.simulation import world
from eda_lake.simulation.runtime import Simulation
from eda_lake_tests.avro_records import fastavro_body
from eda_lake_tests.lake.helpers import LakeAfterChain
from eda_lake_tests.lake.test_silver_and_gold import KEY, _capture, _rows

BEYOND_INT32 = 1099511627776  # 2 ** 40: exact in every promoted type, int32 cannot hold it
FIELD = "visits"


@dataclass(frozen=True)
class Evolution:
    """CustomerCreated with field `FIELD` as `before` (None: absent), then as `after`."""

    before: dict[str, Any] | None
    after: dict[str, Any] | None
    old_value: Any  # what the old writer sends
    new_value: Any  # what the new writer sends
    stored: pa.DataType | None  # the silver column's type afterwards (None: no column)
    read: Any = None  # how silver reads `old_value` afterwards (default: as sent)
    # How silver reads the new field's default (None: the default's JSON as that type).
    default_read: Any = None


DECIMAL = {"type": "bytes", "logicalType": "decimal", "precision": 12, "scale": 2}


def _field(type_: str | dict[str, Any], default: Any, **more: Any) -> dict[str, Any]:
    return {"name": FIELD, "type": type_, "default": default, **more}


EVOLUTIONS = {
    "int to long": Evolution(_field("int", 0), _field("long", 0), 7, BEYOND_INT32, pa.int64()),
    "int to float": Evolution(
        _field("int", 0), _field("float", 0.0), 7, float(BEYOND_INT32), pa.float64(), 7.0
    ),
    "int to double": Evolution(
        _field("int", 0), _field("double", 0.0), 7, float(BEYOND_INT32), pa.float64(), 7.0
    ),
    "long to float": Evolution(
        _field("long", 0), _field("float", 0.0), BEYOND_INT32, 0.5, pa.float64(), BEYOND_INT32
    ),
    "long to double": Evolution(
        _field("long", 0), _field("double", 0.0), BEYOND_INT32, 0.25, pa.float64(), BEYOND_INT32
    ),
    "float to double": Evolution(
        _field("float", 0.0), _field("double", 0.0), 0.5, 1e300, pa.float64()
    ),
    "string to bytes": Evolution(
        _field("string", "none"), _field("bytes", "none"), "old", b"new", pa.binary(), b"old"
    ),
    "bytes to string": Evolution(
        _field("bytes", "none"), _field("string", "none"), b"old", "new", pa.string(), "old"
    ),
    "field added with a default": Evolution(
        None, _field("string", "basic"), None, "gold", pa.string(), "basic"
    ),
    "personal field added with a default": Evolution(
        None, _field("string", "nobody", personal=True), None, "Ann", pa.string(), "nobody"
    ),
    "field removed": Evolution(_field("int", 0), None, 7, None, None),
    # A bytes default is text whose code points 0-255 are the bytes; a decimal's, those bytes
    # of the unscaled number (0x0064 at scale 2: 1.00).
    "bytes field added with a default beyond ASCII": Evolution(
        None,
        _field("bytes", "\u00ff\u0000"),
        None,
        b"\x01",
        pa.binary(),
        b"\xff\x00",
        b"\xff\x00",
    ),
    "decimal field added with a default": Evolution(
        None,
        _field(DECIMAL, "\u0000\u0064"),
        None,
        Decimal("2.50"),
        pa.decimal128(12, 2),
        Decimal("1.00"),
        Decimal("1.00"),
    ),
}


def evolved_catalogue(tmp_path: Path, name: str, field: dict[str, Any] | None) -> Catalogue:
    """The project's catalogue with `field` appended to CustomerCreated (if given)."""
    schemas = tmp_path / name
    shutil.copytree(REPO_ROOT / "schemas", schemas)
    if field is not None:
        avsc = schemas / "customer" / "CustomerCreated.avsc"
        definition = json.loads(avsc.read_text())
        definition["fields"].append(field)
        avsc.write_text(json.dumps(definition))
    return load_catalogue(schemas)


def register(settings: Settings, catalogue: Catalogue) -> AvroSchema:
    """CustomerCreated of `catalogue`, registered as the next writer version."""
    schema = catalogue.event("CustomerCreated").schema
    registry = EmbeddedSchemaRegistry(settings.registry_file)
    try:
        registry.register(catalogue.schema_group, schema)
    finally:
        registry.close()
    return schema


def send_customers(
    simulation: Simulation, catalogue: Catalogue, writer: AvroSchema, ids: list[str], value: Any
) -> None:
    """CustomerCreated events written with `writer`, `FIELD` = `value` when it has one."""
    spec = catalogue.event("CustomerCreated")
    schema_id = embedded_schema_id(catalogue.schema_group, writer.full_name, writer.canonical)
    has_field = any(f["name"] == FIELD for f in writer.parsed["fields"])
    sent = []
    for event_id, person in zip(ids, world.people(777, len(ids)), strict=True):
        record = {
            "customer_id": str(uuid.uuid5(uuid.NAMESPACE_URL, event_id)),
            "created_at": person.created_at, "email": f"{event_id}@example.net",
            "full_name": person.full_name, "country": "PL", "channel": "WEB",
            **({FIELD: value} if has_field else {}),
        }  # fmt: skip
        envelope = CloudEvent(
            event_id, "/eda-lake/customer", spec.cloudevents_type(), person.created_at
        )
        body = fastavro_body(writer, record)
        sent.append(EventData(body, envelope.to_properties(), "k", content_type(schema_id)))
    simulation.hub.send(spec.hub, sent)


def _by_id(lake: Lake) -> dict[str, dict[str, Any]]:
    return {r["event_id"]: r for r in _rows(lake, "silver", "customer_created")}


def _content(lake: Lake, area: str, name: str) -> list[str]:
    return sorted(map(str, _rows(lake, area, name)))


COMPARED = [("silver", "customer_created"), ("silver", "customers"), ("gold", "funnel_daily")]


@pytest.mark.parametrize("evolution", EVOLUTIONS.values(), ids=EVOLUTIONS.keys())
def test_silver_follows_an_evolved_schema_as_a_rebuild_does(
    lake_settings: Settings, lake_after_chain: LakeAfterChain, tmp_path: Path, evolution: Evolution
) -> None:
    simulation, _, _ = lake_after_chain(lake_settings, customers=4)
    old = evolved_catalogue(tmp_path, "old", evolution.before)
    old_writer = register(lake_settings, old)
    send_customers(simulation, old, old_writer, ["old-1", "old-2"], evolution.old_value)
    _capture(lake_settings, simulation)
    before = Lake(lake_settings, old, pii_key=KEY)
    before.ingest()
    before.silver()
    before.gold()

    new = evolved_catalogue(tmp_path, "new", evolution.after)
    new_writer = register(lake_settings, new)
    send_customers(simulation, new, new_writer, ["new-1", "new-2"], evolution.new_value)
    _capture(lake_settings, simulation)
    lake = Lake(lake_settings, new, pii_key=KEY)
    lake.ingest()
    run = lake.silver()  # no failed run
    lake.gold()

    assert run.events.inserted["CustomerCreated"] == 2
    assert lake.recovery.upgrade_silver() == []  # upgraded once: the next run only compares schemas
    rows = _by_id(lake)
    silver = tables.open_table(
        lake.layout.table_uri("silver", "customer_created"), lake.layout.storage_options
    )
    assert silver is not None
    columns = pa.schema(silver.schema().to_arrow())
    if evolution.stored is None:
        assert FIELD not in columns.names and all(FIELD not in r for r in rows.values())
    else:
        assert columns.field(FIELD).type == evolution.stored
        personal = evolution.after is not None and evolution.after.get("personal") is True
        masked = Masker(KEY).mask if personal else (lambda value: value)
        read = evolution.old_value if evolution.read is None else evolution.read
        assert [rows[i][FIELD] for i in ("old-1", "old-2")] == [masked(read)] * 2
        assert [rows[i][FIELD] for i in ("new-1", "new-2")] == [masked(evolution.new_value)] * 2
        default = masked(
            pa.scalar(evolution.after["default"], evolution.stored).as_py()  # type: ignore[index]
            if evolution.default_read is None
            else evolution.default_read
        )
        older = [r[FIELD] for i, r in rows.items() if not i.startswith(("old-", "new-"))]
        assert older and set(older) == {default}  # the chain's events, from the first writer
    customers = {r["customer_id"] for r in rows.values()}
    funnel = _rows(lake, "gold", "funnel_daily")
    assert sum(r["customers"] for r in funnel) == len(customers)  # gold is current

    incremental = {table: _content(lake, *table) for table in COMPARED}
    lake.recovery.rebuild()
    assert {table: _content(lake, *table) for table in COMPARED} == incremental


def _silver_table(lake: Lake, name: str = "customer_created") -> DeltaTable:
    table = tables.open_table(lake.layout.table_uri("silver", name), lake.layout.storage_options)
    assert table is not None
    return table


def test_a_lake_written_with_32_bit_columns_upgrades_on_its_first_run(
    lake_settings: Settings, lake_after_chain: LakeAfterChain, tmp_path: Path
) -> None:
    simulation, _, _ = lake_after_chain(lake_settings, customers=4)
    catalogue = evolved_catalogue(tmp_path, "schemas", _field("int", 0))
    writer = register(lake_settings, catalogue)
    send_customers(simulation, catalogue, writer, ["old-1", "old-2"], 7)
    _capture(lake_settings, simulation)
    lake = Lake(lake_settings, catalogue, pii_key=KEY)
    lake.ingest()
    lake.silver()
    # The table as releases storing an Avro int as int32 left it, progress included.
    table = _silver_table(lake)
    progress = commits.consumed(table, [BRONZE])[BRONZE]
    assert progress is not None
    rows = tables.query("SELECT * FROM t", t=table)
    narrow = rows.schema.set(
        rows.schema.get_field_index(FIELD), rows.schema.field(FIELD).with_type(pa.int32())
    )
    commits.commit(table, Write(narrow, rows.cast(narrow), mode="overwrite"), {BRONZE: progress})
    assert _silver_table(lake).schema().to_arrow().field(FIELD).type == pa.int32()
    before = _content(lake, "silver", "customer_created")

    run = lake.silver()
    upgraded = _silver_table(lake)
    assert pa.schema(upgraded.schema().to_arrow()).field(FIELD).type == pa.int64()
    assert commits.consumed(upgraded, [BRONZE])[BRONZE] == progress  # its progress kept
    assert run.events.rows_read == 0  # nothing read again
    after = _content(lake, "silver", "customer_created")
    assert after == before  # nothing lost: the same rows, the same values
    lake.recovery.rebuild()
    assert _content(lake, "silver", "customer_created") == after


def test_an_entity_follows_a_promoted_column_of_its_source(
    lake_settings: Settings, lake_after_chain: LakeAfterChain, tmp_path: Path
) -> None:
    visits = Derived(
        "silver", "customer_visits", "visits per customer", "customer",
        "SELECT customer_id, visits FROM customer_created",
        {"silver.customer_created": Reach("customer_id")}, key=("customer_id",),
    )  # fmt: skip
    simulation, _, _ = lake_after_chain(lake_settings, customers=4)
    old = evolved_catalogue(tmp_path, "old", _field("int", 0))
    send_customers(simulation, old, register(lake_settings, old), ["old-1"], 7)
    _capture(lake_settings, simulation)
    before = Lake(lake_settings, old, pii_key=KEY)
    before.ingest()
    before.silver()
    builder = entity_builder(before.layout, visits)
    builder.run()
    new = evolved_catalogue(tmp_path, "new", _field("double", 0.0))
    send_customers(simulation, new, register(lake_settings, new), ["new-1"], 0.5)
    _capture(lake_settings, simulation)
    lake = Lake(lake_settings, new, pii_key=KEY)
    lake.ingest()
    lake.silver()

    run = builder.run()
    entity = _silver_table(lake, "customer_visits")
    assert pa.schema(entity.schema().to_arrow()).field(FIELD).type == pa.float64()
    assert sorted(r[FIELD] for r in _rows(lake, "silver", "customer_visits")) == [
        *[0.0] * 4, 0.5, 7.0,
    ]  # fmt: skip
    assert run.inputs  # its progress recorded: the next run has nothing to do
    assert builder.pending() == Reached("customer_id", pa.array([], pa.string()))


def test_int_promoted_to_long_through_the_provision_and_silver_commands(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("EDA_LAKE_PII_KEY", KEY)
    versions = [("int", 7, "old-1"), ("long", BEYOND_INT32, "new-1")]
    for type_, value, event_id in versions:
        catalogue = evolved_catalogue(tmp_path, type_, _field(type_, 0))
        monkeypatch.setenv("EDA_LAKE_SCHEMA_DIR", str(tmp_path / type_))
        assert main(["provision"]) == 0  # registers the promoted schema
        simulation = Simulation(Settings.from_env())
        try:
            writer = catalogue.event("CustomerCreated").schema
            send_customers(simulation, catalogue, writer, [event_id], value)
        finally:
            simulation.close()
        assert main(["capture", "run", "--flush"]) == 0
        assert main(["ingest"]) == 0
        assert main(["silver"]) == 0
    lake = Lake(Settings.from_env(), catalogue, pii_key=KEY)
    rows = _by_id(lake)
    assert (rows["old-1"][FIELD], rows["new-1"][FIELD]) == (7, BEYOND_INT32)


def test_a_quarantine_retry_first_after_the_change_lands_in_the_promoted_type(
    lake_settings: Settings, lake_after_chain: LakeAfterChain, tmp_path: Path
) -> None:
    simulation, _, _ = lake_after_chain(lake_settings, customers=2)
    old = evolved_catalogue(tmp_path, "old", _field("int", 0))
    send_customers(simulation, old, register(lake_settings, old), ["old-1"], 7)
    new = evolved_catalogue(tmp_path, "new", _field("double", 0.0))
    new_writer = new.event("CustomerCreated").schema
    send_customers(simulation, new, new_writer, ["new-1"], 0.5)  # not registered yet
    _capture(lake_settings, simulation)
    before = Lake(lake_settings, old, pii_key=KEY)
    before.ingest()
    assert before.silver().events.unknown_schema == 1
    register(lake_settings, new)

    lake = Lake(lake_settings, new, pii_key=KEY)
    retried = lake.recovery.retry_quarantine(files=False)
    assert (retried.events_landed, retried.events_resolved) == (1, 1)
    rows = _by_id(lake)
    assert (rows["old-1"][FIELD], rows["new-1"][FIELD]) == (7.0, 0.5)
    column = pa.schema(_silver_table(lake).schema().to_arrow()).field(FIELD)
    assert column.type == pa.float64()


def test_bytes_that_are_no_text_fail_their_table_in_one_line_and_change_nothing(
    lake_settings: Settings, lake_after_chain: LakeAfterChain, tmp_path: Path
) -> None:
    simulation, _, _ = lake_after_chain(lake_settings, customers=2)
    old = evolved_catalogue(tmp_path, "old", _field("bytes", "none"))
    send_customers(simulation, old, register(lake_settings, old), ["old-1"], b"\xff\xfe")
    _capture(lake_settings, simulation)
    before = Lake(lake_settings, old, pii_key=KEY)
    before.ingest()
    before.silver()
    version = _silver_table(before).version()
    new = evolved_catalogue(tmp_path, "new", _field("string", "none"))
    register(lake_settings, new)
    simulation.publish_products(seed=9)  # another table has new events
    _capture(lake_settings, simulation)
    lake = Lake(lake_settings, new, pii_key=KEY)
    lake.ingest()

    with pytest.raises(TableUpgradeError, match=r"silver.customer_created: column 'visits'"):
        lake.recovery.upgrade_silver()
    run = lake.silver()  # the table fails on its own: every other table lands
    failed = run.events.runs["CustomerCreated"]
    assert failed.failed and "column 'visits' cannot become string" in failed.failure()
    assert _silver_table(lake).version() == version  # nothing was changed
    others = {name: r for name, r in run.events.runs.items() if name != "CustomerCreated"}
    assert not any(r.failed for r in others.values())
    assert run.events.inserted["ProductUpdated"] > 0  # and they land
    lake.recovery.rebuild()  # the fix the error names: the event that is no text is quarantined
    assert "old-1" not in _by_id(lake)
    assert [r["ce_id"] for r in lake.quarantine.events().to_pylist()] == ["old-1"]
    lake.silver()  # and silver runs again


def test_an_added_field_a_producer_sent_before_the_catalogue_knew_it_is_never_defaulted(
    lake_settings: Settings, lake_after_chain: LakeAfterChain, tmp_path: Path
) -> None:
    simulation, _, _ = lake_after_chain(lake_settings, customers=2)
    old = evolved_catalogue(tmp_path, "old", None)
    new = evolved_catalogue(tmp_path, "new", _field("string", "basic"))
    # The producer registers and sends the new version while the lake reads the old one.
    send_customers(simulation, new, register(lake_settings, new), ["ahead-1"], "gold")
    _capture(lake_settings, simulation)
    before = Lake(lake_settings, old, pii_key=KEY)
    before.ingest()
    before.silver()
    version = _silver_table(before).version()
    lake = Lake(lake_settings, new, pii_key=KEY)

    failed = lake.silver().events.runs["CustomerCreated"]
    assert failed.failed and "'visits'" in failed.failure() and "rebuild" in failed.failure()
    assert _silver_table(lake).version() == version  # not given the default: nothing changed
    lake.recovery.rebuild()  # the fix the line names: the value as the producer sent it
    assert _by_id(lake)["ahead-1"][FIELD] == "gold"
    assert not any(run.failed for run in lake.silver().events.runs.values())
