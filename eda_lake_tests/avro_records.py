"""Schemas and bodies for payload tests: a record schema from its fields, fastavro's body."""

from __future__ import annotations

import io
import json
from typing import Any

import fastavro

from eda_lake.registry.schema import AvroSchema, parse_schema


def record_schema(fields: list[dict[str, Any]], name: str = "T") -> AvroSchema:
    return parse_schema(
        json.dumps({"type": "record", "name": name, "namespace": "t", "fields": fields})
    )


def fastavro_body(schema: AvroSchema, record: dict[str, Any]) -> bytes:
    """The record as fastavro's `schemaless_writer` encodes it (its errors raised)."""
    buffer = io.BytesIO()
    fastavro.schemaless_writer(buffer, schema.fastavro, record)
    return buffer.getvalue()
