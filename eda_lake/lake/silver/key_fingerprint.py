"""The key a lake's personal fields are masked with, kept as its fingerprint.

A hash is only comparable with hashes under the same key: masking new events under another
key would leave one silver column holding two keys' hashes, which no join or count can tell
apart. The lake keeps the fingerprint of the key it first masked with (never the key), each
masking run checks it once it holds the lake's lease, and only a rebuild, which masks
everything again, takes a new key's.

The fingerprint is a one-row Delta table beside the lake's areas (`<lake>/_masking`): every
change of it is one commit that also increments one application transaction, so of two
first runs with different keys, on any storage, Delta's conflict check lets one record its
key and the other then reads that one.
"""

from __future__ import annotations

import pyarrow as pa

from eda_lake.lake.delta import commits, tables
from eda_lake.lake.delta.commits import ConcurrentCommitError, Write
from eda_lake.lake.layout import LakeLayout
from eda_lake.lake.silver.masking import Masker
from eda_lake.settings import PII_KEY_VAR
from eda_lake.shared.errors import LakeWideError

SCHEMA = pa.schema([pa.field("fingerprint", pa.string(), nullable=False)])
KEY_APP = "masking:key"


class PiiKeyChangedError(LakeWideError):
    """The key given is not the one the lake's personal fields are masked with."""


def recorded_fingerprint(layout: LakeLayout) -> str | None:
    """The fingerprint the lake keeps (None: it has masked nothing yet)."""
    table = tables.open_table(layout.masking_key_uri, layout.storage_options)
    if table is None:
        return None
    rows = tables.query("SELECT fingerprint FROM k", k=table).column("fingerprint").to_pylist()
    return rows[0] if rows else None


def require_same_key(layout: LakeLayout, masker: Masker) -> None:
    """Refuses a key other than the lake's; a lake that has masked nothing yet keeps this
    key's fingerprint from now on (or another's, recorded first by a run at the same time)."""
    recorded = recorded_fingerprint(layout)
    if recorded is None:
        recorded = _record_first(layout, masker)
    if recorded != masker.fingerprint:
        raise PiiKeyChangedError(
            f"{PII_KEY_VAR} is not the key this lake's personal fields are masked with: "
            "their hashes and the new ones would not match; set the key it was masked with, "
            "or run `eda-lake rebuild` to mask silver and gold again under this one"
        )


def _record_first(layout: LakeLayout, masker: Masker) -> str | None:
    try:
        table = commits.first_commit_table(
            layout.masking_key_uri, SCHEMA, options=layout.storage_options
        )
        commits.commit(table, _write(masker, sequence=1), {})
    except ConcurrentCommitError:
        pass  # another run recorded its key first: that one is the lake's
    return recorded_fingerprint(layout)


def keep_fingerprint(layout: LakeLayout, masker: Masker) -> None:
    """Record `masker`'s key as the lake's (a rebuild's, replacing the one before)."""

    def attempt() -> None:
        table = commits.ensure_table(layout.masking_key_uri, SCHEMA, options=layout.storage_options)
        commits.commit(table, _write(masker, (table.transaction_version(KEY_APP) or 0) + 1), {})

    commits.with_retries(attempt, "recording the lake's masking key")


def _write(masker: Masker, sequence: int) -> Write:
    rows = pa.table({"fingerprint": [masker.fingerprint]}, SCHEMA)
    return Write(SCHEMA, rows, mode="replace", app_transactions={KEY_APP: sequence})
