"""The Azure Schema Registry Avro encoder's wire format.

Body: schemaless Avro binary. Content type: `avro/binary+<schema-id>`. Decoding needs only
the bytes, the schema id (from the content type, or from a CloudEvents `dataschema` URI that
ends in it) and a registry to look the writer's schema up.
"""

from __future__ import annotations

import io
import re
from collections.abc import Mapping
from typing import Any, NamedTuple

import fastavro

from eda_lake.events.flat_encoding import flat_encoder
from eda_lake.registry.base import SchemaRegistry, validate_schema_id
from eda_lake.registry.schema import AvroSchema

CONTENT_TYPE_PREFIX = "avro/binary+"
_NOT_BUILT = object()
_URI_TAIL = re.compile(r"[^/:]+$")


class PayloadError(ValueError):
    """A payload cannot be encoded or decoded; the message names the input and the fix."""


def content_type(schema_id: str) -> str:
    return CONTENT_TYPE_PREFIX + validate_schema_id(schema_id)


def schema_id_from_content_type(value: str) -> str:
    mime, sep, schema_id = value.strip().partition("+")
    if mime.strip().lower() != "avro/binary" or not sep or not schema_id:
        raise PayloadError(
            f"content type {value!r} is not a schema registry Avro payload; expected "
            f"'{CONTENT_TYPE_PREFIX}<schema-id>'"
        )
    return validate_schema_id(schema_id)


def schema_id_from_uri(uri: str) -> str:
    """The schema id a `dataschema` URI ends in (after its last '/' or ':')."""
    match = _URI_TAIL.search(uri.strip())
    if match is None:
        raise PayloadError(f"dataschema {uri!r} does not end in a schema id")
    return validate_schema_id(match.group(0))


def schema_id_of(content_type: str | None, dataschema: str | None) -> str | None:
    """The schema id an event names, preferring the content type; None if it names none."""
    if content_type and content_type.strip().lower().startswith("avro/binary"):
        return schema_id_from_content_type(content_type)
    if dataschema:
        return schema_id_from_uri(dataschema)
    return None


class EncodedPayload(NamedTuple):  # one per event: a tuple is cheaper to make
    body: bytes
    content_type: str
    schema_id: str


class AvroEncoder:
    """Encodes records with a registered schema; registers it on first use when allowed."""

    def __init__(self, registry: SchemaRegistry, group: str, *, auto_register: bool = True) -> None:
        self.registry = registry
        self.group = group
        self.auto_register = auto_register
        self._ids: dict[str, str] = {}
        self._content_types: dict[str, str] = {}
        self._compiled: dict[str, Any] = {}  # per schema: its compiled encoder, or None
        self._buffer = io.BytesIO()  # reused: one allocation per encoder, not per event

    def schema_id(self, schema: AvroSchema) -> str:
        cached = self._ids.get(schema.canonical)
        if cached is not None:
            return cached
        if self.auto_register:
            props = self.registry.register(self.group, schema)
        else:
            found = self.registry.find(self.group, schema)
            if found is None:
                raise PayloadError(
                    f"schema {schema.full_name} is not registered in group {self.group!r} and "
                    "auto-registration is off; register it (eda-lake provision) first"
                )
            props = found
        self._ids[schema.canonical] = props.id
        return props.id

    def encode(self, record: Mapping[str, Any], schema: AvroSchema) -> EncodedPayload:
        schema_id = self.schema_id(schema)
        type_ = self._content_types.get(schema_id)
        if type_ is None:
            type_ = self._content_types[schema_id] = content_type(schema_id)
        compiled = self._compiled.get(schema.canonical, _NOT_BUILT)
        if compiled is _NOT_BUILT:
            compiled = self._compiled[schema.canonical] = flat_encoder(schema)
        if compiled is not None:
            body = compiled.encode(record)
            if body is not None:
                return EncodedPayload(body, type_, schema_id)
        buffer = self._buffer
        buffer.seek(0)
        buffer.truncate()
        try:
            fastavro.schemaless_writer(buffer, schema.fastavro, record)
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            raise PayloadError(f"record does not fit schema {schema.full_name}: {exc}") from None
        return EncodedPayload(buffer.getvalue(), type_, schema_id)


class AvroDecoder:
    """Decodes registry-encoded payloads, optionally projected onto a reader schema."""

    def __init__(self, registry: SchemaRegistry) -> None:
        self.registry = registry

    def writer_schema(self, schema_id: str) -> AvroSchema:
        return self.registry.get(schema_id).schema

    def decode(
        self,
        body: bytes,
        *,
        content_type: str | None = None,
        dataschema: str | None = None,
        reader: AvroSchema | None = None,
    ) -> dict[str, Any]:
        schema_id = schema_id_of(content_type, dataschema)
        if schema_id is None:
            raise PayloadError(
                f"payload names no schema: content type {content_type!r} is not "
                f"'{CONTENT_TYPE_PREFIX}<id>' and there is no dataschema"
            )
        return self.decode_with_id(body, schema_id, reader=reader)

    def decode_with_id(
        self, body: bytes, schema_id: str, *, reader: AvroSchema | None = None
    ) -> dict[str, Any]:
        writer = self.writer_schema(schema_id)
        stream = io.BytesIO(body)
        try:
            record = fastavro.schemaless_reader(
                stream, writer.fastavro, reader.fastavro if reader is not None else None
            )
        except Exception as exc:  # fastavro raises many types on corrupt bytes
            raise PayloadError(
                f"body of {len(body)} bytes does not decode with schema {schema_id} "
                f"({writer.full_name}): {type(exc).__name__}: {exc}"
            ) from None
        if stream.tell() != len(body):
            raise PayloadError(
                f"body of {len(body)} bytes has {len(body) - stream.tell()} bytes left over "
                f"after decoding with schema {schema_id} ({writer.full_name}); wrong schema id?"
            )
        if not isinstance(record, dict):
            raise PayloadError(f"schema {schema_id} does not describe a record")
        return record
