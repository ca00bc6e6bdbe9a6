"""moto's items built with a running size total (infra/local/dynamodb_items.py) admit exactly
the attributes moto's own LimitedSizeDict admits, and refuse an item at the same size: on
generated items of every attribute type, and on items built to land around moto's limit."""

from __future__ import annotations

from contextlib import nullcontext
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from moto.dynamodb.exceptions import ItemSizeTooLarge
from moto.dynamodb.models.dynamo_type import DynamoType, Item

from infra.local import dynamodb_items, patching
from tests.unit.test_dynamodb_wire import VALUES

KEY = DynamoType({"S": "ORDER#1"})
SORT = DynamoType({"S": "ORDER"})
ORIGINAL_INIT = Item.__init__
LIMIT = dynamodb_items.MOTO_ITEM_LIMIT_BYTES
NEAR_LIMIT = st.dictionaries(
    st.text(min_size=1, max_size=4),
    st.integers(min_value=0, max_value=LIMIT // 2).map(lambda n: {"S": "x" * n}),
    max_size=4,
)


def _built(attrs: dict[str, Any], *, running_total: bool) -> Any:
    with patching.installed(dynamodb_items.install) if running_total else nullcontext():
        try:
            item: Any = Item.__new__(Item)
            Item.__init__(item, KEY, SORT, attrs)
            return list(item.attrs.items())
        except ItemSizeTooLarge:
            return "ItemSizeTooLarge"


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.text(min_size=1, max_size=8), VALUES, max_size=8) | NEAR_LIMIT)
def test_the_running_total_admits_and_refuses_as_moto_does(attrs: dict[str, Any]) -> None:
    assert _built(attrs, running_total=True) == _built(attrs, running_total=False)


@pytest.mark.parametrize("spare", [-1, 0, 1])
def test_the_limit_is_moto_s_to_the_byte(spare: int) -> None:
    # name "a" (1 byte) + value: the item's size is exactly LIMIT - spare
    attrs = {"a": {"S": "x" * (LIMIT - 1 - spare)}}
    expected = "ItemSizeTooLarge" if spare < 0 else [("a", DynamoType(attrs["a"]))]
    assert _built(attrs, running_total=True) == expected == _built(attrs, running_total=False)


def test_installing_replaces_only_the_constructor_and_stopping_restores_it() -> None:
    with patching.installed(dynamodb_items.install):
        assert Item.__init__ is not ORIGINAL_INIT
    assert Item.__init__ is ORIGINAL_INIT
