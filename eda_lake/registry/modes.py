"""A schema group's compatibility modes, in a module without the schema machinery: the
command line offers them as choices and `eda-lake --help` loads nothing heavy."""

from __future__ import annotations

from enum import StrEnum


class Compatibility(StrEnum):
    """Compatibility mode of a schema group (Azure's names; Full exists only locally)."""

    NONE = "None"
    BACKWARD = "Backward"
    FORWARD = "Forward"
    FULL = "Full"

    @classmethod
    def parse(cls, text: str) -> Compatibility:
        for mode in cls:
            if mode.value.lower() == text.strip().lower():
                return mode
        choices = ", ".join(m.value for m in cls)
        raise ValueError(f"unknown compatibility mode {text!r}; use one of: {choices}")
