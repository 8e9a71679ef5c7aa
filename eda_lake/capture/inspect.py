"""A JSON-ready view of capture events, for `eda-lake capture inspect`."""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any

from eda_lake.capture.reader import CaptureEvent
from eda_lake.hub.base import PropertyValue


def _json_value(value: PropertyValue) -> Any:
    if isinstance(value, bytes):
        return {"base64": base64.b64encode(value).decode()}
    return value


def _json_map(values: Mapping[str, PropertyValue]) -> dict[str, Any]:
    return {key: _json_value(value) for key, value in values.items()}


def describe_event(event: CaptureEvent) -> dict[str, Any]:
    return {
        "sequence_number": event.sequence_number,
        "offset": event.offset,
        "enqueued_time": event.enqueued_time.isoformat().replace("+00:00", "Z"),
        "system_properties": _json_map(event.system_properties),
        "properties": _json_map(event.properties),
        "body_size": None if event.body is None else len(event.body),
        "schema_id": event.schema_id(),
    }
