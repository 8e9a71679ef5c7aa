"""Capture's property map, compiled and in Python: the same bytes, the same refusals."""

from __future__ import annotations

import io

import fastavro
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from eda_lake.hub import properties
from eda_lake.hub.base import PropertyValue
from eda_lake.native import avro as native

_VALUES = st.one_of(
    st.none(), st.integers(-(2**63), 2**63 - 1), st.floats(), st.binary(max_size=30),
    st.text(st.characters(blacklist_categories=["Cs"]), max_size=30),
)  # fmt: skip
_NAMES = st.one_of(st.sampled_from(["cloudEvents_id", "x"]), st.text(max_size=12))


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(_NAMES, _VALUES, max_size=10))
def test_maps_are_capture_s_bytes_on_both_paths(values: dict[str, PropertyValue]) -> None:
    encoded = properties.encode_properties(values)
    assert encoded == properties._encode_in_python(values)
    decoded = fastavro.schemaless_reader(io.BytesIO(encoded), properties.PROPERTIES_SCHEMA)
    assert decoded == pytest.approx(values, nan_ok=True)


@pytest.mark.skipif(native is None, reason="the compiled module was not built here")
@pytest.mark.parametrize("value", [True, 2**64, [1], 1.5j])
def test_values_capture_cannot_keep_are_left_to_python_which_names_them(value: object) -> None:
    assert native.property_map({"cloudEvents_id": "1", "odd": value}) is None  # type: ignore[union-attr]
    if isinstance(value, bool | list | complex):
        with pytest.raises(TypeError, match="property 'odd' has a"):
            properties.encode_properties({"odd": value})  # type: ignore[dict-item]
