"""Read models: the one-word payment status and opaque, filter-bound list cursors."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.kernel.money import Money
from shared.orders.domain import OrderStatus, PaymentMethod
from shared.orders.store import OrderState
from shared.orders.views import InvalidCursor, decode_cursor, encode_cursor, payment_status
from shared.payments.domain import PaymentStatus
from shared.payments.store import PaymentRecord

TOTAL = Money(amount=40994, currency="PLN")


def state(*, payment_required: bool = True) -> OrderState:
    return OrderState(
        order_id="ord_1",
        status=OrderStatus.AWAITING_PAYMENT,
        version=3,
        channel="shopify",
        external_id="1001",
        external_number="#1001",
        total=TOTAL,
        payment_method=PaymentMethod.PREPAID
        if payment_required
        else PaymentMethod.CASH_ON_DELIVERY,
        payment_required=payment_required,
        created_at="2024-05-01T12:00:00.000Z",
        received_at="2024-05-01T12:00:01.000Z",
        updated_at="2024-05-01T12:00:01.000Z",
    )


def payment(
    status: PaymentStatus, decision: str | None = None, payment_id: str = "pi_1"
) -> PaymentRecord:
    return PaymentRecord(
        provider="stripe",
        payment_id=payment_id,
        status=status,
        amount=TOTAL,
        applied=decision == "pays_order",
        method="card",
        decision=decision,
        last_event_id="evt_1",
        updated_at="2024-05-01T12:01:00.000Z",
    )


P = PaymentStatus


@pytest.mark.parametrize(
    ("payments", "required", "expected"),
    [
        ([], True, "unpaid"),
        ([], False, "not_required"),
        ([payment(P.PENDING)], True, "pending"),
        ([payment(P.FAILED), payment(P.FAILED, payment_id="pi_2")], True, "failed"),
        ([payment(P.SUCCEEDED, "amount_mismatch")], True, "rejected"),
        ([payment(P.SUCCEEDED, "pays_order")], True, "paid"),
        # a failed first attempt and a successful retry: paid wins
        ([payment(P.FAILED), payment(P.SUCCEEDED, "pays_order", "pi_2")], True, "paid"),
        # a retry still pending after a failure is pending, not failed
        ([payment(P.FAILED), payment(P.PENDING, payment_id="pi_2")], True, "pending"),
        # money in but not applied yet (order still received, or backordered): received
        ([payment(P.SUCCEEDED)], True, "received"),
        # a COD order with a stray rejected payment still needs no payment
        ([payment(P.SUCCEEDED, "amount_mismatch")], False, "not_required"),
    ],
)
def test_payment_status(payments: list[PaymentRecord], required: bool, expected: str) -> None:
    assert payment_status(state(payment_required=required), payments) == expected


FILTERS: dict[str, Any] = {"status": "paid", "channel": "shopify"}
LAST_KEY = {"PK": {"S": "ORDER#ord_1"}, "SK": {"S": "ORDER"}, "GSI1PK": {"S": "STATUS#paid"}}


def test_a_cursor_roundtrips_with_the_same_filters() -> None:
    cursor = encode_cursor(LAST_KEY, FILTERS)
    assert "=" not in cursor  # URL-safe, unpadded
    assert decode_cursor(cursor, dict(reversed(FILTERS.items()))) == LAST_KEY


@settings(deadline=None)
@given(
    keys=st.dictionaries(
        st.text(min_size=1, max_size=10), st.text(max_size=30).map(lambda s: {"S": s}), max_size=4
    ),
    filters=st.dictionaries(
        st.text(max_size=8), st.one_of(st.none(), st.text(max_size=8), st.integers())
    ),
)
def test_any_issued_cursor_decodes_to_its_key(
    keys: dict[str, Any], filters: dict[str, Any]
) -> None:
    assert decode_cursor(encode_cursor(keys, filters), filters) == keys


@pytest.mark.parametrize(
    "other_filters",
    [{"status": "cancelled", "channel": "shopify"}, {"status": "paid"}, {}],
)
def test_a_cursor_reused_with_other_filters_is_invalid(other_filters: dict[str, Any]) -> None:
    cursor = encode_cursor(LAST_KEY, FILTERS)
    with pytest.raises(InvalidCursor, match="different query"):
        decode_cursor(cursor, other_filters)


def _raw_cursor(payload: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "cursor",
    [
        "garbage!!",
        "",
        base64.urlsafe_b64encode(b"\xff\xfe\xfd").decode(),
        _raw_cursor([1, 2]),
        _raw_cursor({"k": {}}),
        _raw_cursor("k"),
    ],
    ids=["garbage", "empty", "not-utf8", "list", "no-fingerprint", "string"],
)
def test_a_cursor_this_api_did_not_issue_is_invalid(cursor: str) -> None:
    with pytest.raises(InvalidCursor):
        decode_cursor(cursor, FILTERS)


@pytest.mark.parametrize(
    "last_key",
    [
        {"PK": {"N": "1"}},
        {"PK": "ORDER#ord_1"},
        {"PK": {"S": 1}},
        {"PK": {"S": "a", "N": "1"}},
    ],
)
def test_a_cursor_whose_key_values_are_not_strings_is_invalid(last_key: dict[str, Any]) -> None:
    # Given a well-formed, correctly bound cursor whose key is not made of {"S": str} values
    cursor = encode_cursor(last_key, FILTERS)
    with pytest.raises(InvalidCursor, match="not one this API issued"):
        decode_cursor(cursor, FILTERS)


def test_a_cursor_whose_key_is_not_an_object_is_invalid() -> None:
    cursor = encode_cursor(["ORDER#ord_1"], FILTERS)  # type: ignore[arg-type]
    with pytest.raises(InvalidCursor):
        decode_cursor(cursor, FILTERS)
