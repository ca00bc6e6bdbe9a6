"""Amazon SP-API orders -> the canonical Order: Amazon's own sandbox payloads (ordersV0.json's
static examples) and orders built from them for other marketplaces, currencies and cases."""

from __future__ import annotations

import copy
from datetime import datetime
from decimal import Decimal
from typing import Any

import pytest

from shared.inbox.contract import MalformedWebhook
from shared.kernel.money import Money
from shared.orders.domain import Address, ChannelStatus, PaymentMethod
from shared.orders.inbound import OrderReported, OrderWithdrawn
from shared.providers.channels.amazon.marketplaces import vat_percent
from shared.providers.channels.amazon.orders import (
    AmazonOrder,
    AmazonOrderItem,
    Ignored,
    to_event,
)
from tests.unit.conftest import fixture_json

SANDBOX_ORDER = "amazon/get_order_sandbox_test_case_200.json"
SANDBOX_BUSINESS_ORDER = "amazon/get_order_sandbox_test_case_iba_200.json"
SANDBOX_ITEMS = "amazon/get_order_items_sandbox_test_case_200.json"
POLAND, GERMANY, UK, SWEDEN = "A1C3SOZRARQ6R3", "A1PA6795UKMFR9", "A1F83G8C2ARO7P", "A2NODRKZP88ZB9"


def sandbox_order() -> dict[str, Any]:
    order: dict[str, Any] = fixture_json(SANDBOX_ORDER)["payload"]
    return order


def sandbox_items() -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = fixture_json(SANDBOX_ITEMS)["payload"]["OrderItems"]
    return items


def money(amount: str, currency: str) -> dict[str, str]:
    return {"CurrencyCode": currency, "Amount": amount}


def item(
    price: str,
    tax: str,
    currency: str,
    *,
    quantity: int = 1,
    sku: str = "MUG-350",
    **extra: Any,
) -> dict[str, Any]:
    """The sandbox's order item, repriced."""
    document = copy.deepcopy(sandbox_items()[0])
    document.update(
        SellerSKU=sku,
        QuantityOrdered=quantity,
        ItemPrice=money(price, currency),
        ItemTax=money(tax, currency),
        PromotionDiscount=money("0.00", currency),
    )
    document.update(extra)
    return document


def marketplace_order(
    marketplace: str, currency: str, total: str, **changes: Any
) -> dict[str, Any]:
    """The sandbox order as one placed on another marketplace, with the RDT's restricted data."""
    document = sandbox_order()
    country = {POLAND: "PL", GERMANY: "DE", UK: "GB", SWEDEN: "SE"}[marketplace]
    document.update(
        MarketplaceId=marketplace,
        OrderTotal=money(total, currency),
        ShippingAddress={
            "Name": "Jan Kowalski",
            "AddressLine1": "ul. Prosta 51",
            "AddressLine2": "lok. 4",
            "City": "Warszawa",
            "PostalCode": "00-838",
            "CountryCode": country,
            "Phone": "+48 600 100 200",
        },
        BuyerInfo={"BuyerEmail": "x1y2@marketplace.amazon.pl", "BuyerName": "Jan Kowalski"},
    )
    document.update(changes)
    return document


def event_of(order: dict[str, Any], items: list[dict[str, Any]]) -> Any:
    return to_event(
        AmazonOrder.model_validate(order), [AmazonOrderItem.model_validate(i) for i in items]
    )


def reported(order: dict[str, Any], items: list[dict[str, Any]]) -> Any:
    event = event_of(order, items)
    assert isinstance(event, OrderReported), event
    return event.order


