"""The compiled encoder of flat records gives fastavro's bytes for every record it takes, and
leaves every other record to fastavro (which then encodes or refuses it itself)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from eda_lake.catalogue import Catalogue
from eda_lake.events.flat_encoding import encoding_plan, flat_encoder
from eda_lake.events.wire import AvroEncoder, PayloadError
from eda_lake.registry.embedded import EmbeddedSchemaRegistry
from eda_lake.registry.schema import AvroSchema, parse_schema
from eda_lake.simulation import teams
from eda_lake_tests.avro_records import fastavro_body

# Besides the catalogue's: every kind the compiled encoder takes, in unions with null too.
EVERY_KIND = parse_schema(
    """{"type": "record", "name": "Everything", "fields": [
      {"name": "flag", "type": "boolean"},
      {"name": "small", "type": "int"},
      {"name": "big", "type": ["null", "long"]},
      {"name": "ratio", "type": ["double", "null"]},
      {"name": "raw", "type": "bytes"},
      {"name": "text", "type": ["null", "string"]},
      {"name": "id", "type": {"type": "string", "logicalType": "uuid"}},
      {"name": "at", "type": ["null", {"type": "long", "logicalType": "timestamp-micros"}]},
      {"name": "at_ms", "type": {"type": "long", "logicalType": "timestamp-millis"}},
      {"name": "amount", "type": {"type": "bytes", "logicalType": "decimal",
                                  "precision": 9, "scale": 3}},
      {"name": "colour", "type": {"type": "enum", "name": "Colour",
                                  "symbols": ["RED", "GREEN", "BLUE"]}},
      {"name": "nothing", "type": "null"}
    ]}""",
    "test schema",
)

_ANY = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(), st.text(), st.binary(),
    st.datetimes(), st.decimals(),
)  # fmt: skip
_AWARE = st.datetimes(
    min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30),
    timezones=st.sampled_from([UTC, timezone(timedelta(hours=5, minutes=30))]),
)  # fmt: skip
_TEXT = st.text(st.characters(blacklist_categories=["Cs"]))  # surrogates: _ANY's st.text()


def _fitting(node: Any) -> st.SearchStrategy[Any]:
    """Values of the field's type, edges included, that fastavro encodes."""
    if isinstance(node, list):
        return st.one_of(*(_fitting(b) for b in node))
    kind = node if isinstance(node, str) else node.get("type")
    logical = None if isinstance(node, str) else node.get("logicalType")
    if logical == "uuid":
        return st.one_of(st.uuids(), st.uuids().map(str), _TEXT)
    if logical in ("timestamp-micros", "timestamp-millis"):
        return st.one_of(_AWARE, st.integers(-(2**63), 2**63 - 1))
    if logical == "decimal":
        scale, whole = node.get("scale", 0), node["precision"] - node.get("scale", 0)
        return st.integers(0, scale).flatmap(
            lambda places: st.decimals(-(10**whole) + 1, 10**whole - 1, places=places)
        )
    strategies: dict[str, st.SearchStrategy[Any]] = {
        "null": st.none(), "boolean": st.booleans(), "int": st.integers(-(2**31), 2**31 - 1),
        "long": st.integers(-(2**63), 2**63 - 1), "double": st.floats(), "bytes": st.binary(),
        "string": _TEXT,
    }  # fmt: skip
    if kind == "enum":
        return st.sampled_from(node["symbols"])
    return strategies[kind]


def _fitting_records(schema: AvroSchema) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries({f["name"]: _fitting(f["type"]) for f in schema.parsed["fields"]})


@st.composite
def _broken_records(draw: st.DrawFn, schema: AvroSchema) -> dict[str, Any]:
    """A fitting record with one field of another type, or missing."""
    record = draw(_fitting_records(schema))
    name = draw(st.sampled_from(sorted(record)))
    if draw(st.booleans()):
        del record[name]
    else:
        record[name] = draw(_ANY)
    return record


def _fastavro(schema: AvroSchema, record: dict[str, Any]) -> bytes | None:
    try:
        return fastavro_body(schema, record)
    except Exception:
        return None


def _compiled(schema: AvroSchema) -> Any:
    encoder = flat_encoder(schema)
    assert encoder is not None, schema.full_name
    return encoder


def _schemas(catalogue: Catalogue) -> list[AvroSchema]:
    return [spec.schema for spec in catalogue.events.values()] + [EVERY_KIND]


def test_every_catalogue_schema_is_encoded_compiled(catalogue: Catalogue) -> None:
    for schema in _schemas(catalogue):
        assert encoding_plan(schema) is not None, schema.full_name


def test_schemas_it_does_not_know_are_left_to_fastavro() -> None:
    nested = parse_schema(
        '{"type": "record", "name": "N", "fields": [{"name": "tags", '
        '"type": {"type": "array", "items": "string"}}, {"name": "f", "type": "float"}]}',
        "test schema",
    )
    assert flat_encoder(nested) is None


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_records_that_fit_get_fastavros_bytes(catalogue: Catalogue, data: st.DataObject) -> None:
    schema = data.draw(st.sampled_from(_schemas(catalogue)))
    record = data.draw(_fitting_records(schema))
    compiled = _compiled(schema).encode(record)
    assert compiled is not None, record
    assert compiled == _fastavro(schema, record), record


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_any_other_record_is_left_to_fastavro(catalogue: Catalogue, data: st.DataObject) -> None:
    schema = data.draw(st.sampled_from(_schemas(catalogue)))
    record = data.draw(_broken_records(schema))
    compiled = _compiled(schema).encode(record)
    if compiled is not None:  # e.g. a missing nullable field, or an int where a long is
        assert compiled == _fastavro(schema, record), record


def test_the_publishers_records_take_the_compiled_path(catalogue: Catalogue) -> None:
    spec = catalogue.event("CustomerCreated")
    encoder = _compiled(spec.schema)
    for outgoing in teams.customer_signups(catalogue, seed=3, count=200):
        body = encoder.encode(outgoing.record)
        assert body is not None and body == _fastavro(spec.schema, dict(outgoing.record))


def test_a_record_that_does_not_fit_is_still_refused_by_name(
    catalogue: Catalogue, registry: EmbeddedSchemaRegistry
) -> None:
    spec = catalogue.event("CustomerCreated")
    encoder = AvroEncoder(registry, catalogue.schema_group)
    record = next(teams.customer_signups(catalogue, seed=3, count=1)).record
    for broken in ({**record, "channel": "FAX"}, {**record, "created_at": "yesterday"}):
        with pytest.raises(PayloadError, match=r"does not fit schema eda_lake\.customer"):
            encoder.encode(broken, spec.schema)
    fits = encoder.encode({**record, "customer_id": uuid.UUID(int=7)}, spec.schema)
    assert fits.body == _fastavro(spec.schema, {**record, "customer_id": uuid.UUID(int=7)})
    amount = {"amount": Decimal("12.3456")}  # finer than the schema's scale: fastavro refuses
    assert _compiled(EVERY_KIND).encode(amount) is None
