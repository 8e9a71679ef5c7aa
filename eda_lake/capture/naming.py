"""Capture's archive name format: render a blob path, and parse one back.

Azure requires every token; the order and the text between them are free. Azure's default:
`{Namespace}/{EventHub}/{PartitionId}/{Year}/{Month}/{Day}/{Hour}/{Minute}/{Second}`,
with `.avro` appended.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from eda_lake.shared import names
from eda_lake.shared.errors import UserError

DEFAULT_FORMAT = (
    "{Namespace}/{EventHub}/{PartitionId}/{Year}/{Month}/{Day}/{Hour}/{Minute}/{Second}"
)
TOKENS = (
    "Namespace",
    "EventHub",
    "PartitionId",
    "Year",
    "Month",
    "Day",
    "Hour",
    "Minute",
    "Second",
)
TOKEN_PATTERNS = {
    "Namespace": r"[A-Za-z0-9-]+",
    "EventHub": r"[A-Za-z0-9._-]+",
    "PartitionId": r"\d+",
    "Year": r"\d{4}",
    "Month": r"\d{2}",
    "Day": r"\d{2}",
    "Hour": r"\d{2}",
    "Minute": r"\d{2}",
    "Second": r"\d{2}",
}
_TOKEN = re.compile(r"\{(\w+)\}")


def window_start(moment_ms: int, window_ms: int) -> int:
    """The start of the capture window holding `moment_ms`. Windows are aligned on their
    length (from the epoch), as a file's name gives its window's start: every partition's
    windows close together, and a window's file has one name whoever writes it."""
    return moment_ms - moment_ms % window_ms


class ArchiveNameError(UserError, ValueError):
    """A format without all tokens, or a path that does not fit the format."""


class CapturePathError(ArchiveNameError):
    """A capture file's path that could name something outside the capture root."""


def capture_path(path: str) -> str:
    """`path` as a capture file is named: relative to the capture root, '/' between folders,
    no empty or '.' folders. Refused when it could name anything outside the root: a '..'
    folder or an absolute path, and the spellings that a filesystem, a URL decoder or Windows
    may turn into one (a percent-encoded character, a backslash, a control character)."""
    problem = path_problem(path)
    if problem:
        raise CapturePathError(
            f"capture file path {path!r} {problem}: name a file inside the capture root, "
            "relative to it, with '/' between folders"
        )
    return "/".join(part for part in path.split("/") if part not in ("", "."))


def path_problem(path: str) -> str | None:
    """Why `path`, relative to a container or a folder, could name something outside it."""
    if not isinstance(path, str):
        return "is not text"
    if path.startswith("/"):
        return "is absolute"
    if ".." in path.split("/"):
        return "leaves its root ('..')"
    if path.strip("/.") == "":
        return "names no file"
    if "%" in path:
        return "holds a percent-encoded character ('%')"
    if "\\" in path:
        return "holds a backslash"
    if any(ord(c) < 32 or ord(c) == 127 for c in path):
        return "holds a control character"
    return None


@dataclass(frozen=True)
class ArchiveName:
    """What a capture blob's path says: where its events came from and its window time."""

    namespace: str
    hub: str
    partition_id: str
    window_time: datetime


class ArchiveNameFormat:
    def __init__(self, template: str = DEFAULT_FORMAT) -> None:
        found = _TOKEN.findall(template)
        unknown = sorted(set(found) - set(TOKENS))
        missing = [t for t in TOKENS if t not in found]
        if unknown or missing:
            raise ArchiveNameError(
                f"archive name format {template!r}: "
                + (f"unknown token(s) {unknown}; " if unknown else "")
                + (f"missing token(s) {missing}; " if missing else "")
                + f"Azure requires each of {', '.join('{' + t + '}' for t in TOKENS)} once"
            )
        self.template = template
        pattern, seen = "", set()
        for literal, token in re.findall(r"([^{]*)(?:\{(\w+)\})?", template):
            pattern += re.escape(literal)
            if token:
                # A token used twice (the seed's format repeats {EventHub}) must match itself.
                pattern += (
                    f"(?P={token})" if token in seen else f"(?P<{token}>{TOKEN_PATTERNS[token]})"
                )
                seen.add(token)
        self._regex = re.compile(pattern + r"\.avro$")

    def render(self, namespace: str, hub: str, partition_id: str, window: datetime) -> str:
        moment = window.astimezone(UTC)
        values = {
            "Namespace": namespace,
            "EventHub": hub,
            "PartitionId": partition_id,
            "Year": f"{moment.year:04d}",
            "Month": f"{moment.month:02d}",
            "Day": f"{moment.day:02d}",
            "Hour": f"{moment.hour:02d}",
            "Minute": f"{moment.minute:02d}",
            "Second": f"{moment.second:02d}",
        }
        return _TOKEN.sub(lambda m: values[m.group(1)], self.template) + ".avro"

    def parse(self, path: str) -> ArchiveName:
        """Parse a blob path relative to the capture container."""
        match = self._regex.search(path)
        if match is None:
            raise ArchiveNameError(
                f"capture file {path!r} does not fit the archive name format "
                f"{self.template!r}.avro; configure the hub's format or move the file"
            )
        g = match.groupdict()
        try:
            window = datetime(
                int(g["Year"]), int(g["Month"]), int(g["Day"]),
                int(g["Hour"]), int(g["Minute"]), int(g["Second"]), tzinfo=UTC,
            )  # fmt: skip
            hub = g["EventHub"]
            names.hub_name(hub.lower())  # Event Hubs names are case-insensitive
        except ValueError as exc:
            raise ArchiveNameError(f"capture file {path!r}: {exc}") from None
        return ArchiveName(g["Namespace"], hub, str(int(g["PartitionId"])), window)
