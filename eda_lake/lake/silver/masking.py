"""Personal data in silver and gold: replaced by a keyed hash (keyed BLAKE2b, a MAC).

The same value gives the same hash under one key, so analysts can still count and join on it;
without the key nobody can confirm a guess. Only bronze and quarantine hold raw bytes.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from eda_lake.lake.arrow.avro import collect_named
from eda_lake.lake.arrow.buffers import text_buffers
from eda_lake.native import _mask
from eda_lake.registry.schema import AvroSchema
from eda_lake.settings import PII_KEY_VAR
from eda_lake.shared.errors import LakeWideError

PREFIX = "pii:"
MAX_KEY_BYTES = 64  # BLAKE2b's key length


class MissingPiiKeyError(LakeWideError, RuntimeError):
    """No key to mask personal data with."""


def require_key(key: str | None) -> bytes:
    if not key:
        raise MissingPiiKeyError(
            f"personal fields cannot be masked: set {PII_KEY_VAR} to a secret of at least 16 "
            "characters (for example from your secret store); `eda-lake demo` uses a demo key "
            "when none is set"
        )
    if len(key) < 16:
        raise MissingPiiKeyError(f"{PII_KEY_VAR} is too short: use at least 16 characters")
    # Longer secrets are folded to BLAKE2b's 64-byte key size, not refused.
    raw = key.encode()
    return raw if len(raw) <= MAX_KEY_BYTES else hashlib.sha512(raw).digest()


# The key of demo data only: one for every seed, so that demos of other seeds in one home
# mask under the lake's one key, and two demo runs match.
DEMO_PII_KEY = hashlib.sha256(b"eda-lake demo pii key").hexdigest()


# BLAKE2b's personalization of the key's fingerprint: no masked value is hashed with it, so
# the fingerprint is never one of the lake's hashes.
FINGERPRINT_PERSON = b"eda-lake-key-fp"


class Masker:
    def __init__(self, key: str | None) -> None:
        self._key = require_key(key)

    @property
    def fingerprint(self) -> str:
        """Names the key without giving it away: a keyed hash of nothing under it, the same
        for one key on every machine; the key cannot be recovered from it."""
        return hashlib.blake2b(key=self._key, digest_size=16, person=FINGERPRINT_PERSON).hexdigest()

    def mask(self, value: object) -> str | None:
        if value is None:
            return None
        return _mask.masked_text(self._key, _PREFIX_BYTES, str(value).encode()).decode()

    def mask_array(self, values: pa.Array) -> pa.Array:
        """Mask a column. Text is hashed straight from the array's buffers in compiled code
        (its UTF-8 bytes are what `mask` hashes); other types go through `mask`, once per
        distinct value."""
        kind = values.type
        if pa.types.is_string(kind) or pa.types.is_large_string(kind):
            return self._mask_text(values)
        encoded = pc.dictionary_encode(values)  # nulls stay null indices
        masked = [self.mask(v) for v in encoded.dictionary.to_pylist()]
        return pc.take(pa.array(masked, pa.string()), encoded.indices)

    def _mask_text(self, values: pa.Array) -> pa.Array:
        count = len(values)
        offsets, data = text_buffers(values)
        if count < HALVED_FROM or (os.cpu_count() or 1) < 2:
            texts = _mask.masked_texts(self._key, _PREFIX_BYTES, offsets, data)
        else:  # the compiled loop runs without the GIL: each half on a core of its own
            half = count // 2
            first = _second_core().submit(
                _mask.masked_texts, self._key, _PREFIX_BYTES, offsets[: half + 1], data
            )
            second = _mask.masked_texts(self._key, _PREFIX_BYTES, offsets[half:], data)
            texts = first.result() + second
        width = _mask.masked_width(_PREFIX_BYTES)
        valid = None if values.null_count == 0 else pc.is_valid(values).buffers()[1]
        new_offsets = np.arange(0, (count + 1) * width, width, dtype=np.int32)
        buffers = [valid, pa.py_buffer(new_offsets), pa.py_buffer(texts)]
        return pa.Array.from_buffers(pa.string(), count, buffers, values.null_count)


_PREFIX_BYTES = PREFIX.encode()
HALVED_FROM = 4096  # values: a column this long is masked on two threads


@functools.cache
def _second_core() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=1, thread_name_prefix="eda-lake-masking")


def mask_personal_columns(
    schema: AvroSchema, columns: dict[str, pa.Array], masker: Masker
) -> dict[str, pa.Array]:
    """The decoded columns of `schema` (as `lake.arrow.avro` builds them) with every value marked
    `"personal": true` replaced by its keyed hash, at any depth: in records, arrays, maps and
    unions (a multi-type union's JSON text included). Types are kept: a string stays a
    string, bytes become the hash's bytes; other columns are returned as they are."""
    walker = _PersonalWalker(schema.parsed, masker)
    fields = {f["name"]: f for f in schema.parsed["fields"]}
    return {
        name: walker.field(fields[name], values) if name in fields else values
        for name, values in columns.items()
    }


class _PersonalWalker:
    def __init__(self, root: dict[str, Any], masker: Masker) -> None:
        self.masker = masker
        self.named: dict[str, Any] = {}
        collect_named(root, self.named)
        self._has_personal: dict[int, bool] = {}

    def resolve(self, node: Any) -> Any:
        """Through named references and `{"type": <a type>}` wrappers."""
        while True:
            if isinstance(node, str) and node in self.named:
                node = self.named[node]
            elif isinstance(node, dict) and isinstance(node.get("type"), dict | list):
                node = node["type"]
            elif isinstance(node, dict) and node.get("type") in self.named:
                node = self.named[node["type"]]
            else:
                return node

    def branches(self, node: Any) -> list[Any]:
        return [self.resolve(b) for b in node if b != "null"]

    def has_personal(self, node: Any, seen: frozenset[int] = frozenset()) -> bool:
        """Whether any value under `node` is marked personal (so the walk may skip it)."""
        node = self.resolve(node)
        if isinstance(node, list):
            return any(self.has_personal(b, seen) for b in node)
        if not isinstance(node, dict) or id(node) in seen:
            return False
        key = id(node)
        if key not in self._has_personal:
            inner = seen | {key}
            kind = node.get("type")
            if kind in ("record", "error"):
                found = any(
                    f.get("personal") is True or self.has_personal(f["type"], inner)
                    for f in node["fields"]
                )
            elif kind == "array":
                found = self.has_personal(node["items"], inner)
            elif kind == "map":
                found = self.has_personal(node["values"], inner)
            else:
                found = False
            self._has_personal[key] = found
        return self._has_personal[key]

    def field(self, avro_field: dict[str, Any], values: pa.Array) -> pa.Array:
        if avro_field.get("personal") is True:
            return self.mask_all(values)
        if not self.has_personal(avro_field["type"]):
            return values
        return self.within(avro_field["type"], values)

    def mask_all(self, values: pa.Array) -> pa.Array:
        """Every text leaf of a personal value (map keys are not the person's data)."""
        kind = values.type
        if pa.types.is_string(kind) or pa.types.is_large_string(kind):
            return self.masker.mask_array(values)
        if pa.types.is_binary(kind) or pa.types.is_large_binary(kind):
            return pc.cast(self.masker.mask_array(values), kind)
        if pa.types.is_map(kind):
            items = self.mask_all(values.items)
            return pa.MapArray.from_arrays(
                values.offsets, values.keys, items, type=pa.map_(kind.key_type, items.type),
                mask=values.is_null(),
            )  # fmt: skip
        if pa.types.is_list(kind):
            inner = self.mask_all(values.values)
            return pa.ListArray.from_arrays(values.offsets, inner, mask=values.is_null())
        raise TypeError(f"a personal value of Arrow type {kind} cannot be masked")

    def within(self, node: Any, values: pa.Array) -> pa.Array:
        """Mask the personal fields nested in `node`'s values."""
        node = self.resolve(node)
        if isinstance(node, list):
            branches = self.branches(node)
            if len(branches) == 1:
                return self.within(branches[0], values)
            return self._json(node, values)  # a multi-type union is JSON text
        kind = node.get("type") if isinstance(node, dict) else None
        if kind in ("record", "error"):
            children = [self.field(f, values.field(i)) for i, f in enumerate(node["fields"])]
            return pa.StructArray.from_arrays(
                children, names=[f["name"] for f in node["fields"]], mask=values.is_null()
            )
        if kind == "array":
            inner = self.within(node["items"], values.values)
            return pa.ListArray.from_arrays(values.offsets, inner, mask=values.is_null())
        if kind == "map":
            items = self.within(node["values"], values.items)
            return pa.MapArray.from_arrays(
                values.offsets, values.keys, items,
                type=pa.map_(values.type.key_type, items.type), mask=values.is_null(),
            )  # fmt: skip
        return values

    def _json(self, node: Any, values: pa.Array) -> pa.Array:
        texts = values.to_pylist()
        masked = [None if t is None else json.dumps(self.value(node, json.loads(t))) for t in texts]
        return pa.array(masked, values.type)

    def value(self, node: Any, value: Any) -> Any:
        """The same masking on a decoded Python value (a multi-type union's JSON)."""
        node = self.resolve(node)
        if value is None:
            return None
        if isinstance(node, list):
            for branch in self.branches(node):
                if self._fits(branch, value):
                    return self.value(branch, value)
            return value
        kind = node.get("type") if isinstance(node, dict) else None
        if kind in ("record", "error") and isinstance(value, dict):
            return {
                f["name"]: (
                    self._mask_value(value.get(f["name"]))
                    if f.get("personal") is True
                    else self.value(f["type"], value.get(f["name"]))
                )
                for f in node["fields"]
                if f["name"] in value
            }
        if kind == "array" and isinstance(value, list):
            return [self.value(node["items"], v) for v in value]
        if kind == "map" and isinstance(value, dict):
            return {k: self.value(node["values"], v) for k, v in value.items()}
        return value

    def _mask_value(self, value: Any) -> Any:
        if isinstance(value, list):
            return [self._mask_value(v) for v in value]
        if isinstance(value, dict):  # a personal map: its values
            return {k: self._mask_value(v) for k, v in value.items()}
        return self.masker.mask(value)

    def _fits(self, node: Any, value: Any) -> bool:
        kind = node.get("type") if isinstance(node, dict) else node
        if kind in ("record", "error"):
            return isinstance(value, dict) and set(value) == {f["name"] for f in node["fields"]}
        if kind == "map":
            return isinstance(value, dict)
        if kind == "array":
            return isinstance(value, list)
        return not isinstance(value, dict | list)
