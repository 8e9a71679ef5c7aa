"""64-bit hashes of text keys (`native/_keys.pyx`), for finding the few keys that repeat.

Rows whose hash no other row shares hold a key no other row holds; only rows sharing a hash
(a repeated key, or a rare collision) need comparing exactly. A million keys cost 8 MB of
hashes, not a hash table of their text.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from eda_lake.lake.arrow.buffers import text_buffers
from eda_lake.native import _keys

Hashes = npt.NDArray[np.uint64]


def pair_hashes(first: pa.Array, second: pa.Array) -> Hashes:
    """The hash of each row's (first, second) text values."""
    return _keys.pair_hashes(*text_buffers(first), *text_buffers(second))


def text_hashes(values: pa.Array) -> Hashes:
    """The hash of each text value (a null hashes as empty text)."""
    return pair_hashes(values, values)


def distinct(hashes: Hashes) -> Hashes:
    """Each hash once, in order. Sorted and compared: NumPy's `unique` hashes 64-bit values
    ~50x slower than it sorts them."""
    ordered = np.sort(hashes)
    first = np.ones(len(ordered), np.bool_)
    first[1:] = ordered[1:] != ordered[:-1]
    return ordered[first]


def repeated(hashes: Hashes) -> Hashes:
    """The hashes that occur more than once."""
    ordered = np.sort(hashes)
    return distinct(ordered[1:][ordered[1:] == ordered[:-1]])
