"""The canonical Order: one currency, unique line numbers, payment_required, stock demand."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from shared.kernel.money import Money
from shared.kernel.time import utc_iso
from shared.orders.domain import Buyer, Order, OrderLine, PaymentMethod, Totals


def pln(amount: int, currency: str = "PLN") -> Money:
    return Money(amount=amount, currency=currency)


def line(line_no: int, sku: str | None, quantity: int = 1, *, currency: str = "PLN") -> OrderLine:
    return OrderLine(
        line_no=line_no,
        sku=sku,
        name=f"item {line_no}",
        quantity=quantity,
        unit_price=pln(1000, currency),
        vat_rate=Decimal(23),
    )


def totals(total: int, currency: str = "PLN") -> Totals:
    zero = pln(0, currency)
    return Totals(
        items=pln(total, currency),
        shipping=zero,
        discount=zero,
        tax=zero,
        total=pln(total, currency),
    )


def order(**overrides: Any) -> Order:
    fields: dict[str, Any] = {
        "channel": "shop",
        "external_id": "1001",
        "revision": 1,
        "placed_at": datetime(2024, 5, 1, 12, tzinfo=UTC),
        "currency": "PLN",
        "prices_include_vat": True,
        "lines": [line(1, "SKU-A")],
        "buyer": Buyer(name="Jan"),
        "delivery": None,
        "payment_method": PaymentMethod.PREPAID,
        "totals": totals(1000),
    }
    fields.update(overrides)
    return Order(**fields)


def test_a_consistent_order_is_accepted() -> None:
    assert order().totals.total == pln(1000)


def test_order_total_must_be_in_the_order_currency() -> None:
    with pytest.raises(ValidationError, match="order total is not in the order currency"):
        order(totals=totals(1000, "EUR"))


def test_lines_must_be_priced_in_the_order_currency() -> None:
    with pytest.raises(ValidationError, match="another currency"):
        order(lines=[line(1, "SKU-A", currency="EUR")])


def test_totals_must_not_mix_currencies() -> None:
    with pytest.raises(ValidationError, match="mix currencies"):
        Totals(items=pln(1), shipping=pln(0, "EUR"), discount=pln(0), tax=pln(0), total=pln(1))


def test_line_discount_must_share_the_unit_price_currency() -> None:
    with pytest.raises(ValidationError, match="differ in currency"):
        OrderLine(
            line_no=1,
            sku="A",
            name="a",
            quantity=1,
            unit_price=pln(100),
            vat_rate=Decimal(0),
            discount=pln(10, "EUR"),
        )


def test_line_numbers_must_be_unique() -> None:
    with pytest.raises(ValidationError, match="line numbers repeat"):
        order(lines=[line(1, "SKU-A"), line(1, "SKU-B")])


def test_an_order_needs_at_least_one_line() -> None:
    with pytest.raises(ValidationError):
        order(lines=[])


@pytest.mark.parametrize("sku", [" leading", "trailing ", "tab\tinside", "", "x" * 256])
def test_skus_are_trimmed_printable_text_of_sane_length(sku: str) -> None:
    with pytest.raises(ValidationError):
        line(1, sku)


@pytest.mark.parametrize("sku", ["MUG 350 ML", "A/B#2", "Kubek-Kraków", "x" * 255])
def test_skus_are_what_shops_write(sku: str) -> None:
    assert line(1, sku).sku == sku


@pytest.mark.parametrize(
    ("method", "total", "required"),
    [
        (PaymentMethod.PREPAID, 1000, True),
        (PaymentMethod.PREPAID, 0, False),  # a free order needs no payment
        (PaymentMethod.CASH_ON_DELIVERY, 1000, False),  # paid to the courier
    ],
)
def test_payment_required_only_for_prepaid_orders_with_a_total(
    method: PaymentMethod, total: int, required: bool
) -> None:
    assert order(payment_method=method, totals=totals(total)).payment_required is required


def test_stock_demand_sums_a_sku_across_lines_and_skips_lines_without_sku() -> None:
    # Given a SKU on two lines and a service line without a SKU
    lines = [line(1, "SKU-A", 2), line(2, None, 1), line(3, "SKU-B", 1), line(4, "SKU-A", 3)]
    # When the demand is computed, Then units add up per SKU and the service line holds no stock
    assert order(lines=lines).stock_demand() == {"SKU-A": 5, "SKU-B": 1}


def test_placed_at_must_carry_a_timezone() -> None:
    with pytest.raises(ValidationError):
        order(placed_at=datetime(2024, 5, 1, 12))  # naive: the point of the test


def test_utc_iso_is_utc_with_milliseconds_and_z() -> None:
    warsaw = timezone(timedelta(hours=2))
    moment = datetime(2024, 5, 1, 14, 30, 15, 123456, tzinfo=warsaw)
    assert utc_iso(moment) == "2024-05-01T12:30:15.123Z"
