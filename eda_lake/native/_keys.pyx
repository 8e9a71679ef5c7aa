# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""64-bit hashes of two-column text keys, straight from Arrow string buffers.

Silver deduplicates a run's events exactly on CloudEvents `source` + `id`. Rows whose key
hash no other row shares cannot repeat a key, so only rows sharing a hash (the run's
duplicates, and a rare collision) are compared exactly. The hash is FNV-1a over both
values with a separator byte between them; it never leaves the process.
"""

import numpy as np

from libc.stdint cimport int32_t, int64_t, uint8_t, uint64_t

ctypedef fused offset_t:
    int32_t
    int64_t

cdef uint64_t FNV_OFFSET = 14695981039346656037ULL
cdef uint64_t FNV_PRIME = 1099511628211ULL


cdef inline uint64_t _fnv(uint64_t h, const uint8_t* data, Py_ssize_t start, Py_ssize_t end) noexcept nogil:
    cdef Py_ssize_t i
    for i in range(start, end):
        h = (h ^ data[i]) * FNV_PRIME
    return h


def pair_hashes(
    const offset_t[:] first_offsets, const uint8_t[:] first_data,
    const offset_t[:] second_offsets, const uint8_t[:] second_data,
):
    """The hash of each row's (first, second) value: the arrays' offsets and data buffers,
    sliced to the rows (as `lake.arrow.buffers.text_buffers` gives them); both columns of
    one offset width."""
    cdef Py_ssize_t count = first_offsets.shape[0] - 1
    if count < 0 or second_offsets.shape[0] != count + 1:
        raise ValueError("the two key columns must have the same number of rows")
    _check(first_offsets, first_data.shape[0])
    _check(second_offsets, second_data.shape[0])
    out = np.empty(count, dtype=np.uint64)
    cdef uint64_t[:] hashes = out
    cdef const uint8_t* a = &first_data[0] if first_data.shape[0] else NULL
    cdef const uint8_t* b = &second_data[0] if second_data.shape[0] else NULL
    cdef Py_ssize_t i
    cdef uint64_t h
    with nogil:
        for i in range(count):
            h = FNV_OFFSET
            if a != NULL:
                h = _fnv(h, a, first_offsets[i], first_offsets[i + 1])
            h = (h ^ 0xff) * FNV_PRIME  # no UTF-8 text holds 0xff: ("ab", "c") != ("a", "bc")
            if b != NULL:
                h = _fnv(h, b, second_offsets[i], second_offsets[i + 1])
            hashes[i] = h
    return out


cdef void _check(const offset_t[:] offsets, Py_ssize_t size) except *:
    cdef Py_ssize_t i
    for i in range(offsets.shape[0]):
        if offsets[i] < 0 or offsets[i] > size:
            raise ValueError(f"offset {offsets[i]} at {i} is outside the {size} bytes of data")
        if i and offsets[i] < offsets[i - 1]:
            raise ValueError(f"offsets go back at {i}")
