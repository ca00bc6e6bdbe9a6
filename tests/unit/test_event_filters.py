"""Event filter patterns as Lambda applies them to the table stream (the local emulation)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from infra.local.event_filters import matches

# The two FilterCriteria patterns exactly as the synthesised template holds them
# (infra/constructs/orders.py STREAM_FILTERS, rendered by CDK's FilterRule).
INBOX_ACCEPTED = json.loads(
    '{"eventName":["INSERT"],"dynamodb":{"Keys":{"SK":{"S":["INBOX"]}},'
    '"NewImage":{"status":{"S":["accepted"]}}}}'
)
TIMELINE_EVENT = json.loads(
    '{"eventName":["INSERT"],"dynamodb":{"Keys":{"SK":{"S":[{"prefix":"EVENT#"}]}}}}'
)
STACK_FILTERS = [INBOX_ACCEPTED, TIMELINE_EVENT]


def record(event_name: str, pk: str, sk: str, **image: str) -> dict[str, Any]:
    keys = {"PK": {"S": pk}, "SK": {"S": sk}}
    new_image = {**keys, **{k: {"S": v} for k, v in image.items()}}
    return {
        "eventID": "1",
        "eventName": event_name,
        "eventSource": "aws:dynamodb",
        "dynamodb": {"Keys": keys, "NewImage": new_image, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    }


def routed(stream_record: dict[str, Any]) -> bool:
    """Lambda invokes the router when any of the mapping's filters matches."""
    return any(matches(pattern, stream_record) for pattern in STACK_FILTERS)


def test_an_accepted_inbox_insert_reaches_the_router() -> None:
    stream_record = record("INSERT", "INBOX#shopify#wh-1", "INBOX", status="accepted")
    assert matches(INBOX_ACCEPTED, stream_record)
    assert routed(stream_record)


def test_an_ignored_inbox_insert_is_filtered_out() -> None:
    assert not routed(record("INSERT", "INBOX#shopify#wh-2", "INBOX", status="ignored"))


def test_a_timeline_event_insert_reaches_the_router() -> None:
    stream_record = record("INSERT", "ORDER#ord_1", "EVENT#00000002", type="timeline")
    assert matches(TIMELINE_EVENT, stream_record)
    assert not matches(INBOX_ACCEPTED, stream_record)


@pytest.mark.parametrize(
    "stream_record",
    [
        record("MODIFY", "ORDER#ord_1", "ORDER", status="paid"),
        record("INSERT", "STOCK#SKU-1", "WAREHOUSE#WAW", type="stock"),
        record("REMOVE", "ORDER#ord_1", "EVENT#00000002"),
        record("MODIFY", "INBOX#shopify#wh-1", "INBOX", status="accepted"),
        record("INSERT", "ORDER#ord_1", "ORDER", status="received"),
    ],
    ids=["order-modify", "stock-insert", "event-remove", "inbox-modify", "order-insert"],
)
def test_other_changes_are_filtered_out(stream_record: dict[str, Any]) -> None:
    assert not routed(stream_record)


def test_an_inbox_record_without_status_does_not_match() -> None:
    stream_record = record("INSERT", "INBOX#stripe#evt_1", "INBOX")
    assert not matches(INBOX_ACCEPTED, stream_record)


def test_exact_values_compare_by_value_and_type() -> None:
    assert matches({"n": [5]}, {"n": 5})
    assert not matches({"n": ["5"]}, {"n": 5})
    assert not matches({"s": ["INBOX"]}, {"s": "INBOX#x"})


def test_a_list_of_options_is_an_or() -> None:
    pattern = {"eventName": ["INSERT", "MODIFY"]}
    assert matches(pattern, {"eventName": "MODIFY"})
    assert not matches(pattern, {"eventName": "REMOVE"})


def test_several_fields_are_an_and() -> None:
    pattern = {"a": ["1"], "b": ["2"]}
    assert matches(pattern, {"a": "1", "b": "2", "c": "3"})
    assert not matches(pattern, {"a": "1", "b": "x"})
    assert not matches(pattern, {"a": "1"})


def test_prefix_and_suffix_match_strings_only() -> None:
    assert matches({"sk": [{"prefix": "EVENT#"}]}, {"sk": "EVENT#1"})
    assert not matches({"sk": [{"prefix": "EVENT#"}]}, {"sk": "PAYMENT#1"})
    assert not matches({"sk": [{"prefix": "EVENT#"}]}, {"sk": "WAIT#EVENT#1"})  # not at the start
    assert not matches({"sk": [{"prefix": "1"}]}, {"sk": 12})
    assert matches({"f": [{"suffix": ".json"}]}, {"f": "a.json"})


def test_anything_but_excludes_one_or_several_values_and_needs_the_field() -> None:
    assert matches({"s": [{"anything-but": "ignored"}]}, {"s": "accepted"})
    assert not matches({"s": [{"anything-but": "ignored"}]}, {"s": "ignored"})
    assert not matches({"s": [{"anything-but": ["a", "b"]}]}, {"s": "b"})
    assert not matches({"s": [{"anything-but": "ignored"}]}, {})


def test_exists_checks_presence_either_way() -> None:
    assert matches({"x": [{"exists": True}]}, {"x": None})
    assert not matches({"x": [{"exists": True}]}, {})
    assert matches({"x": [{"exists": False}]}, {})
    assert not matches({"x": [{"exists": False}]}, {"x": 1})


@pytest.mark.parametrize(
    ("condition", "value", "expected"),
    [
        ([">", 0, "<=", 5], 5, True),
        ([">", 0, "<=", 5], 0, False),
        (["=", 3], 3.0, True),
        ([">=", 10], 9.99, False),
        (["<", 10], "not a number", False),
    ],
)
def test_numeric_ranges(condition: list[Any], value: Any, expected: bool) -> None:
    assert matches({"n": [{"numeric": condition}]}, {"n": value}) is expected


def test_nested_objects_must_exist_and_match() -> None:
    pattern = {"dynamodb": {"Keys": {"SK": {"S": ["INBOX"]}}}}
    assert matches(pattern, {"dynamodb": {"Keys": {"SK": {"S": "INBOX"}}}})
    assert not matches(pattern, {"dynamodb": {}})
    assert not matches(pattern, {"dynamodb": "INBOX"})
    assert not matches(pattern, {})


def test_an_empty_pattern_matches_any_object_but_not_a_scalar() -> None:
    assert matches({}, {"anything": 1})
    assert not matches({}, "INSERT")


def test_malformed_patterns_are_errors() -> None:
    with pytest.raises(TypeError, match="list or an object"):
        matches({"eventName": "INSERT"}, {"eventName": "INSERT"})
    with pytest.raises(ValueError, match="unsupported filter operator"):
        matches({"x": [{"wildcard": "*"}]}, {"x": "a"})


@settings(deadline=None)
@given(sk=st.text(max_size=20), event_name=st.sampled_from(["INSERT", "MODIFY", "REMOVE"]))
def test_the_timeline_filter_is_exactly_insert_of_an_event_sort_key(
    sk: str, event_name: str
) -> None:
    expected = event_name == "INSERT" and sk.startswith("EVENT#")
    assert matches(TIMELINE_EVENT, record(event_name, "ORDER#o", sk)) is expected
