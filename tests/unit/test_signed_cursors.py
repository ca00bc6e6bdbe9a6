"""Signed list cursors: only a cursor this deployment signed reaches DynamoDB."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.orders.views import (
    InvalidCursor,
    encode_cursor,
    issue_cursor,
    read_cursor,
    sign_cursor,
    verify_cursor,
)

KEY = b"k" * 48
FILTERS: dict[str, Any] = {"status": "paid", "channel": "shopify"}
LAST_KEY = {"PK": {"S": "ORDER#ord_1"}, "SK": {"S": "ORDER"}, "GSI1PK": {"S": "STATUS#paid"}}


def test_an_issued_cursor_reads_back_with_the_same_filters_and_is_url_safe() -> None:
    cursor = issue_cursor(LAST_KEY, FILTERS, KEY)
    assert read_cursor(cursor, dict(reversed(FILTERS.items())), KEY) == LAST_KEY
    assert set(cursor) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.")


def test_a_signed_cursor_is_still_bound_to_its_filters() -> None:
    cursor = issue_cursor(LAST_KEY, FILTERS, KEY)
    with pytest.raises(InvalidCursor, match="different query"):
        read_cursor(cursor, {"status": "cancelled"}, KEY)


def _flip(text: str, at: int) -> str:
    return text[:at] + ("A" if text[at] != "A" else "B") + text[at + 1 :]


@pytest.mark.parametrize(
    "tampered",
    [
        encode_cursor(LAST_KEY, FILTERS),  # unsigned, as cursors were before
        issue_cursor(LAST_KEY, FILTERS, b"another deployment's key....."),
        _flip(issue_cursor(LAST_KEY, FILTERS, KEY), 3),  # payload
        _flip(issue_cursor(LAST_KEY, FILTERS, KEY), -3),  # signature
        issue_cursor(LAST_KEY, FILTERS, KEY) + "A",
        issue_cursor(LAST_KEY, FILTERS, KEY).split(".")[0] + ".",
        issue_cursor(LAST_KEY, FILTERS, KEY).split(".")[0] + ".ąę€",  # not ASCII
        "",
        ".",
    ],
    ids=[
        "unsigned",
        "other-key",
        "payload",
        "signature",
        "appended",
        "no-signature",
        "non-ascii",
        "empty",
        "dot",
    ],
)
def test_a_cursor_not_signed_by_this_deployment_is_invalid(tampered: str) -> None:
    with pytest.raises(InvalidCursor, match="not one this API issued"):
        read_cursor(tampered, FILTERS, KEY)


@settings(deadline=None, max_examples=300)
@given(st.text(max_size=300))
def test_any_text_is_either_a_signed_cursor_or_invalid(text: str) -> None:
    try:
        verify_cursor(text, KEY)
    except InvalidCursor:
        return
    raise AssertionError(f"accepted a made-up cursor: {text!r}")


@settings(deadline=None)
@given(st.text(max_size=200))
def test_whatever_was_signed_verifies(cursor: str) -> None:
    assert verify_cursor(sign_cursor(cursor, KEY), KEY) == cursor