def test_the_sandbox_order_maps_with_net_us_prices() -> None:
    # Given Amazon's static sandbox getOrder and getOrderItems answers (US, USD, no RDT)
    order = reported(sandbox_order(), sandbox_items())

    # Then the order is Amazon's, its line the ASIN and seller SKU, with the tax on top
    assert order.channel == "amazon"
    assert order.external_id == order.external_number == "902-1845936-5435065"
    assert order.revision == int(datetime.fromisoformat("1970-01-19T03:58:32Z").timestamp() * 1000)
    assert order.currency == "USD"
    assert order.prices_include_vat is False  # US prices exclude sales tax
    [line] = order.lines
    assert (line.listing_id, line.sku, line.channel_line_id) == (
        "B00551Q3CS",
        "NABetaASINB00551Q3CS",
        "05015851154158",
    )
    assert line.name == "B00551Q3CS [Card Book]"
    assert (line.quantity, line.unit_price) == (1, Money(amount=1000, currency="USD"))
    assert line.vat_rate == Decimal("10.1")  # a sales tax ratio, no standard rate to round to
    assert order.totals.total == Money(amount=1101, currency="USD")
    assert order.totals.tax == Money(amount=101, currency="USD")
    assert order.channel_refs == {"marketplace_id": "ATVPDKIKX0DER"}
    assert order.channel_status is ChannelStatus.OPEN
    # Amazon collected the money; without an RDT there is no buyer data and no address
    assert order.payment_method is PaymentMethod.PREPAID
    assert order.channel_payment is not None
    assert order.channel_payment.model_dump() == {
        "provider": "amazon",
        "payment_id": "902-1845936-5435065",
        "amount": {"amount": 1101, "currency": "USD"},
    }
    assert order.delivery is None
    assert order.buyer.email is None


def test_an_amazon_fulfilled_order_is_ignored() -> None:
    # Given the sandbox's Amazon Business order, fulfilled by Amazon (AFN) from Germany
    order: dict[str, Any] = fixture_json(SANDBOX_BUSINESS_ORDER)["payload"]
    items = [item("100.00", "15.97", "EUR")]

    # Then nothing is reserved or shipped here: Amazon ships FBA orders from its own stock
    event = event_of(order, items)
    assert isinstance(event, Ignored)
    assert "fulfilled by Amazon" in event.reason


@pytest.mark.parametrize(
    ("marketplace", "currency", "price", "tax", "rate"),
    [
        (POLAND, "PLN", "123.00", "23.00", "23"),
        (POLAND, "PLN", "108.00", "8.00", "8"),
        (GERMANY, "EUR", "119.00", "19.00", "19"),
        (GERMANY, "EUR", "10.70", "0.70", "7"),
        (UK, "GBP", "24.00", "4.00", "20"),
        (SWEDEN, "SEK", "249.00", "49.80", "25"),
        (SWEDEN, "SEK", "112.00", "12.00", "12"),
        # 0.19 on 0.99 reads as 23.75 %: the Polish rate whose rounded tax is 0.19 is 23
        (POLAND, "PLN", "0.99", "0.19", "23"),
    ],
)
def test_each_marketplace_keeps_its_currency_and_vat_rate(
    marketplace: str, currency: str, price: str, tax: str, rate: str
) -> None:
    # Given an order on a European marketplace, its price including VAT
    document = marketplace_order(marketplace, currency, price)

    # When it is mapped
    order = reported(document, [item(price, tax, currency)])

    # Then the currency is the order's and the rate the standard one the tax amount rounds to
    assert order.currency == currency
    assert order.prices_include_vat is True
    assert order.lines[0].vat_rate == Decimal(rate)
    assert order.lines[0].unit_price == Money.from_decimal(price, currency)
    assert order.totals.total == Money.from_decimal(price, currency)
    assert order.channel_refs == {"marketplace_id": marketplace}


def test_the_restricted_buyer_data_becomes_the_buyer_and_the_address() -> None:
    document = marketplace_order(POLAND, "PLN", "123.00")

    order = reported(document, [item("123.00", "23.00", "PLN")])

    assert order.buyer.model_dump() == {
        "name": "Jan Kowalski",
        "email": "x1y2@marketplace.amazon.pl",
        "phone": "+48 600 100 200",
        "company": None,
        "tax_id": None,
    }
    assert order.delivery == Address(
        name="Jan Kowalski",
        line1="ul. Prosta 51",
        line2="lok. 4",
        postal_code="00-838",
        city="Warszawa",
        country_code="PL",
        phone="+48 600 100 200",
    )
    assert order.invoice_requested is False


