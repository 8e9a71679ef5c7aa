"""The compiled key hashes silver's exact dedup narrows its comparisons with."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from eda_lake.lake.arrow.buffers import text_buffers
from eda_lake.lake.arrow.key_hashes import distinct, repeated
from eda_lake.native import _keys


def _hashes(first: pa.Array, second: pa.Array) -> list[int]:
    return [int(h) for h in _keys.pair_hashes(*text_buffers(first), *text_buffers(second))]


def test_equal_keys_hash_alike_and_the_boundary_between_the_values_counts() -> None:
    sources = pa.array(["ab", "a", "ab", "", "src"])
    ids = pa.array(["c", "bc", "c", "abc", "é"])
    hashes = _hashes(sources, ids)
    assert hashes[0] == hashes[2]  # the same key
    assert len({hashes[0], hashes[1], hashes[3], hashes[4]}) == 4  # ab|c, a|bc, |abc differ


def test_a_slice_and_a_wide_column_hash_as_the_plain_column() -> None:
    sources = pa.array(["x", "source-a", "source-b", "y"])
    ids = pa.array(["1", "id-1", "id-2", "2"])
    whole = _hashes(sources, ids)
    assert _hashes(sources.slice(1, 2), ids.slice(1, 2)) == whole[1:3]
    wide = _hashes(sources.cast(pa.large_string()), ids.cast(pa.large_string()))
    assert wide == whole


def test_buffers_that_do_not_fit_are_refused() -> None:
    data = np.frombuffer(b"abc", np.uint8)
    fine = np.array([0, 1, 3], np.int32)
    with pytest.raises(ValueError, match="outside the 3 bytes"):
        _keys.pair_hashes(np.array([0, 4], np.int32), data, np.array([0, 1], np.int32), data)
    with pytest.raises(ValueError, match="offsets go back at 2"):
        _keys.pair_hashes(np.array([0, 2, 1], np.int32), data, fine, data)
    with pytest.raises(ValueError, match="same number of rows"):
        _keys.pair_hashes(fine, data, np.array([0, 1], np.int32), data)


def test_distinct_and_repeated_hashes_agree_with_counting_them() -> None:
    hashes = np.random.default_rng(7).integers(0, 50, 2_000).astype(np.uint64)
    counts = {int(h): int((hashes == h).sum()) for h in set(hashes.tolist())}
    assert distinct(hashes).tolist() == sorted(counts)
    assert repeated(hashes).tolist() == sorted(h for h, n in counts.items() if n > 1)
    nothing = np.array([], np.uint64)
    assert len(distinct(nothing)) == 0
    assert len(repeated(nothing)) == len(repeated(np.array([9], np.uint64))) == 0
