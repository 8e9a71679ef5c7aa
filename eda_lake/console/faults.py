"""One line for a user's mistake or a fault of the environment; None for a bug of our own.

A command that fails because of its input or its surroundings (a missing sign-in, a full disk,
a read-only or missing path, an unreachable network) says so in one line that names the thing
and the fix. Anything else is a programming error and keeps its traceback: this module only
recognises our own `errors.UserError` (the base of every error a person can act on) and the
system's and libraries' faults (for those that report a disk or a network fault as a generic
error, by that fault's own wording, listed in `eda_lake.shared.environment`), never a broad
`LookupError` or `ValueError`.

Every lake and capture write is atomic (a Delta commit, a capture file renamed into place
after its ledger row), so a command stopped by any of these faults resumes where it stopped
when run again after the fix.
"""

from __future__ import annotations

import errno
import logging
import re
import shutil
import sqlite3
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from eda_lake.embedded.durable import FULL_BELOW_BYTES
from eda_lake.settings import STORAGE_KEY_VAR
from eda_lake.shared.azure_identity import SIGN_IN
from eda_lake.shared.environment import (
    DENIED,
    DISK_FULL,
    NOT_A_FOLDER,
    READ_ONLY,
    STORAGE_REFUSED,
    causes,
    errno_in,
    network_oserror,
    said,
)
from eda_lake.shared.errors import UserError

if TYPE_CHECKING:
    from eda_lake.lake.delta.commits import TableRun

RERUN = "nothing was lost: run the command again once fixed and it resumes where it stopped"


TABLE_FAILED = 1  # the exit status of a run some of whose tables failed (the others ran)


def failed_tables(runs: Sequence[TableRun], command: str) -> list[str]:
    """One line per table whose run failed, after the run finished every other table: the
    table, why, and that running `command` again lands what waits once the cause is fixed."""
    return [f"{run.failure()}; fix the cause, then run `eda-lake {command}` again" for run in runs]


def quiet_sign_in_warnings() -> None:
    """azure-identity logs a failed sign-in as a 10-line WARNING before raising the same
    text; the one line from `describe` replaces both."""
    logging.getLogger("azure.identity").setLevel(logging.ERROR)


def describe(exc: BaseException, near: Sequence[Path] = ()) -> str | None:
    """The one line to show for `exc`, or None when it is a bug (keep the traceback).

    `near`: the directories the command writes to; a full disk is named by the first of them
    with no space left when the error does not name a file.
    """
    if isinstance(exc, UserError):
        return str(exc)
    chain = causes(exc)
    # Only what the system or a library raised is read for a fault's wording: a bug of ours
    # (a KeyError, a ValueError) with such words in its message still shows its traceback.
    spoken = said(chain)
    text = spoken.lower()
    refused = STORAGE_REFUSED.search(spoken)
    if refused is not None:  # before azure-core's sign-in errors, which a 403 also raises
        return _storage_refused(spoken, refused.group(0))
    azure = _azure(exc)
    if azure is not None:
        return azure
    path = _path_of(chain, spoken)
    where = f" writing {path}" if path else ""
    if errno_in(chain, errno.ENOSPC, errno.EDQUOT) or any(s in text for s in DISK_FULL):
        full = where or _full_directory(near)
        return f"no space left on the disk{full}: free some space; {RERUN}"
    if errno_in(chain, errno.EROFS) or any(s in text for s in READ_ONLY):
        return (
            f"cannot write{where}: the file system is read-only; point EDA_LAKE_HOME at a "
            f"writable directory; {RERUN}"
        )
    if errno_in(chain, errno.EACCES, errno.EPERM) or any(s in text for s in DENIED):
        return f"permission denied{where}: make it writable or point EDA_LAKE_HOME elsewhere"
    if errno_in(chain, errno.ENOTDIR) or any(s in text for s in NOT_A_FOLDER):
        on_the_way = f", on the way to {path}" if path else ""
        return (
            f"a file stands where a folder is expected{on_the_way}: move that file away, or "
            "point EDA_LAKE_HOME elsewhere"
        )
    if isinstance(exc, sqlite3.OperationalError) and "unable to open database file" in text:
        return (
            "cannot open the embedded state's database: EDA_LAKE_HOME must be a writable "
            "directory (a missing one is created)"
        )
    if isinstance(exc, ConnectionError | TimeoutError) or (
        isinstance(exc, OSError) and network_oserror(chain)
    ):
        return f"cannot reach {_endpoint(exc)}: check the endpoint's address and the network"
    return None


