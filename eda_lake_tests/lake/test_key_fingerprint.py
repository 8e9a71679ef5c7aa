"""One key masks a lake's personal fields: another is refused until a rebuild masks every
table again under it, and the lake keeps only the key's fingerprint."""

from __future__ import annotations

from pathlib import Path

import pytest

from eda_lake.lake.delta import commits, tables
from eda_lake.lake.delta.commits import ConcurrentCommitError
from eda_lake.lake.runtime import Lake
from eda_lake.lake.silver import key_fingerprint
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
    kept = [p.read_bytes() for p in Path(lake.layout.masking_key_uri).rglob("*") if p.is_file()]
    assert kept and not any(KEY.encode() in content for content in kept)  # never the key
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


def test_a_run_that_waited_behind_a_rebuild_under_a_new_key_is_refused_once_leased(
    settings: Settings,
) -> None:
    captured_chain(settings, seed=3, customers=5)
    old = Lake(settings, pii_key=KEY)
    old.ingest()
    old.silver()
    with old.silver_builder() as builder:  # the key checked: the lake's, so far
        Lake(settings, pii_key=NEW_KEY).recovery.rebuild()  # meanwhile, the lake rotates
        with pytest.raises(PiiKeyChangedError), old.masking_lease("silver", builder.masker):
            builder.run(["CustomerCreated"])  # never reached: refused once it holds the lease


def test_of_two_first_runs_with_different_keys_one_records_and_the_other_is_refused(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    layout = Lake(settings, pii_key=KEY).layout
    # The second run read "nothing recorded" before the first one recorded its key.
    table = commits.first_commit_table(layout.masking_key_uri, key_fingerprint.SCHEMA)
    key_fingerprint.require_same_key(layout, Masker(KEY))
    with pytest.raises(ConcurrentCommitError):  # Delta refuses the stale first record
        commits.commit(table, key_fingerprint._write(Masker(NEW_KEY), sequence=1), {})
    seen_nothing = iter([None])
    real = key_fingerprint.recorded_fingerprint
    monkeypatch.setattr(
        key_fingerprint, "recorded_fingerprint", lambda lay: next(seen_nothing, real(lay))
    )
    with pytest.raises(PiiKeyChangedError):  # it reads the key recorded first, and refuses
        key_fingerprint.require_same_key(layout, Masker(NEW_KEY))
    assert real(layout) == Masker(KEY).fingerprint
