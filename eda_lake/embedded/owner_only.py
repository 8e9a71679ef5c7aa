"""The embedded default's state is owner-only: it holds raw personal bytes.

The local hub's and registry's SQLite files, the lake directory (bronze and quarantine keep
bodies in clear), the teams' dead letters and `EDA_LAKE_HOME` itself are readable by their
owner alone: directories 0700, files 0600, whatever the umask the process started with.
SQLite and the Delta writer create their files themselves, so the process's umask is set to
077 once it touches that state; nothing else is widened by that. Dagster's instance
(DAGSTER_HOME: run and event-log databases, compute logs) holds the runs' logs and metadata
and is kept the same way, wherever it is.
"""

from __future__ import annotations

import contextlib
import os
import stat
from pathlib import Path

from eda_lake.settings import HOME_VAR
from eda_lake.shared.errors import UserError

OWNER_ONLY_UMASK = 0o077
PRIVATE_DIRECTORY = 0o700


class StateDirectoryError(UserError):
    """A directory of the state cannot be made where it is asked for."""


def owner_only_dir(directory: Path, create: bool = True, *, named_by: str = HOME_VAR) -> Path:
    """`directory`, created (with its missing parents, unless `create` is false: a plan
    touches nothing) or tightened to 0700; from now on this process creates files 0600 and
    directories 0700. `named_by`: the variable that places it, which a refusal names."""
    os.umask(OWNER_ONLY_UMASK)
    missing = []
    node = directory
    while not node.exists():
        missing.append(node)
        node = node.parent
    if missing and not create:
        return directory
    for path in reversed(missing):
        try:
            path.mkdir(mode=PRIVATE_DIRECTORY, exist_ok=True)
        except (FileNotFoundError, NotADirectoryError) as exc:
            # Its parent is there yet takes no directory: a virtual file system (/proc, /sys).
            raise StateDirectoryError(
                f"cannot create {path}: {path.parent} takes no directories ({exc.strerror}); "
                f"point {named_by} at a writable directory"
            ) from None
    status = directory.stat()
    if status.st_uid == os.getuid() and status.st_mode & 0o077:
        shared = _shared(directory, status)
        if shared is not None:  # tightening it would lock others out of their own files
            raise StateDirectoryError(
                f"{directory} is {shared}: eda-lake keeps its state owner-only and does not "
                f"tighten it; point {named_by} at a folder of its own, "
                f"such as {directory / 'eda-lake'}"
            )
        directory.chmod(PRIVATE_DIRECTORY)  # also one made earlier, or by `mkdir -p`
    return directory


def _shared(directory: Path, status: os.stat_result) -> str | None:
    """Why a directory open to others is not eda-lake's to make owner-only: a folder every
    user writes in (its sticky bit, as /tmp's), the user's home, or one holding others'
    folders (/home); None when it is. (Another owner's file is no sign: an instance's
    dagster.yaml mounted from a Kubernetes ConfigMap is root's.)"""
    if status.st_mode & stat.S_ISVTX:
        return "a folder shared by every user (its sticky bit is set, as /tmp's is)"
    if directory.resolve() == Path.home().resolve():
        return "your home folder"
    with os.scandir(directory) as entries:
        for entry in entries:
            if (
                entry.is_dir(follow_symlinks=False)
                and entry.stat(follow_symlinks=False).st_uid != status.st_uid
            ):
                return f"a folder that holds others' folders ({entry.name})"
    return None


def owner_only_tree(directory: Path, create: bool = True, *, named_by: str = HOME_VAR) -> Path:
    """`directory` as `owner_only_dir` makes it, and, when it is this user's and was open to
    others until now (made earlier, or by a tool with a wider umask), every folder and file
    of this user's already in it tightened too. A directory already owner-only is not
    walked: what this process and the others started owner-only add to it is owner-only
    from the start."""
    walk = _ours_and_open(directory)
    owner_only_dir(directory, create, named_by=named_by)
    for path in directory.rglob("*") if walk else ():
        if path.is_symlink() or path.lstat().st_uid != os.getuid():
            continue
        # A file on a read-only mount (an instance's dagster.yaml from a Kubernetes
        # ConfigMap) cannot change: it stays as it is, and the rest is still tightened.
        # Only others' bits go: the owner's own (a script's execute bit) stay.
        with contextlib.suppress(OSError):
            path.chmod(stat.S_IMODE(path.lstat().st_mode) & ~0o077)
    return directory


def _ours_and_open(directory: Path) -> bool:
    if not directory.is_dir():
        return False
    status = directory.stat()
    return status.st_uid == os.getuid() and bool(status.st_mode & 0o077)
