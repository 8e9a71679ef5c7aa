"""Push discovery: turn queued CaptureFileCreated notifications into files to ingest.

Duplicates collapse to one file; the order of notifications does not matter (each names a
file, and bronze takes each file exactly once). Every message of a batch is acknowledged by
the run after its commit, including repeats of one file.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from eda_lake.lake.discovery.notifications import NotificationError, parse_notification
from eda_lake.lake.discovery.storage_queue import NotificationQueue, QueuedMessage


@dataclass
class NotificationBatch:
    files: list[str] = field(default_factory=list)
    receipts: list[dict[str, str]] = field(default_factory=list)  # id and pop_receipt
    poisoned: list[tuple[QueuedMessage, str]] = field(default_factory=list)


def take_notifications(
    queue: NotificationQueue, container: str, max_messages: int, visibility_timeout: int
) -> NotificationBatch:
    batch = NotificationBatch()
    seen: set[str] = set()
    for message in queue.receive(max_messages, visibility_timeout):
        try:
            notification = parse_notification(message.text, container)
        except NotificationError as exc:
            queue.poison(message, str(exc))
            batch.poisoned.append((message, str(exc)))
            continue
        if notification.path not in seen:
            seen.add(notification.path)
            batch.files.append(notification.path)
        batch.receipts.append({"id": message.id, "pop_receipt": message.pop_receipt})
    return batch


def acknowledge(queue: NotificationQueue, receipts: list[dict[str, str]]) -> int:
    """Delete the messages of committed files; returns how many were still ours to delete."""
    return sum(queue.delete(r["id"], r["pop_receipt"]) for r in receipts)
