"""One key masks a lake's personal fields: another is refused until a rebuild masks every
table again under it, and the lake keeps only the key's fingerprint."""

from __future__ import annotations

from pathlib import Path

import pytest

from eda_lake.lake.delta import tables
from eda_lake.lake.runtime import Lake
from eda_lake.lake.silver.key_fingerprint import PiiKeyChangedError, recorded_fingerprint
from eda_lake.lake.silver.masking import Masker
from eda_lake.settings import Settings
from eda_lake_tests.simulation.helpers import captured_chain

KEY = "the-first-key-of-the-lake"
NEW_KEY = "a-rotated-key-of-the-lake"


def _versions(lake: Lake) -> dict[str, int | None]:
    found = lake.layout.existing_tables()
    return {
        name: table.version() if (table := tables.open_table(uri)) is not None else None
        for name, uri in found.items()
        if name.startswith("silver.")
    }


def test_a_changed_key_is_refused_until_a_rebuild_masks_the_lake_under_it(
    settings: Settings,
) -> None:
    captured_chain(settings, seed=3, customers=20)
    lake = Lake(settings, pii_key=KEY)
    lake.ingest()
    lake.silver()
    assert recorded_fingerprint(lake.layout) == Masker(KEY).fingerprint
    assert (
        KEY not in Path(lake.layout.masking_key_record).read_text()
    )  # a fingerprint, never the key
    before = _versions(lake)

    rotated = Lake(settings, pii_key=NEW_KEY)
    for masking in (rotated.silver, rotated.silver_events):
        with pytest.raises(PiiKeyChangedError, match=r"`eda-lake rebuild`") as refused:
            masking()
        assert "\n" not in str(refused.value)
    assert _versions(lake) == before  # nothing was masked under the new key

    silver, _ = rotated.recovery.rebuild()
    assert not [run for run in silver.events.runs.values() if run.failed]
    assert recorded_fingerprint(lake.layout) == Masker(NEW_KEY).fingerprint
    rotated.silver()  # the new key is the lake's now
    with pytest.raises(PiiKeyChangedError):
        Lake(settings, pii_key=KEY).silver()  # and the old one is refused in turn
