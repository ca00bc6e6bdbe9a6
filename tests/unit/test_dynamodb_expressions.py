"""Condition and filter expressions parsed once (infra/local/dynamodb_expressions.py) decide
every item as moto's fresh parse decides it, and an expression moto refuses is refused on every
request."""

from __future__ import annotations

from typing import Any

import pytest
from moto.dynamodb import comparisons
from moto.dynamodb.models.dynamo_type import DynamoType, Item

from infra.local import dynamodb_expressions, patching

FRESH = comparisons.get_filter_expression
EXPRESSIONS: list[tuple[str, dict[str, str] | None, dict[str, Any] | None]] = [
    ("attribute_not_exists(PK)", None, None),
    ("#v = :v", {"#v": "version"}, {":v": {"N": "3"}}),
    (
        "#s IN (:a, :b) AND begins_with(SK, :p)",
        {"#s": "status"},
        {":a": {"S": "received"}, ":b": {"S": "backordered"}, ":p": {"S": "ORDER"}},
    ),
    (
        "size(#l) > :n OR attribute_exists(#m.#k)",
        {"#l": "lines", "#m": "meta", "#k": "note"},
        {":n": {"N": "1"}},
    ),
    ("#q BETWEEN :lo AND :hi", {"#q": "quantity"}, {":lo": {"N": "1"}, ":hi": {"N": "5"}}),
    ("contains(#t, :x)", {"#t": "tags"}, {":x": {"S": "gift"}}),
]
ITEMS: list[dict[str, Any]] = [
    {},
    {"PK": {"S": "ORDER#1"}, "SK": {"S": "ORDER"}, "version": {"N": "3"}},
    {
        "PK": {"S": "ORDER#2"},
        "SK": {"S": "ORDERX"},
        "status": {"S": "backordered"},
        "version": {"N": "4"},
        "quantity": {"N": "5"},
        "tags": {"SS": ["gift", "mug"]},
    },
    {
        "PK": {"S": "ORDER#3"},
        "SK": {"S": "LINE#1"},
        "lines": {"L": [{"S": "a"}, {"S": "b"}]},
        "meta": {"M": {"note": {"S": "x"}}},
        "quantity": {"N": "0"},
    },
]


@pytest.fixture
def cached() -> Any:
    with patching.installed(dynamodb_expressions.install):
        yield comparisons.get_filter_expression


def _item(attrs: dict[str, Any]) -> Item:
    return Item(DynamoType({"S": "k"}), None, attrs)


def _decision(tree: Any, item: Item) -> Any:
    """True or False, or how moto fails on the item (size() of a missing attribute raises)."""
    try:
        return bool(tree.expr(item))
    except Exception as error:
        return type(error).__name__


@pytest.mark.parametrize(("expression", "names", "values"), EXPRESSIONS)
def test_a_kept_parse_decides_every_item_as_a_fresh_one(
    cached: Any, expression: str, names: Any, values: Any
) -> None:
    first = cached(expression, names, values)
    assert cached(expression, names, values) is first  # parsed once
    for attrs in ITEMS:
        item = _item(attrs)
        assert _decision(first, item) == _decision(FRESH(expression, names, values), item), attrs


def test_different_values_are_different_expressions(cached: Any) -> None:
    three = cached("#v = :v", {"#v": "version"}, {":v": {"N": "3"}})
    four = cached("#v = :v", {"#v": "version"}, {":v": {"N": "4"}})
    item = _item({"version": {"N": "4"}})
    assert (three.expr(item), four.expr(item)) == (False, True)


def test_values_the_expression_never_names_do_not_make_it_another(cached: Any) -> None:
    """An order's write: its condition reads :expected; :next and :at are the update's."""
    expression, names = "#v = :expected", {"#v": "version"}
    first = cached(expression, names, {":expected": {"N": "3"}, ":next": {"N": "4"}})
    again = cached(expression, names, {":expected": {"N": "3"}, ":next": {"N": "9"}, ":at": {}})
    assert again is first
    other = cached(expression, names, {":expected": {"N": "4"}, ":next": {"N": "5"}})
    assert other is not first
    item = _item({"version": {"N": "4"}})
    assert (first.expr(item), other.expr(item)) == (False, True)


def test_a_placeholder_inside_a_longer_one_is_kept(cached: Any) -> None:
    values = {":v": {"N": "1"}, ":v1": {"N": "2"}}
    tree = cached("#a = :v1", {"#a": "a"}, values)
    item = _item({"a": {"N": "2"}})
    assert _decision(tree, item) == _decision(FRESH("#a = :v1", {"#a": "a"}, values), item)
    assert _decision(tree, item) is True


def test_an_expression_moto_refuses_is_refused_every_time(cached: Any) -> None:
    with pytest.raises(ValueError, match="Bad comparison") as fresh:
        FRESH("#v = ", {"#v": "version"}, None)
    for _ in range(2):
        with pytest.raises(ValueError, match="Bad comparison") as refused:
            cached("#v = ", {"#v": "version"}, None)
        assert str(refused.value) == str(fresh.value)


def test_binary_values_are_parsed_as_moto_parses_them(cached: Any) -> None:
    values: Any = {":b": {"B": b"\x00\xff"}}
    tree = cached("#d = :b", {"#d": "digest"}, values)
    assert tree is not cached("#d = :b", {"#d": "digest"}, values)  # not kept: not JSON
    assert tree.expr(_item({"digest": {"B": b"\x00\xff"}})) == FRESH(
        "#d = :b", {"#d": "digest"}, values
    ).expr(_item({"digest": {"B": b"\x00\xff"}}))


def test_every_caller_of_moto_s_function_gets_the_kept_parse(cached: Any) -> None:
    import importlib

    for name in ("moto.dynamodb.models", "moto.dynamodb.models.table"):
        assert importlib.import_module(name).get_filter_expression is cached
