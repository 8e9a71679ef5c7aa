"""Faults of the environment rather than of the work: how the system and the libraries report
a full disk, a read-only or forbidden path, a refused storage key, an unreachable network.

Read in one place by the command line, which names each in one line (`console.faults`), and
by the lake, where such a fault stops a run instead of failing one table (`lake.commits`).
Only what the system or a library raised is read for a fault's wording: a bug of ours (a
KeyError, a ValueError) with such words in its message is no fault of the environment.
"""

from __future__ import annotations

import errno
import re
import sqlite3

DISK_FULL = ("no space left on device", "database or disk is full", "disk quota exceeded")
READ_ONLY = ("read-only file system", "attempt to write a readonly database")
# EPERM: what an immutable file or folder (`chattr +i`) answers, even to root.
DENIED = ("permission denied", "operation not permitted")
NOT_A_FOLDER = ("not a directory",)
# Azure Storage's codes for a key or identity it refuses (Azurite's included).
STORAGE_REFUSED = re.compile(
    "AuthenticationFailed|AuthorizationFailure|AuthorizationPermissionMismatch", re.IGNORECASE
)
UNREACHABLE = (
    "connection refused",
    "network is unreachable",
    "name or service not known",
    "temporary failure in name resolution",
    "failed to establish a new connection",
    "could not connect to server",  # pyarrow's Azure filesystem
    "timed out",
)
NETWORK_ERRNOS = {errno.ECONNREFUSED, errno.ENETUNREACH, errno.EHOSTUNREACH, errno.ETIMEDOUT}


def causes(exc: BaseException) -> list[BaseException]:
    """`exc` and what caused it, outermost first."""
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in seen:
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen


def from_system_or_library(exc: BaseException) -> bool:
    package = type(exc).__module__.split(".")[0]
    return isinstance(exc, OSError | sqlite3.Error) or package not in ("builtins", "eda_lake")


def said(chain: list[BaseException]) -> str:
    """What the system and the libraries said in `chain`, for their faults' wording."""
    return " | ".join(str(e) for e in chain if from_system_or_library(e))


def errno_in(chain: list[BaseException], *codes: int) -> bool:
    return any(isinstance(e, OSError) and e.errno in codes for e in chain)


def network_oserror(chain: list[BaseException]) -> bool:
    text = " ".join(str(e) for e in chain).lower()
    return errno_in(chain, *NETWORK_ERRNOS) or any(s in text for s in UNREACHABLE)


def environment_fault(exc: BaseException) -> bool:
    """Whether `exc` is the machine, the storage or the network failing: an OSError among
    its causes, or a library's error in a fault's own wording."""
    chain = causes(exc)
    if any(isinstance(e, OSError | MemoryError) for e in chain):
        return True
    text = said(chain)
    wording = (*DISK_FULL, *READ_ONLY, *DENIED, *NOT_A_FOLDER, *UNREACHABLE)
    return STORAGE_REFUSED.search(text) is not None or any(s in text.lower() for s in wording)
