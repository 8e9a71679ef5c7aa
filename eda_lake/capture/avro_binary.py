"""Avro's binary encoding of the primitives eda-lake writes by hand (specification 1.11).

Used where a fixed, small schema is written in a hot path (Capture records, property maps)
and building dictionaries for a generic writer would cost more than the encoding itself.
"""

from __future__ import annotations

_SMALL = [bytes([n]) for n in range(0x80)]


def long(value: int) -> bytes:
    """Zig-zag, then base-128 varint."""
    n = (value << 1) ^ (value >> 63)
    if n < 0x80:
        return _SMALL[n]
    out = bytearray()
    while n > 0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def raw(data: bytes) -> bytes:
    """`bytes`: length, then the bytes."""
    return long(len(data)) + data


def string(text: str) -> bytes:
    return raw(text.encode("utf-8"))
