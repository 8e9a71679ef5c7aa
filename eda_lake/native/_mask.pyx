# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""Keyed BLAKE2b (RFC 7693, 16-byte digest) over a whole Arrow string column's buffers.

`lake.masking` replaces each personal value by `pii:` + the hex of its keyed hash. Python's
hashlib has no C API, so hashing a column through it costs a Python call per value; here one
loop reads the column's offsets and data and writes every masked text, without the GIL. A
single value goes through the same loop (`masked_text`), so there is one implementation.
"""

from array import array

from libc.stdint cimport int32_t, int64_t, uint8_t
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize

cdef extern from *:
    """
    #include <stdint.h>
    #include <string.h>

    static const uint64_t eda_b2b_iv[8] = {
        0x6a09e667f3bcc908ULL, 0xbb67ae8584caa73bULL, 0x3c6ef372fe94f82bULL,
        0xa54ff53a5f1d36f1ULL, 0x510e527fade682d1ULL, 0x9b05688c2b3e6c1fULL,
        0x1f83d9abfb41bd6bULL, 0x5be0cd19137e2179ULL,
    };
    static const uint8_t eda_b2b_sigma[12][16] = {
        {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15},
        {14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3},
        {11, 8, 12, 0, 5, 2, 15, 13, 10, 14, 3, 6, 7, 1, 9, 4},
        {7, 9, 3, 1, 13, 12, 11, 14, 2, 6, 5, 10, 4, 0, 15, 8},
        {9, 0, 5, 7, 2, 4, 10, 15, 14, 1, 11, 12, 6, 8, 3, 13},
        {2, 12, 6, 10, 0, 11, 8, 3, 4, 13, 7, 5, 15, 14, 1, 9},
        {12, 5, 1, 15, 14, 13, 4, 10, 0, 7, 6, 3, 9, 2, 8, 11},
        {13, 11, 7, 14, 12, 1, 3, 9, 5, 0, 15, 4, 8, 6, 2, 10},
        {6, 15, 14, 9, 11, 3, 0, 8, 12, 2, 13, 7, 1, 4, 10, 5},
        {10, 2, 8, 4, 7, 6, 1, 5, 15, 11, 9, 14, 3, 12, 13, 0},
        {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15},
        {14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3},
    };

    static inline uint64_t eda_b2b_load64(const uint8_t *p) {
        return (uint64_t)p[0] | ((uint64_t)p[1] << 8) | ((uint64_t)p[2] << 16)
            | ((uint64_t)p[3] << 24) | ((uint64_t)p[4] << 32) | ((uint64_t)p[5] << 40)
            | ((uint64_t)p[6] << 48) | ((uint64_t)p[7] << 56);
    }

    static inline uint64_t eda_b2b_rotr(uint64_t x, int n) {
        return (x >> n) | (x << (64 - n));
    }

    #define EDA_B2B_G(a, b, c, d, x, y) do { \\
        v[a] = v[a] + v[b] + (x); v[d] = eda_b2b_rotr(v[d] ^ v[a], 32); \\
        v[c] = v[c] + v[d];       v[b] = eda_b2b_rotr(v[b] ^ v[c], 24); \\
        v[a] = v[a] + v[b] + (y); v[d] = eda_b2b_rotr(v[d] ^ v[a], 16); \\
        v[c] = v[c] + v[d];       v[b] = eda_b2b_rotr(v[b] ^ v[c], 63); \\
    } while (0)

    /* One 128-byte block into h; t is the byte count so far (values stay far below 2**64). */
    static void eda_b2b_compress(uint64_t h[8], const uint8_t block[128], uint64_t t, int last) {
        uint64_t v[16], m[16];
        int i;
        for (i = 0; i < 16; i++) m[i] = eda_b2b_load64(block + 8 * i);
        for (i = 0; i < 8; i++) { v[i] = h[i]; v[i + 8] = eda_b2b_iv[i]; }
        v[12] ^= t;
        if (last) v[14] = ~v[14];
        for (i = 0; i < 12; i++) {
            const uint8_t *s = eda_b2b_sigma[i];
            EDA_B2B_G(0, 4, 8, 12, m[s[0]], m[s[1]]);
            EDA_B2B_G(1, 5, 9, 13, m[s[2]], m[s[3]]);
            EDA_B2B_G(2, 6, 10, 14, m[s[4]], m[s[5]]);
            EDA_B2B_G(3, 7, 11, 15, m[s[6]], m[s[7]]);
            EDA_B2B_G(0, 5, 10, 15, m[s[8]], m[s[9]]);
            EDA_B2B_G(1, 6, 11, 12, m[s[10]], m[s[11]]);
            EDA_B2B_G(2, 7, 8, 13, m[s[12]], m[s[13]]);
            EDA_B2B_G(3, 4, 9, 14, m[s[14]], m[s[15]]);
        }
        for (i = 0; i < 8; i++) h[i] ^= v[i] ^ v[i + 8];
    }

    /* A key's states: `open` after the parameter block, `keyed` after the key block (for a
       value that follows it; an empty value makes the key block the last one). */
    typedef struct {
        uint64_t open[8];
        uint64_t keyed[8];
        uint8_t key_block[128];
    } eda_b2b_key;

    static void eda_b2b_key_init(eda_b2b_key *k, const uint8_t *key, size_t key_len,
                                 size_t digest_len) {
        int i;
        for (i = 0; i < 8; i++) k->open[i] = eda_b2b_iv[i];
        k->open[0] ^= 0x01010000ULL ^ ((uint64_t)key_len << 8) ^ (uint64_t)digest_len;
        memset(k->key_block, 0, 128);
        memcpy(k->key_block, key, key_len);
        memcpy(k->keyed, k->open, sizeof k->keyed);
        eda_b2b_compress(k->keyed, k->key_block, 128, 0);
    }

    static const char eda_b2b_hex[] = "0123456789abcdef";

    /* `prefix` + the hex of the 16-byte keyed hash of value, written at out. */
    static void eda_b2b_mask(const eda_b2b_key *k, const uint8_t *value, size_t len,
                             const char *prefix, size_t prefix_len, char *out) {
        uint64_t h[8];
        uint8_t block[128];
        uint64_t t = 128;
        int i;
        if (len == 0) {
            memcpy(h, k->open, sizeof h);
            eda_b2b_compress(h, k->key_block, 128, 1);
        } else {
            memcpy(h, k->keyed, sizeof h);
            while (len > 128) {
                t += 128;
                eda_b2b_compress(h, value, t, 0);
                value += 128;
                len -= 128;
            }
            memset(block, 0, 128);
            memcpy(block, value, len);
            t += len;
            eda_b2b_compress(h, block, t, 1);
        }
        memcpy(out, prefix, prefix_len);
        out += prefix_len;
        for (i = 0; i < 16; i++) {
            uint8_t byte = (uint8_t)(h[i / 8] >> (8 * (i % 8)));
            out[2 * i] = eda_b2b_hex[byte >> 4];
            out[2 * i + 1] = eda_b2b_hex[byte & 15];
        }
    }
    """
    ctypedef struct eda_b2b_key:
        pass
    void eda_b2b_key_init(eda_b2b_key *k, const uint8_t *key, size_t key_len,
                          size_t digest_len) nogil
    void eda_b2b_mask(const eda_b2b_key *k, const uint8_t *value, size_t len,
                      const char *prefix, size_t prefix_len, char *out) nogil

DIGEST_BYTES = 16
MAX_KEY_BYTES = 64

ctypedef fused offset_t:
    int32_t
    int64_t


cdef int _key_state(bytes key, eda_b2b_key *state) except -1:
    if not 1 <= len(key) <= MAX_KEY_BYTES:
        raise ValueError(f"a BLAKE2b key is 1 to {MAX_KEY_BYTES} bytes, not {len(key)}")
    eda_b2b_key_init(state, <const uint8_t *>PyBytes_AS_STRING(key), len(key), DIGEST_BYTES)
    return 0


def masked_width(bytes prefix) -> int:
    """The length of every masked text: the prefix and the digest's hex."""
    return len(prefix) + 2 * DIGEST_BYTES


