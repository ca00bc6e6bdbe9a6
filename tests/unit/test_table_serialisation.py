"""DynamoDB attribute values: serialise/deserialise, whole items, and SET clauses."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.platform.table import deserialize, from_item, serialize, set_clause, to_item


@pytest.mark.parametrize(
    ("value", "attribute"),
    [
        ("ORDER#1", {"S": "ORDER#1"}),
        (42, {"N": "42"}),
        (Decimal("19.99"), {"N": "19.99"}),
        (True, {"BOOL": True}),  # a bool is not stored as the number 1
        (None, {"NULL": True}),
        (b"\x00\x01", {"B": b"\x00\x01"}),
        (bytearray(b"ab"), {"B": b"ab"}),
        ({"b", "a"}, {"SS": ["a", "b"]}),
        ([1, "x"], {"L": [{"N": "1"}, {"S": "x"}]}),
        (
            {"amount": 100, "tags": ["a"]},
            {"M": {"amount": {"N": "100"}, "tags": {"L": [{"S": "a"}]}}},
        ),
    ],
)
def test_serialize_maps_python_values_to_dynamodb_types(
    value: Any, attribute: dict[str, Any]
) -> None:
    assert serialize(value) == attribute


def test_floats_are_refused() -> None:
    # Given a float (inexact money), When serialised, Then it is an error, not a silent rounding
    with pytest.raises(TypeError, match="float"):
        serialize(19.99)


def test_numbers_come_back_as_int_when_integral_and_decimal_otherwise() -> None:
    assert deserialize({"N": "42"}) == 42
    assert isinstance(deserialize({"N": "42"}), int)
    assert deserialize({"N": "19.99"}) == Decimal("19.99")
    assert isinstance(deserialize({"N": "19.99"}), Decimal)


def test_string_sets_and_binary_from_a_stream_record() -> None:
    assert deserialize({"SS": ["a", "b"]}) == {"a", "b"}
    assert deserialize({"B": "AAE="}) == b"\x00\x01"  # stream JSON carries base64 text


def test_an_unknown_type_is_refused() -> None:
    with pytest.raises(TypeError, match="XX"):
        deserialize({"XX": "1"})


def test_to_item_drops_none_top_level_attributes_but_keeps_nested_nulls() -> None:
    item = to_item({"PK": "ORDER#1", "note": None, "detail": {"reason": None}})
    assert item == {"PK": {"S": "ORDER#1"}, "detail": {"M": {"reason": {"NULL": True}}}}
    assert from_item(item) == {"PK": "ORDER#1", "detail": {"reason": None}}


def test_from_item_reads_a_whole_item() -> None:
    item = {
        "PK": {"S": "STOCK#A"},
        "on_hand": {"N": "7"},
        "flags": {"SS": ["x"]},
        "raw": {"B": b"z"},
    }
    assert from_item(item) == {"PK": "STOCK#A", "on_hand": 7, "flags": {"x"}, "raw": b"z"}


SCALARS = st.one_of(
    st.text(max_size=20),
    st.integers(min_value=-(10**20), max_value=10**20),
    st.booleans(),
    st.binary(max_size=20),
    st.decimals(
        allow_nan=False, allow_infinity=False, places=4, min_value=-(10**9), max_value=10**9
    ),
    st.frozensets(st.text(max_size=5), min_size=1, max_size=4).map(set),
    st.none(),
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=15,
)


@settings(deadline=None, max_examples=150)
@given(st.dictionaries(st.text(min_size=1, max_size=8), VALUES, max_size=6))
def test_items_roundtrip(values: dict[str, Any]) -> None:
    # Given any item of supported values, When stored and read back, Then it is unchanged
    # (except top-level None attributes, which are not stored at all)
    expected = {k: v for k, v in values.items() if v is not None}
    assert from_item(to_item(values)) == expected


def test_a_number_set_roundtrips() -> None:
    assert deserialize(serialize({1, 2})) == {1, 2}


def test_set_clause_aliases_every_name() -> None:
    # Given reserved words (status, name) among the fields
    expression, names, values = set_clause({"status": "paid", "name": "x", "version": 4})
    assert expression == "SET #s0 = :s0, #s1 = :s1, #s2 = :s2"
    assert names == {"#s0": "status", "#s1": "name", "#s2": "version"}
    assert values == {":s0": "paid", ":s1": "x", ":s2": 4}


def test_set_clause_prefix_keeps_two_clauses_apart() -> None:
    expression, names, values = set_clause({"status": "paid"}, prefix="p")
    assert expression == "SET #p0 = :p0"
    assert names == {"#p0": "status"}
    assert values == {":p0": "paid"}
