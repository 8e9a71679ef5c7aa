"""Finding capture files in a container laid out in an archive name format.

`discover_all` lists everything (the safety net, and `eda-lake ingest`). `discover_recent`
walks the layout level by level and skips every directory whose time range ends before
`since`, so its cost grows with the recent files, not with every file ever written.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pyarrow.fs as pafs

from eda_lake.capture.naming import (
    TOKEN_PATTERNS,
    TOKENS,
    ArchiveName,
    ArchiveNameError,
    ArchiveNameFormat,
    capture_path,
)

_TOKEN = re.compile(r"\{(\w+)\}")
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CaptureFile:
    path: str  # relative to the capture root, with '/'
    size: int
    archive: ArchiveName | None  # None: the path does not fit the archive name format
    problem: str | None = None
    modified_at: datetime | None = None


def _modified(info: pafs.FileInfo) -> datetime | None:
    moment: datetime | None = info.mtime
    if moment is None:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def capture_file(
    path: str, size: int, modified_at: datetime | None, names: ArchiveNameFormat
) -> CaptureFile:
    """The one way a path from any source (a listing, a run's file list, a notification)
    becomes a capture file. Only a path inside the capture root gets an archive name, and
    only a file with an archive name is ever read; any other is quarantined by its reason."""
    try:
        path = capture_path(path)
        return CaptureFile(path, size, names.parse(path), modified_at=modified_at)
    except ArchiveNameError as exc:
        return CaptureFile(path, size, None, str(exc), modified_at)


def _visible(path: str) -> bool:
    """Not one of capture's temporary files (`.name`); a `..` folder is for capture_file to
    refuse, not to hide."""
    return not any(part.startswith(".") and part.strip(".") for part in path.split("/"))


def _inside(fs: pafs.FileSystem, root: str, full_path: str) -> bool:
    """Whether a listed file is the capture root's own: on a local folder, a symbolic link
    (of the file or a folder above it) may lead anywhere on the machine, and what it leads to
    outside the root is never read nor copied into quarantine. Blob storage has no links."""
    if not isinstance(fs, pafs.LocalFileSystem):
        return True
    real_root = os.path.realpath(root)
    if os.path.commonpath([real_root, os.path.realpath(full_path)]) == real_root:
        return True
    log.warning("skipped %s: a link out of the capture root %s, never read", full_path, root)
    return False


def discover_all(fs: pafs.FileSystem, root: str, names: ArchiveNameFormat) -> list[CaptureFile]:
    """Every capture file below `root`; files that do not fit the format carry the problem."""
    try:
        infos = fs.get_file_info(pafs.FileSelector(root, recursive=True, allow_not_found=True))
    except FileNotFoundError:
        return []
    files = []
    prefix = root.rstrip("/") + "/"
    for info in infos:
        if info.type != pafs.FileType.File:
            continue
        path = info.path[len(prefix) :] if info.path.startswith(prefix) else info.path
        if not _visible(path) or not _inside(fs, root, info.path):
            continue  # capture's temporary files, or a link out of the root
        files.append(capture_file(path, info.size or 0, _modified(info), names))
    return sorted(files, key=lambda f: f.path)


def files_at(
    fs: pafs.FileSystem, root: str, names: ArchiveNameFormat, paths: list[str]
) -> list[CaptureFile]:
    """The named files that exist (one status call each, no listing). A path that could
    leave the capture root refuses the whole list before any file is looked at."""
    prefix = root.rstrip("/") + "/"
    checked = [capture_path(p) for p in paths]
    files = []
    for path, info in zip(checked, fs.get_file_info([prefix + p for p in checked]), strict=True):
        if info.type == pafs.FileType.File and _inside(fs, root, info.path):
            files.append(capture_file(path, info.size or 0, _modified(info), names))
    return sorted(files, key=lambda f: f.path)


def _latest_possible(values: dict[str, str]) -> datetime | None:
    """The latest moment a directory can hold, given the time tokens its path fixes."""
    if "Year" not in values:
        return None
    year = int(values["Year"])
    month = int(values.get("Month", 12))
    start_of_next = datetime(year + (month == 12), month % 12 + 1, 1, tzinfo=UTC)
    if "Month" not in values or "Day" not in values:
        return start_of_next
    day = datetime(year, month, int(values["Day"]), tzinfo=UTC)
    if "Hour" not in values:
        return day + timedelta(days=1)
    hour = day + timedelta(hours=int(values["Hour"]))
    if "Minute" not in values:
        return hour + timedelta(hours=1)
    return hour + timedelta(minutes=int(values["Minute"]) + 1)


class _Segments:
    """The archive name format split at '/', each segment a pattern over its tokens."""

    def __init__(self, names: ArchiveNameFormat, root: str) -> None:
        self.names = names
        self.root = root
        parts = names.template.split("/")
        parts[-1] += ".avro"
        self.patterns: list[re.Pattern[str]] = []
        for part in parts:
            pattern, seen = "", set()
            for literal, token in re.findall(r"([^{]*)(?:\{(\w+)\})?", part):
                pattern += re.escape(literal)
                if token and token in TOKENS:
                    group = token if token not in seen else f"{token}_again"
                    pattern += f"(?P<{group}>{TOKEN_PATTERNS[token]})"
                    seen.add(token)
            self.patterns.append(re.compile(pattern + "$"))

    def walk(
        self,
        fs: pafs.FileSystem,
        directory: str,
        level: int,
        values: dict[str, str],
        since: datetime,
    ) -> Iterator[tuple[str, int, datetime | None]]:
        try:
            infos = fs.get_file_info(pafs.FileSelector(directory, allow_not_found=True))
        except FileNotFoundError:
            return
        last = level == len(self.patterns) - 1
        for info in infos:
            name = info.base_name
            if name.startswith("."):
                continue
            match = self.patterns[level].match(name)
            if match is None or (info.type == pafs.FileType.File) != last:
                continue
            found = dict(values)
            consistent = True
            for key, value in match.groupdict().items():
                token = key.removesuffix("_again")
                if found.setdefault(token, value) != value:
                    consistent = False
            if not consistent:
                continue
            latest = _latest_possible(found)
            if latest is not None and latest < since:
                continue  # everything below is older than what we look for
            if last:
                if _inside(fs, self.root, info.path):
                    yield info.path, info.size or 0, _modified(info)
            else:
                yield from self.walk(fs, info.path, level + 1, found, since)


def discover_recent(
    fs: pafs.FileSystem, root: str, names: ArchiveNameFormat, since: datetime
) -> list[CaptureFile]:
    """Capture files whose window may be at or after `since`, listing only such prefixes."""
    prefix = root.rstrip("/") + "/"
    files = []
    for path, size, modified in _Segments(names, root).walk(fs, root.rstrip("/"), 0, {}, since):
        file = capture_file(path[len(prefix) :], size, modified, names)
        if file.archive is not None and file.archive.window_time >= since - timedelta(seconds=1):
            files.append(file)
    return sorted(files, key=lambda f: f.path)
