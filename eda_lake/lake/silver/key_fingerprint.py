"""The key a lake's personal fields are masked with, kept as its fingerprint.

A hash is only comparable with hashes under the same key: masking new events under another
key would leave one silver column holding two keys' hashes, which no join or count can tell
apart. The lake keeps the fingerprint of the key it first masked with (never the key), each
masking run checks it first, and only a rebuild, which masks everything again, takes a new
key's.
"""

from __future__ import annotations

import json

import pyarrow.fs as pafs

from eda_lake.lake.layout import LakeLayout
from eda_lake.lake.silver.masking import Masker
from eda_lake.settings import PII_KEY_VAR
from eda_lake.shared.errors import LakeWideError


class PiiKeyChangedError(LakeWideError):
    """The key given is not the one the lake's personal fields are masked with."""


def recorded_fingerprint(layout: LakeLayout) -> str | None:
    """The fingerprint the lake keeps (None: it has masked nothing yet)."""
    record = layout.masking_key_record
    if layout.fs.get_file_info(record).type != pafs.FileType.File:
        return None
    with layout.fs.open_input_stream(record) as stream:
        fingerprint: str = json.loads(stream.read())["fingerprint"]
    return fingerprint


def require_same_key(layout: LakeLayout, masker: Masker) -> None:
    """Refuses a key other than the lake's; a lake that has masked nothing yet keeps this
    key's fingerprint from now on."""
    recorded = recorded_fingerprint(layout)
    if recorded is None:
        keep_fingerprint(layout, masker)
    elif recorded != masker.fingerprint:
        raise PiiKeyChangedError(
            f"{PII_KEY_VAR} is not the key this lake's personal fields are masked with: "
            "their hashes and the new ones would not match; set the key it was masked with, "
            "or run `eda-lake rebuild` to mask silver and gold again under this one"
        )


def keep_fingerprint(layout: LakeLayout, masker: Masker) -> None:
    """Record `masker`'s key as the lake's (a rebuild's, replacing the one before)."""
    record = layout.masking_key_record
    layout.fs.create_dir(record.rsplit("/", 1)[0], recursive=True)
    content = json.dumps({"fingerprint": masker.fingerprint}).encode()
    with layout.fs.open_output_stream(record) as stream:
        stream.write(content)