def test_a_business_buyer_gets_a_vat_invoice_with_its_tax_id() -> None:
    # Given an Amazon Business order whose buyer named its VAT id
    document = marketplace_order(POLAND, "PLN", "123.00", IsBusinessOrder=True)
    document["ShippingAddress"]["CompanyName"] = "Kowalski Sp. z o.o."
    document["BuyerInfo"]["BuyerTaxInfo"] = {
        "CompanyLegalName": "Kowalski Sp. z o.o.",
        "TaxingRegion": "PL",
        "TaxClassifications": [{"Name": "VATNumber", "Value": "PL5260250274"}],
    }

    order = reported(document, [item("123.00", "23.00", "PLN")])

    assert order.buyer.tax_id == "PL5260250274"
    assert order.buyer.company == "Kowalski Sp. z o.o."
    assert order.invoice_requested is True


def test_a_business_order_without_a_tax_id_still_requests_an_invoice() -> None:
    # v0 names no buyer VAT id for EU business orders; IsBusinessOrder is enough
    document = marketplace_order(GERMANY, "EUR", "119.00", IsBusinessOrder=True)

    order = reported(document, [item("119.00", "19.00", "EUR")])

    assert order.invoice_requested is True
    assert order.buyer.tax_id is None


def test_turkish_business_tax_information_is_read_too() -> None:
    document = marketplace_order(
        POLAND,
        "PLN",
        "123.00",
        BuyerInvoicePreference="BUSINESS",
        BuyerTaxInformation={
            "BuyerLegalCompanyName": "Örnek A.Ş.",
            "BuyerTaxRegistrationId": "1234567890",
            "BuyerTaxOffice": "Kadikoy",
        },
    )

    order = reported(document, [item("123.00", "23.00", "PLN")])

    assert (order.buyer.tax_id, order.buyer.company) == ("1234567890", "Örnek A.Ş.")
    assert order.invoice_requested is True


def test_cash_on_delivery_is_not_a_channel_payment() -> None:
    document = marketplace_order(POLAND, "PLN", "123.00", PaymentMethod="COD")

    order = reported(document, [item("123.00", "23.00", "PLN")])

    assert order.payment_method is PaymentMethod.CASH_ON_DELIVERY
    assert order.channel_payment is None


@pytest.mark.parametrize(
    "status", ["Unshipped", "PartiallyShipped", "Shipped", "InvoiceUnconfirmed"]
)
def test_paid_statuses_are_open_orders(status: str) -> None:
    document = marketplace_order(POLAND, "PLN", "123.00", OrderStatus=status)

    order = reported(document, [item("123.00", "23.00", "PLN")])

    assert order.channel_status is ChannelStatus.OPEN


@pytest.mark.parametrize("status", ["Pending", "PendingAvailability"])
def test_an_order_not_paid_yet_is_ignored(status: str) -> None:
    # Given a Pending order (Amazon: payment not authorised, do not ship; no item prices yet)
    document = marketplace_order(POLAND, "PLN", "123.00", OrderStatus=status)
    unpriced = {k: v for k, v in item("123.00", "23.00", "PLN").items() if "Price" not in k}

    event = event_of(document, [unpriced])

    assert isinstance(event, Ignored)
    assert status in event.reason


def test_a_cancelled_order_with_its_prices_is_reported_cancelled() -> None:
    document = marketplace_order(POLAND, "PLN", "123.00", OrderStatus="Canceled")
    document.pop("ShippingAddress")  # Amazon shows no address for a cancelled order

    order = reported(document, [item("123.00", "23.00", "PLN")])

    assert order.channel_status is ChannelStatus.CANCELLED
    assert order.delivery is None


def test_a_cancelled_order_without_prices_is_withdrawn() -> None:
    # Given a cancelled order whose items Amazon reports with nothing ordered and no price
    document = marketplace_order(POLAND, "PLN", "123.00", OrderStatus="Canceled")
    document.pop("OrderTotal")
    cancelled_item = item("123.00", "23.00", "PLN", quantity=0)
    cancelled_item.pop("ItemPrice")

    event = event_of(document, [cancelled_item])

    assert isinstance(event, OrderWithdrawn)
    assert (event.channel, event.external_id, event.reason) == (
        "amazon",
        "902-1845936-5435065",
        "Canceled",
    )
    assert event.revision == int(
        datetime.fromisoformat(document["LastUpdateDate"]).timestamp() * 1000
    )


