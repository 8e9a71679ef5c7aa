from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from eda_lake.catalogue import Catalogue
from eda_lake.events.wire import (
    AvroDecoder,
    AvroEncoder,
    PayloadError,
    schema_id_from_content_type,
    schema_id_of,
)
from eda_lake.registry.base import InvalidSchemaIdError, SchemaNotFoundError
from eda_lake.registry.compatibility import Compatibility
from eda_lake.registry.embedded import EmbeddedSchemaRegistry
from eda_lake.registry.schema import AvroSchema
from eda_lake_tests.registry.evolution import V1, V2


def sample(schema: AvroSchema) -> dict[str, Any]:
    """A valid record for any catalogue schema, built from its field types."""
    values: dict[str, Any] = {}
    for field in schema.parsed["fields"]:
        kind = field["type"]
        if isinstance(kind, dict) and kind.get("logicalType") == "uuid":
            values[field["name"]] = "5f0c8d0e-8a4b-4c57-9d43-0b5c2a0f6b11"
        elif isinstance(kind, dict) and kind.get("logicalType") == "timestamp-micros":
            values[field["name"]] = datetime(2026, 11, 1, 12, 0, 0, 250000, tzinfo=UTC)
        elif isinstance(kind, dict) and kind.get("logicalType") == "decimal":
            values[field["name"]] = Decimal("1299.95")
        elif isinstance(kind, dict) and kind.get("type") == "enum":
            values[field["name"]] = kind["symbols"][-1]
        elif kind == "boolean":
            values[field["name"]] = True
        else:
            values[field["name"]] = f"{field['name']}-value"
    return values


def test_every_catalogue_event_round_trips(
    catalogue: Catalogue, registry: EmbeddedSchemaRegistry
) -> None:
    encoder = AvroEncoder(registry, catalogue.schema_group)
    decoder = AvroDecoder(registry)
    for spec in catalogue.events.values():
        record = sample(spec.schema)
        payload = encoder.encode(record, spec.schema)
        assert payload.content_type == f"avro/binary+{payload.schema_id}"
        decoded = decoder.decode(payload.body, content_type=payload.content_type)
        by_uri = decoder.decode(payload.body, dataschema=registry.schema_uri(payload.schema_id))
        assert decoded == by_uri
        for name, value in record.items():
            assert str(decoded[name]) == str(value), (spec.name, name)


def test_newer_reader_decodes_older_payload(tmp_path: Path) -> None:
    registry = EmbeddedSchemaRegistry(tmp_path / "r.sqlite3")
    registry.ensure_group("g", Compatibility.BACKWARD)
    old = AvroEncoder(registry, "g").encode({"id": "a", "count": 3, "label": "x"}, V1)
    registry.register("g", V2)
    decoded = AvroDecoder(registry).decode(old.body, content_type=old.content_type, reader=V2)
    assert decoded == {"id": "a", "count": 3, "label": "x", "note": ""}


def test_bad_content_types_are_named() -> None:
    for bad in ("application/json", "avro/binary", "avro/binary+", "text/plain+abc"):
        with pytest.raises(PayloadError, match=bad.replace("+", r"\+")):
            schema_id_from_content_type(bad)
    with pytest.raises(InvalidSchemaIdError, match="malformed"):
        schema_id_from_content_type("avro/binary+../../x")
    assert schema_id_of("application/json", None) is None
    assert (
        schema_id_of(None, "https://ns.servicebus.windows.net/$schemagroups/$schemas/abc") == "abc"
    )


def test_unknown_schema_id_and_corrupt_body(
    registry: EmbeddedSchemaRegistry, catalogue: Catalogue
) -> None:
    decoder = AvroDecoder(registry)
    with pytest.raises(SchemaNotFoundError, match="deadbeef"):
        decoder.decode(b"\x00", content_type="avro/binary+deadbeef")
    spec = catalogue.event("CustomerCreated")
    payload = AvroEncoder(registry, catalogue.schema_group).encode(sample(spec.schema), spec.schema)
    with pytest.raises(PayloadError, match="does not decode"):
        decoder.decode(payload.body[:5], content_type=payload.content_type)
    with pytest.raises(PayloadError, match="left over"):
        decoder.decode(payload.body + b"junk", content_type=payload.content_type)
    with pytest.raises(PayloadError, match="names no schema"):
        decoder.decode(payload.body, content_type="application/json")


def test_record_that_does_not_fit_is_refused(
    registry: EmbeddedSchemaRegistry, catalogue: Catalogue
) -> None:
    spec = catalogue.event("CustomerCreated")
    record = sample(spec.schema) | {"channel": "CARRIER_PIGEON"}
    with pytest.raises(PayloadError, match="CustomerCreated"):
        AvroEncoder(registry, catalogue.schema_group).encode(record, spec.schema)


def test_payload_bytes_are_plain_schemaless_avro(registry: EmbeddedSchemaRegistry) -> None:
    registry.ensure_group("g", Compatibility.NONE)
    payload = AvroEncoder(registry, "g").encode({"id": "a", "count": 1, "label": "b"}, V1)
    # zig-zag varint length-prefixed string "a", zig-zag int 1, string "b": no header, no magic
    assert payload.body == b"\x02a\x02\x02b"
    assert json.loads(registry.get(payload.schema_id).schema.definition)["name"] == "Thing"