def _storage_refused(said: str, code: str) -> str:
    host = _URL.search(said)
    at = f" at {host.group(1)}" if host else ""
    return (
        f"Azure Storage{at} refused the credentials ({code}): check {STORAGE_KEY_VAR} (a wrong "
        "or rotated key) or the connection string's AccountKey; signed in with Entra ID, the "
        "identity needs a Storage Blob Data role on the account"
    )


def _azure(exc: BaseException) -> str | None:
    try:
        from azure.core.exceptions import ClientAuthenticationError, ServiceRequestError
        from azure.identity import CredentialUnavailableError
    except ImportError:  # pragma: no cover - the Azure SDK is a dependency
        return None
    if isinstance(exc, CredentialUnavailableError | ClientAuthenticationError):
        if _raised_in(exc, "azure.schemaregistry"):
            return (
                "the Azure Schema Registry accepts Entra ID only (hub connection strings do "
                f"not reach it): {SIGN_IN}"
            )
        return f"no Azure sign-in: {SIGN_IN}"
    if isinstance(exc, ServiceRequestError):
        return f"cannot reach {_endpoint(exc)}: check the endpoint's address and the network"
    from azure.eventhub.exceptions import AuthenticationError, ConnectError, ConnectionLostError

    if isinstance(exc, AuthenticationError):
        return (
            f"Event Hubs refused the credentials ({_endpoint(exc)}): check the hub's connection "
            "string (EDA_LAKE_EVENTHUB_CONNECTION_STRING__<HUB>) or the identity's roles"
        )
    if isinstance(exc, ConnectError | ConnectionLostError):
        return (
            f"cannot reach Event Hubs ({_endpoint(exc)}): check EDA_LAKE_EVENTHUB_NAMESPACE, "
            "the connection strings' endpoints and the network"
        )
    return None


def _full_directory(near: Sequence[Path]) -> str:
    for path in near:
        try:
            usage = shutil.disk_usage(path)
        except OSError:
            continue  # not created yet
        if usage.free < FULL_BELOW_BYTES:
            return f" holding {path} ({usage.free:,} bytes free)"
    return ""


# An absolute local path in a library's message (delta-rs: "Unable to open file /a/b#1"): not
# the path part of a URL, which follows a host or another slash.
_LOCAL_PATH = re.compile(r"(?<![\w:/.])(/[^\s#'\"|]+)")


def _path_of(chain: list[BaseException], said: str) -> str | None:
    for e in chain:
        if isinstance(e, OSError) and e.filename:
            return str(e.filename)
    found = _LOCAL_PATH.search(_ANSI.sub("", said))
    return found.group(1) if found else None


_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_URL = re.compile(r"\b[a-z][a-z0-9+.-]*://([^/\s]+)")


def _endpoint(exc: BaseException) -> str:
    """`127.0.0.1:9 (Connection refused (os error 111))`: the host a request went to and
    the innermost reason (libraries nest theirs in many lines)."""
    text = _ANSI.sub("", str(exc))
    lines = [line.strip(" \t\u21b3") for line in text.splitlines()]
    reason = next((line for line in reversed(lines) if line), type(exc).__name__)
    host = _URL.search(text)
    return f"{host.group(1)} ({reason})" if host else reason


def _raised_in(exc: BaseException, module_prefix: str) -> bool:
    frames = traceback.extract_tb(exc.__traceback__)
    return any(module_prefix.replace(".", "/") in frame.filename for frame in frames)
