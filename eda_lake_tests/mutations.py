"""Damaging bytes for property tests: bit flips, truncations, insertions and overwrites."""

from __future__ import annotations

from hypothesis import strategies as st


def damaged(
    draw: st.DrawFn, data: bytes, *, edits: tuple[int, int], max_insert: int, max_overwrite: int
) -> bytes:
    """`data` after between `edits[0]` and `edits[1]` random edits."""
    mutated = bytearray(data)
    for _ in range(draw(st.integers(*edits))):
        kind = draw(st.sampled_from(["flip", "truncate", "insert", "overwrite"]))
        at = draw(st.integers(0, max(len(mutated) - 1, 0)))
        if kind == "flip" and mutated:
            mutated[at] ^= 1 << draw(st.integers(0, 7))
        elif kind == "truncate":
            del mutated[at:]
        elif kind == "insert":
            mutated[at:at] = draw(st.binary(min_size=1, max_size=max_insert))
        else:
            chunk = draw(st.binary(min_size=1, max_size=max_overwrite))
            mutated[at : at + len(chunk)] = chunk
    return bytes(mutated)
