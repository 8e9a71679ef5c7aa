"""The discovery queue: receive CaptureFileCreated messages, delete them once committed.

A received message stays invisible for `visibility_timeout` seconds; the run that ingests its
file deletes it after the bronze commit. A run that dies leaves it to reappear, and the
repeat is harmless. Messages that are not notifications go to `<queue>-poison` with the
reason, so nothing is dropped silently.
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from eda_lake.settings import DiscoveryQueue
from eda_lake.shared.names import poison_queue_name

if TYPE_CHECKING:
    from azure.storage.queue import QueueClient


@dataclass(frozen=True)
class QueuedMessage:
    id: str
    pop_receipt: str
    text: str
    dequeue_count: int


class NotificationQueue(Protocol):
    def receive(self, max_messages: int, visibility_timeout: int) -> list[QueuedMessage]: ...

    def delete(self, message_id: str, pop_receipt: str) -> bool:
        """False when the receipt has expired (the message was handed out again)."""

    def poison(self, message: QueuedMessage, reason: str) -> None: ...


class StorageNotificationQueue:
    def __init__(self, queue: QueueClient, poison_queue: QueueClient) -> None:
        self._queue = queue
        self._poison = poison_queue

    @classmethod
    def from_settings(cls, settings: DiscoveryQueue) -> StorageNotificationQueue:
        # The Azure SDK (a third of a second to import) only where a queue is configured:
        # every Dagster run loads this module, few use a queue.
        from azure.storage.queue import QueueClient

        from eda_lake.shared.azure_identity import azure_credential

        names = (settings.name, poison_queue_name(settings.name))
        if settings.connection_string:
            connection = settings.connection_string
            queue, poison = (QueueClient.from_connection_string(connection, n) for n in names)
            return cls(queue, poison)
        assert settings.account_url is not None  # Settings gives one or the other
        credential = azure_credential()
        queue, poison = (QueueClient(settings.account_url, n, credential=credential) for n in names)
        return cls(queue, poison)

    def receive(self, max_messages: int, visibility_timeout: int) -> list[QueuedMessage]:
        pages = self._queue.receive_messages(
            messages_per_page=min(max_messages, 32), visibility_timeout=visibility_timeout
        )
        received = []
        for message in pages:
            received.append(
                QueuedMessage(
                    id=message.id,
                    pop_receipt=message.pop_receipt or "",
                    text=str(message.content),
                    dequeue_count=int(message.dequeue_count or 0),
                )
            )
            if len(received) >= max_messages:
                break
        return received

    def delete(self, message_id: str, pop_receipt: str) -> bool:
        from azure.core.exceptions import HttpResponseError, ResourceNotFoundError

        try:
            self._queue.delete_message(message_id, pop_receipt)
        except (ResourceNotFoundError, HttpResponseError):
            return False
        return True

    def poison(self, message: QueuedMessage, reason: str) -> None:
        from azure.core.exceptions import ResourceExistsError, ResourceNotFoundError

        poisoned = json.dumps({"reason": reason, "message": message.text})
        try:
            self._poison.send_message(poisoned)
        except ResourceNotFoundError:  # no poison queue yet (provisioning makes one on Azure)
            with contextlib.suppress(ResourceExistsError):
                self._poison.create_queue()
            self._poison.send_message(poisoned)
        self.delete(message.id, message.pop_receipt)
