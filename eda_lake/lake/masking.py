"""Personal data in silver and gold: replaced by a keyed hash (keyed BLAKE2b, a MAC).

The same value gives the same hash under one key, so analysts can still count and join on it;
without the key nobody can confirm a guess. Only bronze and quarantine hold raw bytes.
"""

from __future__ import annotations

import hashlib
from hashlib import blake2b

import pyarrow as pa
import pyarrow.compute as pc

from eda_lake.settings import PII_KEY_VAR

PREFIX = "pii:"
MAX_KEY_BYTES = 64  # BLAKE2b's key length


class MissingPiiKeyError(RuntimeError):
    """No key to mask personal data with."""


def require_key(key: str | None) -> bytes:
    if not key:
        raise MissingPiiKeyError(
            f"personal fields cannot be masked: set {PII_KEY_VAR} to a secret of at least 16 "
            "characters (for example from your secret store); `eda-lake demo` derives a demo "
            "key from its seed when none is set"
        )
    if len(key) < 16:
        raise MissingPiiKeyError(f"{PII_KEY_VAR} is too short: use at least 16 characters")
    # Longer secrets are folded to BLAKE2b's 64-byte key size, not refused.
    raw = key.encode()
    return raw if len(raw) <= MAX_KEY_BYTES else hashlib.sha512(raw).digest()


def demo_key(seed: int) -> str:
    """A key for demo data only, derived from the seed so that two demo runs match."""
    return hashlib.sha256(f"eda-lake demo pii key {seed}".encode()).hexdigest()


class Masker:
    def __init__(self, key: str | None) -> None:
        self._key = require_key(key)

    def mask(self, value: object) -> str | None:
        if value is None:
            return None
        return PREFIX + blake2b(str(value).encode(), key=self._key, digest_size=16).hexdigest()

    def mask_array(self, values: pa.Array) -> pa.Array:
        """Mask a column, hashing each distinct value once (names repeat; emails do not)."""
        encoded = pc.dictionary_encode(values)
        key = self._key
        masked = [
            None
            if v is None
            else PREFIX + blake2b(str(v).encode(), key=key, digest_size=16).hexdigest()
            for v in encoded.dictionary.to_pylist()
        ]
        return pc.take(pa.array(masked, pa.string()), encoded.indices)
