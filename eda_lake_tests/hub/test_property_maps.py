"""Capture's property map: the bytes fastavro reads back, and one clear refusal of a
property Capture cannot keep."""

from __future__ import annotations

import io

import fastavro
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from eda_lake.hub import properties
from eda_lake.hub.base import PropertyValue

_VALUES = st.one_of(
    st.none(), st.integers(-(2**63), 2**63 - 1), st.floats(), st.binary(max_size=30),
    st.text(st.characters(blacklist_categories=["Cs"]), max_size=30),
)  # fmt: skip
_NAMES = st.one_of(st.sampled_from(["cloudEvents_id", "x"]), st.text(max_size=12))


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(_NAMES, _VALUES, max_size=10))
def test_maps_are_capture_s_bytes(values: dict[str, PropertyValue]) -> None:
    encoded = properties.encode_properties(values)
    decoded = fastavro.schemaless_reader(io.BytesIO(encoded), properties.PROPERTIES_SCHEMA)
    assert decoded == pytest.approx(values, nan_ok=True)
    assert properties.encode_properties(properties.EncodedProperties(encoded)) == encoded


@pytest.mark.parametrize(
    ("value", "error", "reason"),
    [
        (True, TypeError, "property 'odd' has a bool; Event Hubs Capture keeps only long"),
        ([1], TypeError, "property 'odd' has a list"),
        (1.5j, TypeError, "property 'odd' has a complex"),
        (2**64, ValueError, "property 'odd' holds 18446744073709551616, past a 64-bit long"),
        (-(2**63) - 1, ValueError, "past a 64-bit long"),
        ("\ud800", ValueError, "property 'odd' has text that is not UTF-8"),
    ],
)
def test_values_capture_cannot_keep_are_named(
    value: object, error: type[Exception], reason: str
) -> None:
    with pytest.raises(error, match=reason.replace("(", r"\(")):
        properties.encode_properties({"cloudEvents_id": "1", "odd": value})  # type: ignore[dict-item]


def test_a_name_that_is_not_text_is_named() -> None:
    with pytest.raises(TypeError, match="property name 7 is not text"):
        properties.encode_properties({7: "x"})  # type: ignore[dict-item]
