"""SQLite as the durable store of the embedded default (hub, registry, team state).

SQLite in WAL mode gives what the embedded parts need and nothing more to install: one file,
atomic commits that survive a killed process, and writers in several processes serialised by
its own lock (each Dagster run is a process of its own).
"""

from __future__ import annotations

import errno
import os
import shutil
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from filelock import FileLock

from eda_lake.embedded.owner_only import owner_only_dir

BUSY_TIMEOUT_MS = 60_000
FULL_BELOW_BYTES = 1 << 20  # a file system with less free than this is a full one


def connect(path: Path) -> sqlite3.Connection:
    """Open (creating if needed) a database for use by this process; autocommit mode."""
    owner_only_dir(path.parent)  # the files it creates are then owner-only too
    conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
    try:
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        conn.execute("PRAGMA journal_mode = WAL")
        # NORMAL in WAL mode loses nothing when a process is killed (only on power loss).
        conn.execute("PRAGMA synchronous = NORMAL")
    except sqlite3.OperationalError as exc:
        conn.close()
        # WAL mode makes the -wal and -shm files beside the database: on a full disk
        # SQLite reports only "disk I/O error", which names neither the fault nor the file.
        if shutil.disk_usage(path.parent).free < FULL_BELOW_BYTES:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path)) from exc
        raise
    return conn


@contextmanager
def write_transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """A transaction that takes the write lock at once, so read-then-write is race free."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


@contextmanager
def exclusive_file_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on `path` (created owner-only if needed) across processes; a
    second holder waits for the first. The lock ends with the process, however it ends (an
    OS lock on the open file, not the file's existence)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(path, mode=0o600):
        yield
