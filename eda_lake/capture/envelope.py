"""The Avro record Event Hubs Capture writes, and its text form of the enqueue time."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import fastavro

# As Azure writes it today (the 2022 vintage: the Properties union includes null).
CAPTURE_SCHEMA: dict[str, Any] = {
    "type": "record",
    "name": "EventData",
    "namespace": "Microsoft.ServiceBus.Messaging",
    "fields": [
        {"name": "SequenceNumber", "type": "long"},
        {"name": "Offset", "type": "string"},
        {"name": "EnqueuedTimeUtc", "type": "string"},
        {
            "name": "SystemProperties",
            "type": {"type": "map", "values": ["long", "double", "string", "bytes"]},
        },
        {
            "name": "Properties",
            "type": {"type": "map", "values": ["long", "double", "string", "bytes", "null"]},
        },
        {"name": "Body", "type": ["null", "bytes"]},
    ],
}
PARSED_CAPTURE_SCHEMA = fastavro.parse_schema(CAPTURE_SCHEMA)
FIELD_NAMES = tuple(f["name"] for f in CAPTURE_SCHEMA["fields"])

# .NET's invariant-culture general format, as Capture writes it: `12/9/2022 4:51:25 PM`.
_DOTNET_TIME = re.compile(
    r"^\s*(\d{1,2})/(\d{1,2})/(\d{4}) (\d{1,2}):(\d{2}):(\d{2})(?:\.(\d{1,7}))? ?([AaPp][Mm])?\s*$"
)


class EnqueuedTimeError(ValueError):
    """An EnqueuedTimeUtc text that is neither Capture's form nor ISO 8601."""


def format_enqueued_time(moment: datetime) -> str:
    """`M/d/yyyy h:mm:ss tt` in UTC, as Capture writes EnqueuedTimeUtc."""
    utc = moment.astimezone(UTC)
    hour12 = utc.hour % 12 or 12
    suffix = "AM" if utc.hour < 12 else "PM"
    return f"{utc.month}/{utc.day}/{utc.year} {hour12}:{utc.minute:02d}:{utc.second:02d} {suffix}"


def parse_enqueued_time(text: str) -> datetime:
    """Parse Capture's EnqueuedTimeUtc (US 12-hour or 24-hour) or ISO 8601 text, as UTC."""
    match = _DOTNET_TIME.match(text)
    if match:
        month, day, year, hour, minute, second, fraction, ampm = match.groups()
        h = int(hour)
        if ampm:
            if not 1 <= h <= 12:
                raise EnqueuedTimeError(f"EnqueuedTimeUtc {text!r}: hour {h} with {ampm}")
            h = h % 12 + (12 if ampm.upper() == "PM" else 0)
        micros = int((fraction or "0").ljust(6, "0")[:6])
        try:
            return datetime(
                int(year), int(month), int(day), h, int(minute), int(second), micros, tzinfo=UTC
            )
        except ValueError as exc:
            raise EnqueuedTimeError(f"EnqueuedTimeUtc {text!r}: {exc}") from None
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise EnqueuedTimeError(
            f"EnqueuedTimeUtc {text!r} is neither Capture's 'M/d/yyyy h:mm:ss tt' nor ISO 8601"
        ) from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
