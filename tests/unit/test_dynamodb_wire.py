"""The DynamoDB shortcut of the embedded stack (infra/local/dynamodb_wire.py) writes, for every
item, exactly the response moto's generic serializer writes: generated items of every attribute
type, nested, with the values moto's backends hold (bytes or text for binaries) and shapes the
shortcut does not vouch for (it must then leave them to the generic walk)."""

from __future__ import annotations

import base64
import functools
import json
from collections.abc import Iterator
from contextlib import nullcontext
from typing import Any

import boto3
import pytest
from botocore.session import get_session
from hypothesis import given, settings
from hypothesis import strategies as st
from moto.core.serialize import XFormedAttributePicker, get_serializer_class

from infra.local import dynamodb_wire, patching

NAMES = st.text(max_size=8)  # "", dots and any character: map keys as DynamoDB allows them
NUMBERS = st.decimals(allow_nan=False, allow_infinity=False, places=3).map(str)
BLOBS = st.binary(max_size=12) | st.text(max_size=12)  # moto holds either
SCALARS = st.one_of(
    st.builds(lambda v: {"S": v}, st.text(max_size=12)),
    st.builds(lambda v: {"N": v}, NUMBERS),
    st.builds(lambda v: {"B": v}, BLOBS),
    st.builds(lambda v: {"SS": v}, st.lists(st.text(max_size=6), min_size=1, max_size=4)),
    st.builds(lambda v: {"NS": v}, st.lists(NUMBERS, min_size=1, max_size=4)),
    st.builds(lambda v: {"BS": v}, st.lists(BLOBS, min_size=1, max_size=3)),
    st.just({"NULL": True}),
    st.builds(lambda v: {"BOOL": v}, st.booleans()),
)
# What a backend should never hold, but the generic walk copes with one way or another.
ODD = st.one_of(
    st.none(),
    st.integers(),
    st.builds(lambda v: {"S": v}, st.integers() | st.none()),
    st.builds(lambda v: {"BOOL": v}, st.sampled_from(["true", 1, None])),
    st.builds(lambda a, b: {"S": a, "N": b}, st.text(max_size=3), NUMBERS),
    st.just({}),
)


def _nest(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.builds(lambda v: {"M": v}, st.dictionaries(NAMES, children, max_size=4)) | st.builds(
        lambda v: {"L": v}, st.lists(children, max_size=4)
    )


VALUES = st.recursive(SCALARS, _nest, max_leaves=20)
ANY_VALUES = st.recursive(SCALARS | ODD, _nest, max_leaves=12)
ITEMS = st.dictionaries(st.text(min_size=1, max_size=8), VALUES, max_size=6)
ANY_ITEMS = st.dictionaries(st.text(min_size=1, max_size=8), ANY_VALUES, max_size=4)


@functools.cache
def _operation(service: str, operation: str) -> Any:
    return get_session().get_service_model(service).operation_model(operation)


def _serialized(service: str, operation: str, result: Any, *, shortcut: bool) -> Any:
    serializer = get_serializer_class(service, "json")(
        operation_model=_operation(service, operation), value_picker=XFormedAttributePicker()
    )
    outcome: Any
    with patching.installed(dynamodb_wire.install) if shortcut else nullcontext():
        try:
            outcome = serializer.serialize(result)
        except Exception as error:  # the generic walk may fail on odd values: so must it
            outcome = {"error": type(error).__name__}
    return outcome


def _both(service: str, operation: str, result: Any) -> tuple[Any, Any]:
    return (
        _serialized(service, operation, result, shortcut=False),
        _serialized(service, operation, result, shortcut=True),
    )


@settings(max_examples=300, deadline=None)
@given(ITEMS)
def test_an_item_is_written_as_the_generic_serializer_writes_it(item: dict[str, Any]) -> None:
    generic, shortcut = _both("dynamodb", "GetItem", {"Item": item})
    assert shortcut == generic


@settings(max_examples=300, deadline=None)
@given(ANY_ITEMS)
def test_values_the_shortcut_cannot_vouch_for_are_left_to_the_generic_walk(
    item: dict[str, Any],
) -> None:
    generic, shortcut = _both("dynamodb", "GetItem", {"Item": item})
    assert shortcut == generic


@settings(max_examples=100, deadline=None)
@given(st.lists(ITEMS, max_size=4), ITEMS)
def test_query_pages_and_stream_images_too(items: list[dict[str, Any]], image: Any) -> None:
    query = {"Items": items, "Count": len(items), "ScannedCount": len(items)}
    generic, shortcut = _both("dynamodb", "Query", query)
    assert shortcut == generic
    record = {"dynamodb": {"NewImage": image, "Keys": image, "SequenceNumber": "1"}}
    generic, shortcut = _both("dynamodbstreams", "GetRecords", {"Records": [record]})
    assert shortcut == generic


def test_an_empty_map_key_is_left_to_the_generic_walk() -> None:
    # The generic walk writes the members of a value under "" into the map itself (moto's
    # quirk, kept: the shortcut never answers differently from moto).
    assert dynamodb_wire.wire_attribute({"M": {"": {"S": "x"}}}) is None
    assert dynamodb_wire.wire_attribute({"M": {"a": {"S": "x"}}}) == {"M": {"a": {"S": "x"}}}


@pytest.fixture
def table(moto_in_process: None) -> Iterator[Any]:
    with patching.installed(dynamodb_wire.install):
        client = boto3.client("dynamodb", region_name="eu-central-1")
        client.create_table(
            TableName="wire",
            KeySchema=[{"AttributeName": "PK", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "PK", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        yield client


def test_every_attribute_type_round_trips_through_moto(table: Any) -> None:
    item = {
        "PK": {"S": "ORDER#1"},
        "n": {"N": "-12.50"},
        "b": {"B": b"\x00\xffbytes"},
        "ss": {"SS": ["a", "b"]},
        "ns": {"NS": ["1", "2.5"]},
        "bs": {"BS": [b"x", b"\x01"]},
        "null": {"NULL": True},
        "yes": {"BOOL": False},
        "m": {"M": {"deep": {"L": [{"S": "x"}, {"M": {"b": {"B": b"\x02"}}}, {"N": "3"}]}}},
    }
    table.put_item(TableName="wire", Item=item)
    got = table.get_item(TableName="wire", Key={"PK": {"S": "ORDER#1"}})["Item"]
    assert {k: v for k, v in got.items() if k not in ("ss", "ns", "bs")} == {
        k: v for k, v in item.items() if k not in ("ss", "ns", "bs")
    }
    assert sorted(got["ss"]["SS"]) == ["a", "b"]
    assert sorted(got["ns"]["NS"]) == ["1", "2.5"]
    assert sorted(got["bs"]["BS"]) == [b"\x01", b"x"]


def test_the_shortcut_writes_base64_as_the_wire_does() -> None:
    wired = dynamodb_wire.wire_attribute({"B": b"\x00\x01"})
    assert wired == {"B": base64.b64encode(b"\x00\x01").decode()}
    assert json.dumps(wired)  # JSON-ready, as the serializer's body needs
