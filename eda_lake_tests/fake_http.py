"""What the in-memory Azure services (Resource Manager, Key Vault) share at the SDK's HTTP
transport: a transport with nothing to open or close, and its JSON responses."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any, Self

from azure.core.pipeline.transport import HttpTransport


class InMemoryTransport(HttpTransport):  # type: ignore[type-arg]
    """A transport answering in process: subclasses implement `send`."""

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *args: object) -> None:
        pass

    def open(self) -> None:
        pass

    def close(self) -> None:
        pass


class Response:
    """A JSON answer as the SDK pipeline reads one from a transport."""

    def __init__(self, request: Any, status: int, body: dict[str, Any] | None) -> None:
        self.request = request
        self.status_code = status
        self.reason = {200: "OK", 201: "Created"}.get(status, "Error")
        self.headers = {"content-type": "application/json"}
        self.content_type = "application/json"
        self._body = json.dumps(body or {}).encode()

    def body(self) -> bytes:
        return self._body

    def text(self, encoding: str | None = None) -> str:
        return self._body.decode()

    def read(self) -> bytes:
        return self._body

    def json(self) -> Any:
        return json.loads(self._body)

    def stream_download(self, pipeline: Any, **kwargs: Any) -> Iterator[bytes]:
        yield self._body

    def iter_bytes(self, **kwargs: Any) -> Iterator[bytes]:
        yield self._body

    def close(self) -> None:
        pass

    @property
    def content(self) -> bytes:
        return self._body

    def raise_for_status(self) -> None:
        pass
