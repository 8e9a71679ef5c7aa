"""Event Grid's `Microsoft.EventHub.CaptureFileCreated` notifications, as queue messages.

Azure announces each capture file it writes; routed to a Storage Queue, every message names
one file. Messages arrive at least once and in any order: parsing is strict (a malformed
message is an error naming what is wrong), and ingestion's exactly-once makes repeats harmless.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlparse

from eda_lake.capture.naming import CapturePathError, capture_path

EVENT_TYPE = "Microsoft.EventHub.CaptureFileCreated"


class NotificationError(ValueError):
    """A queue message that is not a CaptureFileCreated notification for our container."""


@dataclass(frozen=True)
class CaptureFileCreated:
    path: str  # the blob's path inside the capture container
    partition_id: str
    event_count: int
    first_sequence_number: int
    last_sequence_number: int
    size_bytes: int
    file_url: str


def _decode(text: str) -> Any:
    """Event Grid writes base64-encoded JSON to Storage Queues; accept plain JSON too."""
    stripped = text.strip()
    if not stripped.startswith(("{", "[")):
        try:
            stripped = base64.b64decode(stripped, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            raise NotificationError("message is neither JSON nor base64-encoded JSON") from None
    try:
        return json.loads(stripped)
    except json.JSONDecodeError as exc:
        raise NotificationError(f"message is not valid JSON: {exc}") from None


def blob_path(file_url: str, container: str) -> str:
    """The path after the capture container in a blob URL (account-style or Azurite-style)."""
    parts = [unquote(p) for p in urlparse(file_url).path.split("/") if p]
    if container not in parts:
        raise NotificationError(
            f"fileUrl {file_url!r} is not in the capture container {container!r}; check "
            "EDA_LAKE_CAPTURE_CONTAINER or the Event Grid subscription's filter"
        )
    try:
        path = capture_path("/".join(parts[parts.index(container) + 1 :]))
    except CapturePathError as exc:
        raise NotificationError(f"fileUrl {file_url!r}: {exc}") from None
    if not path.endswith(".avro"):
        raise NotificationError(f"fileUrl {file_url!r} does not name an .avro capture file")
    return path


def parse_notification(text: str, container: str) -> CaptureFileCreated:
    """One queue message as a CaptureFileCreated, in the Event Grid or CloudEvents schema."""
    event = _decode(text)
    if isinstance(event, list) and len(event) == 1:
        event = event[0]
    if not isinstance(event, dict):
        raise NotificationError("message does not hold one Event Grid event")
    kind = event.get("eventType") or event.get("type")
    if kind != EVENT_TYPE:
        raise NotificationError(f"event type {kind!r} is not {EVENT_TYPE}")
    data = event.get("data")
    if not isinstance(data, dict) or not isinstance(data.get("fileUrl"), str):
        raise NotificationError("CaptureFileCreated without data.fileUrl")
    try:
        return CaptureFileCreated(
            path=blob_path(data["fileUrl"], container),
            partition_id=str(data.get("partitionId", "")),
            event_count=int(data.get("eventCount", 0)),
            first_sequence_number=int(data.get("firstSequenceNumber", -1)),
            last_sequence_number=int(data.get("lastSequenceNumber", -1)),
            size_bytes=int(data.get("sizeInBytes", 0)),
            file_url=data["fileUrl"],
        )
    except (TypeError, ValueError) as exc:
        if isinstance(exc, NotificationError):
            raise
        raise NotificationError(f"CaptureFileCreated with a malformed field: {exc}") from None
