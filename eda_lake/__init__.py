"""eda-lake: an event-driven architecture on Azure Event Hubs and the lake behind it."""

from __future__ import annotations


def __getattr__(name: str) -> str:
    # The version is the installed distribution's (pyproject.toml's), read when asked:
    # importlib.metadata costs ~50 ms that `eda-lake --help` does not pay.
    if name == "__version__":
        from importlib.metadata import version

        return version("eda-lake")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
