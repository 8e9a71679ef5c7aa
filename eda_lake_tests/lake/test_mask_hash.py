"""The compiled keyed BLAKE2b that masks personal text agrees with hashlib's on every length,
key length and character, over whole Arrow columns (sliced, with nulls) and single values."""

from __future__ import annotations

import hashlib
import random

import numpy as np
import pyarrow as pa
import pytest

from eda_lake.lake.silver.masking import PREFIX, Masker, require_key
from eda_lake.native import _mask

# Around BLAKE2b's 128-byte block: a value that fills blocks exactly is the edge case.
LENGTHS = (0, 1, 15, 16, 63, 64, 127, 128, 129, 255, 256, 257, 1000)


def expected(key: bytes, value: bytes) -> str:
    return PREFIX + hashlib.blake2b(value, key=key, digest_size=16).hexdigest()


def random_texts(rng: random.Random) -> list[str | None]:
    alphabet = "abcXYZ019 @.-éß€中文😀"
    texts: list[str | None] = ["".join(rng.choices(alphabet, k=n)) for n in LENGTHS]
    # Byte lengths exactly on the block edges (ASCII), and non-ASCII across them.
    texts += ["x" * n for n in LENGTHS]
    texts += ["é" * n for n in (63, 64, 65, 128)]
    texts += [None, "", None]
    rng.shuffle(texts)
    return texts


@pytest.mark.parametrize("key_length", range(16, 65))
def test_a_column_is_hashed_as_hashlib_hashes_each_value(key_length: int) -> None:
    rng = random.Random(key_length)
    key = "".join(rng.choices("abcdefghijklmnopqrstuvwxyz0123456789", k=key_length))
    texts = random_texts(rng)
    for kind in (pa.string(), pa.large_string()):
        masked = Masker(key).mask_array(pa.array(texts, kind))
        assert masked.type == pa.string()
        assert masked.to_pylist() == [
            None if t is None else expected(key.encode(), t.encode()) for t in texts
        ]


def test_a_long_key_is_folded_and_hashes_as_hashlib() -> None:
    key = "k" * 200
    folded = require_key(key)
    assert len(folded) == 64 and folded != key.encode()[:64]
    texts = ["a", "", "b" * 300, None]
    masked = Masker(key).mask_array(pa.array(texts))
    assert masked.to_pylist() == [
        None if t is None else expected(folded, t.encode()) for t in texts
    ]


def test_a_sliced_column_hashes_its_own_values() -> None:
    texts = [f"person-{i}@example.org" if i % 7 else None for i in range(100)]
    column = pa.array(texts)
    for start, stop in ((0, 100), (1, 100), (13, 14), (50, 50), (9, 91)):
        part = column.slice(start, stop - start)
        masked = Masker("a-test-key-that-is-long-enough").mask_array(part)
        assert masked.to_pylist() == [
            None if t is None else expected(b"a-test-key-that-is-long-enough", t.encode())
            for t in texts[start:stop]
        ]
        assert masked.null_count == part.null_count


def test_one_value_is_hashed_by_the_same_code() -> None:
    key = require_key("a-test-key-that-is-long-enough")
    for n in LENGTHS:
        value = "ü" * n
        assert Masker("a-test-key-that-is-long-enough").mask(value) == expected(key, value.encode())
    assert Masker("a-test-key-that-is-long-enough").mask(12) == expected(key, b"12")


def test_offsets_outside_the_data_are_refused() -> None:
    key, prefix = b"k" * 16, PREFIX.encode()
    with pytest.raises(ValueError, match="outside the 3 bytes"):
        _mask.masked_texts(key, prefix, np.array([0, 4], np.int32), b"abc")
    with pytest.raises(ValueError, match="go back at value 1"):
        _mask.masked_texts(key, prefix, np.array([0, 2, 1, 3], np.int64), b"abc")
    with pytest.raises(ValueError, match="1 to 64 bytes"):
        _mask.masked_texts(b"k" * 65, prefix, np.array([0, 3], np.int32), b"abc")