def masked_texts(
    bytes key, bytes prefix, const offset_t[:] offsets, const uint8_t[:] data
) -> bytes:
    """The masked text of each of the `len(offsets) - 1` values, `masked_width` bytes each,
    back to back. Value i is `data[offsets[i]:offsets[i + 1]]` (an Arrow string or binary
    array's buffers, sliced to the array)."""
    cdef eda_b2b_key state
    _key_state(key, &state)
    cdef Py_ssize_t count = offsets.shape[0] - 1 if offsets.shape[0] else 0
    cdef Py_ssize_t width = masked_width(prefix)
    cdef Py_ssize_t size = data.shape[0]
    cdef Py_ssize_t i, start, end, backwards = -1
    if count and not (0 <= offsets[0] <= size and 0 <= offsets[count] <= size):
        raise ValueError(
            f"offsets {offsets[0]}..{offsets[count]} are outside the {size} bytes of data"
        )
    out = PyBytes_FromStringAndSize(NULL, count * width)
    cdef char *dest = PyBytes_AS_STRING(out)
    cdef const char *pre = PyBytes_AS_STRING(prefix)
    cdef Py_ssize_t pre_len = len(prefix)
    cdef const uint8_t *base = &data[0] if size else <const uint8_t *>pre
    with nogil:
        for i in range(count):
            start = offsets[i]
            end = offsets[i + 1]
            if end < start:  # with the ends in range, rising offsets keep every value in it
                backwards = i
                break
            eda_b2b_mask(&state, base + start, end - start, pre, pre_len, dest + i * width)
    if backwards >= 0:
        raise ValueError(f"offsets go back at value {backwards}")
    return out


def masked_text(bytes key, bytes prefix, bytes value) -> bytes:
    """The masked text of one value."""
    return masked_texts(key, prefix, array("q", [0, len(value)]), value)