def test_a_line_total_that_does_not_divide_splits_into_exact_lines() -> None:
    # Given 3 units for 100.00 in all (33.333... each)
    document = marketplace_order(POLAND, "PLN", "100.00")

    order = reported(document, [item("100.00", "18.70", "PLN", quantity=3)])

    # Then two lines of the same Amazon item, one grosz apart, add up to 100.00
    assert [(line.quantity, line.unit_price.amount) for line in order.lines] == [
        (2, 3333),
        (1, 3334),
    ]
    assert {line.channel_line_id for line in order.lines} == {"05015851154158"}
    assert [line.line_no for line in order.lines] == [1, 2]
    assert sum(line.unit_price.amount * line.quantity for line in order.lines) == 10000


def test_shipping_and_promotions_reach_the_lines_and_totals() -> None:
    document = marketplace_order(POLAND, "PLN", "128.99")
    priced = item(
        "123.00",
        "23.00",
        "PLN",
        quantity=2,
        ShippingPrice=money("15.99", "PLN"),
        ShippingTax=money("2.99", "PLN"),
        PromotionDiscount=money("10.00", "PLN"),
        PromotionDiscountTax=money("1.87", "PLN"),
    )

    order = reported(document, [priced])

    line = order.lines[0]
    assert (line.quantity, line.unit_price.amount) == (2, 6150)
    assert line.discount == Money(amount=1000, currency="PLN")
    totals = order.totals
    assert totals.items.amount == 12300
    assert totals.shipping.amount == 1599
    assert totals.discount.amount == 1000
    assert totals.tax.amount == 2300 + 299 - 187
    assert totals.total.amount == 12899


def test_items_not_ordered_any_more_are_left_out() -> None:
    document = marketplace_order(POLAND, "PLN", "123.00")
    gone = item("0.00", "0.00", "PLN", quantity=0, OrderItemId="99999999999999")

    order = reported(document, [item("123.00", "23.00", "PLN"), gone])

    assert [line.channel_line_id for line in order.lines] == ["05015851154158"]


@pytest.mark.parametrize(
    "broken",
    [
        {"ItemPrice": {"CurrencyCode": "EUR", "Amount": "123.00"}},  # another currency
        {"ItemPrice": {"CurrencyCode": "PLN", "Amount": "12.345"}},  # below a grosz
        {"ItemPrice": {"CurrencyCode": "PLN", "Amount": "lots"}},
        {"ItemPrice": None},
        {"ItemTax": {"CurrencyCode": "PLN", "Amount": "500.00"}},  # more tax than price
        {"SellerSKU": "MUG\n350"},  # not a SKU
    ],
)
def test_an_order_that_does_not_add_up_is_malformed(broken: dict[str, Any]) -> None:
    document = marketplace_order(POLAND, "PLN", "123.00")

    with pytest.raises(MalformedWebhook, match="902-1845936-5435065"):
        event_of(document, [{**item("123.00", "23.00", "PLN"), **broken}])


def test_an_open_order_without_items_is_malformed() -> None:
    with pytest.raises(MalformedWebhook):
        event_of(marketplace_order(POLAND, "PLN", "123.00"), [])


def test_an_unknown_country_falls_back_to_the_nearest_known_rate() -> None:
    # 21 % (Spain, Belgium, the Netherlands...) for an order shipped to a country not listed
    assert vat_percent(
        Decimal("121.00"), Decimal("21.00"), includes_tax=True, countries=("XX",)
    ) == Decimal(21)
    # and a ratio no rate explains is kept as it is (two decimals)
    assert vat_percent(
        Decimal("100.00"), Decimal("40.00"), includes_tax=True, countries=("PL",)
    ) == Decimal("66.67")
    assert vat_percent(Decimal("10.00"), Decimal(0), includes_tax=True, countries=()) == 0
