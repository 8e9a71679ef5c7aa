"""Closing adapters whose interface does not promise a `close` (the embedded ones hold
SQLite connections; SDK-backed ones may hold nothing to close)."""

from __future__ import annotations


def close_all(*parts: object) -> None:
    for part in parts:
        close = getattr(part, "close", None)
        if callable(close):
            close()
