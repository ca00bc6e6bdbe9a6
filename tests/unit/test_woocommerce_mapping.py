"""A WooCommerce REST v3 order -> the canonical Order: the docs' reference example, and the
Polish store cases (COD, Paczkomat, NIP, VAT rates, gross prices) from the simulator's builder."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from shared.inbox.contract import MalformedWebhook, parse_model
from shared.kernel.money import Money
from shared.orders.domain import (
    Address,
    Buyer,
    ChannelPayment,
    ChannelStatus,
    Order,
    PaymentMethod,
    PickupPoint,
)
from shared.providers.channels.woocommerce.mapping import to_order
from shared.providers.channels.woocommerce.resources import WooOrder
from shared.providers.channels.woocommerce.simulator import WooCommerceSimulator
from shared.providers.simulation import Line
from tests.unit.conftest import fixture_json

SIMULATOR = WooCommerceSimulator("s", clock=lambda: datetime(2026, 5, 4, 10, 0, tzinfo=UTC))
MUGS = [Line("MUG-350", "Kubek &ndash; 350 ml", 2, "49.99")]


def usd(amount: int) -> Money:
    return Money(amount=amount, currency="USD")


def pln(amount: int) -> Money:
    return Money(amount=amount, currency="PLN")


def mapped(document: dict[str, Any]) -> Order:
    return to_order(WooOrder.model_validate(document))


def test_the_docs_reference_order_maps_to_the_canonical_order() -> None:
    # Given the order example of WooCommerce's REST API docs (net prices, US state tax)
    order = mapped(fixture_json("woocommerce/order_retrieve_docs_example.json"))
    # Then
    assert order.channel == "woocommerce"
    assert order.external_id == "727"
    assert order.external_number == "727"
    assert order.revision == 1490210888000  # date_modified_gmt 2017-03-22T19:28:08
    assert order.placed_at == datetime(2017, 3, 22, 19, 28, 2, tzinfo=UTC)
    assert order.prices_include_vat is False
    first, second = order.lines
    assert (first.sku, first.listing_id, first.channel_line_id) == (None, "93", "315")
    assert (first.quantity, first.unit_price, first.discount) == (2, usd(300), None)
    # the variation is the listing; the name is unescaped (&ndash;)
    assert (second.sku, second.listing_id, second.channel_line_id) == ("Bar3", "23", "316")
    assert second.name == "Ship Your Idea \u2013 Color: Black, Size: M Test"
    # 0.45 on 6.00 is California's 7.5 %, not snapped to a nearby EU rate
    assert first.vat_rate == second.vat_rate == Decimal("7.5")
    assert order.totals.items == usd(1800)
    assert order.totals.shipping == usd(1000)
    assert order.totals.discount == usd(0)
    assert order.totals.tax == usd(135)
    assert order.totals.total == usd(2935)
    assert order.buyer == Buyer(
        name="John Doe", email="john.doe@example.com", phone="(555) 555-5555"
    )
    assert order.delivery == Address(
        name="John Doe",
        line1="969 Market",
        postal_code="94103",
        city="San Francisco",
        region="CA",
        country_code="US",
        phone="(555) 555-5555",
    )
    # bacs, processing, date_paid set: the shop confirmed the money came
    assert order.payment_method is PaymentMethod.PREPAID
    assert order.channel_payment == ChannelPayment(
        provider="woocommerce", payment_id="order-727", amount=usd(2935)
    )
    assert order.channel_status is ChannelStatus.OPEN
    assert order.invoice_requested is False
    assert order.billing_address is None  # the same as the delivery address
    assert order.channel_refs == {"status": "processing"}


def test_a_polish_gross_order_keeps_gross_prices_and_its_vat_rates() -> None:
    lines = [*MUGS, Line("BOOK-1", "Książka", 1, "39.90", "0.05")]
    order = mapped(SIMULATOR.order(5001, lines, paid=True))
    assert order.prices_include_vat is True
    assert order.currency == "PLN"
    mug, book = order.lines
    assert (mug.unit_price, mug.vat_rate, mug.name) == (
        pln(4999),
        Decimal(23),
        "Kubek \u2013 350 ml",
    )
    assert (book.unit_price, book.vat_rate) == (pln(3990), Decimal(5))
    assert order.totals.items == pln(2 * 4999 + 3990)
    assert order.totals.shipping == pln(1599)  # gross: 13.00 + 2.99 VAT
    assert order.totals.total == pln(2 * 4999 + 3990 + 1599)


def test_paid_through_the_stores_gateway_is_a_channel_payment() -> None:
    document = SIMULATOR.order(5002, MUGS, paid=True)
    order = mapped(document)
    assert order.payment_method is PaymentMethod.PREPAID
    assert order.channel_payment == ChannelPayment(
        provider="woocommerce",
        payment_id=document["transaction_id"],
        amount=order.totals.total,
    )


@pytest.mark.parametrize("status", ["pending", "on-hold"])
def test_pending_and_on_hold_are_prepaid_and_not_paid_yet(status: str) -> None:
    order = mapped(SIMULATOR.order(5003, MUGS, status=status))
    assert order.payment_method is PaymentMethod.PREPAID
    assert order.channel_payment is None
    assert order.payment_required


def test_cash_on_delivery_is_never_a_channel_payment() -> None:
    # WooCommerce stamps date_paid when a COD order reaches processing; the courier collects
    document = SIMULATOR.order(5004, MUGS, cash_on_delivery=True)
    assert document["date_paid_gmt"] is not None
    order = mapped(document)
    assert order.payment_method is PaymentMethod.CASH_ON_DELIVERY
    assert order.channel_payment is None


@pytest.mark.parametrize(
    ("status", "channel_status"),
    [
        ("pending", ChannelStatus.OPEN),
        ("processing", ChannelStatus.OPEN),
        ("on-hold", ChannelStatus.OPEN),
        ("completed", ChannelStatus.OPEN),
        ("cancelled", ChannelStatus.CANCELLED),
        ("refunded", ChannelStatus.CANCELLED),
        ("failed", ChannelStatus.CANCELLED),
        ("trash", ChannelStatus.CANCELLED),
    ],
)
def test_channel_status_by_woocommerce_status(status: str, channel_status: ChannelStatus) -> None:
    assert mapped(SIMULATOR.order(5005, MUGS, status=status)).channel_status is channel_status


def test_a_paczkomat_chosen_at_checkout_is_an_inpost_pickup_point() -> None:
    order = mapped(SIMULATOR.order(5006, MUGS, locker="kra010m"))
    assert order.delivery == PickupPoint(
        carrier="inpost", point_id="KRA010M", phone="+48 600 100 200"
    )


@pytest.mark.parametrize(
    "key", ["_paczkomat_id", "paczkomat_id", "_inpost_point_id", "parcel_machine_id"]
)
def test_a_locker_in_order_meta_counts_with_a_locker_shipping_method(key: str) -> None:
    document = SIMULATOR.order(5007, MUGS, locker="WAW22A")
    document["shipping_lines"][0]["meta_data"] = []
    document["meta_data"].append({"id": 1, "key": key, "value": "WAW22A"})
    assert mapped(document).delivery == PickupPoint(
        carrier="inpost", point_id="WAW22A", phone="+48 600 100 200"
    )


def test_a_stale_locker_in_order_meta_does_not_override_a_courier_method() -> None:
    document = SIMULATOR.order(5008, MUGS)  # Kurier DPD (flat_rate)
    document["meta_data"].append({"id": 1, "key": "_paczkomat_id", "value": "WAW22A"})
    assert isinstance(mapped(document).delivery, Address)


@pytest.mark.parametrize(
    "key", ["_billing_nip", "billing_nip", "_billing_vat", "vat_number", "_vat_number"]
)
def test_a_nip_asks_for_an_invoice_addressed_to_the_billing_address(key: str) -> None:
    document = SIMULATOR.order(5009, MUGS, locker="KRA010M")
    document["meta_data"].append({"id": 2, "key": key, "value": " 526-000-12-46 "})
    order = mapped(document)
    assert order.buyer.tax_id == "526-000-12-46"
    assert order.invoice_requested is True
    assert order.billing_address is not None
    assert order.billing_address.line1 == "ul. Długa 5/3"


def test_a_meta_value_that_is_no_tax_id_is_not_one() -> None:
    document = SIMULATOR.order(5010, MUGS)
    document["meta_data"].append({"id": 2, "key": "_billing_nip", "value": {"a": 1}})
    assert mapped(document).invoice_requested is False


def test_the_vat_rate_is_snapped_when_rounding_blurs_it() -> None:
    # Given an old store (no rate_percent) and a cheap line: 0.23 tax on 0.99 is 23.2 %
    document = SIMULATOR.order(5011, [Line("PIN", "Przypinka", 1, "1.22")])
    for tax_line in document["tax_lines"]:
        del tax_line["rate_percent"]
    line = document["line_items"][0]
    assert (line["total"], line["total_tax"]) == ("0.99", "0.23")
    assert mapped(document).lines[0].vat_rate == Decimal(23)


def test_a_coupon_is_the_lines_discount_and_uneven_units_round_up() -> None:
    # Given 3 units for 10.00 net before a 1.00 coupon, net prices
    document = SIMULATOR.order(5012, MUGS)
    document.update(
        prices_include_tax=False,
        total="12.00",
        total_tax="0.00",
        shipping_total="3.00",
        shipping_tax="0.00",
        discount_total="1.00",
    )
    document["line_items"] = [
        {
            "id": 7,
            "name": "Naklejki",
            "product_id": 9,
            "variation_id": 0,
            "quantity": 3,
            "subtotal": "10.00",
            "subtotal_tax": "0.00",
            "total": "9.00",
            "total_tax": "0.00",
            "taxes": [],
            "sku": "STICK",
        }
    ]
    order = mapped(document)
    (line,) = order.lines
    # 10.00 / 3 rounds up to 3.34; the extra 0.02 is part of the line's discount
    assert line.unit_price == pln(334)
    assert line.discount == pln(102)
    assert order.totals.items - order.totals.discount + order.totals.shipping == order.totals.total


def test_fees_are_no_stock_lines_and_negative_fees_discounts() -> None:
    document = SIMULATOR.order(5013, MUGS, cash_on_delivery=True)
    document["fee_lines"] = [
        {
            "id": 70,
            "name": "Opłata za pobranie",
            "total": "4.07",
            "total_tax": "0.93",
            "taxes": [{"id": 1, "total": "0.93"}],
        },
        {"id": 71, "name": "Rabat", "total": "-2.00", "total_tax": "0.00", "taxes": []},
    ]
    order = mapped(document)
    fee = order.lines[-1]
    assert (fee.sku, fee.listing_id, fee.channel_line_id) == (None, None, "70")
    assert (fee.unit_price, fee.vat_rate) == (pln(500), Decimal(23))
    assert order.totals.discount == pln(200)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"total": "-5.00"}, "cannot be negative"),
        ({"line_items": []}, "lines"),
        ({"currency": "PL1"}, "currency"),
    ],
)
def test_what_the_canonical_model_refuses_is_malformed(
    changes: dict[str, Any], message: str
) -> None:
    document = copy.deepcopy(SIMULATOR.order(5014, MUGS))
    document.update(changes)
    with pytest.raises(MalformedWebhook, match=message):
        to_order(parse_model(WooOrder, document))


def test_a_negative_line_names_the_order() -> None:
    document = SIMULATOR.order(5015, MUGS)
    document["line_items"][0].update(
        subtotal="-10.00", total="-10.00", total_tax="0.00", subtotal_tax="0.00"
    )
    with pytest.raises(MalformedWebhook, match="order 5015"):
        mapped(document)
