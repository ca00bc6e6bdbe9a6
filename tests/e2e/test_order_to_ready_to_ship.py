"""A shop's day over HTTP: orders from Shopify, payments from Stripe, the API to look."""

from __future__ import annotations

import itertools
from typing import Any

import httpx

from shared.providers.channels.shopify.simulator import ShopifySimulator
from shared.providers.payments.stripe.simulator import StripeSimulator
from shared.providers.simulation import Line
from tests.conftest import eventually

_ids = itertools.count(8800000001)
TEE = Line("TEE-ORGANIC-M", "Koszulka organiczna M", 1, "89.00")


def place(
    http: httpx.Client, shopify: ShopifySimulator, *lines: Line, cod: bool = False
) -> dict[str, Any]:
    """Send orders/create and return the stored order once its workflow has decided."""
    external_id = next(_ids)
    sent = shopify.webhook(
        "orders/create", shopify.order(external_id, list(lines), cash_on_delivery=cod)
    )
    assert sent.send(http).status_code == 200
    listing = eventually(
        lambda: http.get(
            "/api/v1/orders", params={"channel": "shopify", "external_id": str(external_id)}
        ).json()["items"]
    )
    order_id = listing[0]["order_id"]
    return eventually(
        lambda: http.get(f"/api/v1/orders/{order_id}").json(),
        lambda o: o["status"] != "received",
    )


def order(http: httpx.Client, order_id: str) -> dict[str, Any]:
    return http.get(f"/api/v1/orders/{order_id}").json()  # type: ignore[no-any-return]


def test_a_shopify_order_paid_by_blik_through_stripe_is_ready_to_ship(
    http: httpx.Client,
    shopify: ShopifySimulator,
    stripe: StripeSimulator,
) -> None:
    before = http.get("/api/v1/stock/TEE-ORGANIC-M").json()["reserved"]
    placed = place(http, shopify, TEE)
    assert placed["status"] == "awaiting_payment"
    assert http.get("/api/v1/stock/TEE-ORGANIC-M").json()["reserved"] == before + 1
    total = placed["totals"]["total"]
    assert total == {"amount": 8900 + 1299, "currency": "PLN"}  # the tee + InPost shipping

    intent = stripe.payment_intent(placed["order_id"], total["amount"], "pln", method="blik")
    response = stripe.event("payment_intent.succeeded", intent).send(http)

    assert response.status_code == 200
    done = eventually(
        lambda: order(http, placed["order_id"]), lambda o: o["status"] == "ready_to_ship"
    )
    assert done["payment"]["status"] == "paid"
    assert done["payment"]["payments"][0]["method"] == "blik"
    assert [e["type"] for e in done["timeline"]] == [
        "OrderReceived",
        "StockReserved",
        "OrderPaid",
        "OrderReadyToShip",
    ]


def test_a_completed_checkout_session_pays_its_order(
    http: httpx.Client,
    shopify: ShopifySimulator,
    stripe: StripeSimulator,
) -> None:
    placed = place(http, shopify, TEE)
    total = placed["totals"]["total"]["amount"]
    session = {
        "id": "cs_test_e2e",
        "object": "checkout.session",
        "mode": "payment",
        "client_reference_id": placed["order_id"],
        "amount_total": total,
        "currency": "pln",
        "payment_status": "paid",
        "payment_intent": "pi_from_checkout",
        "status": "complete",
        "payment_method_types": ["p24"],
        "metadata": {},
    }

    stripe.event("checkout.session.completed", session).send(http)

    done = eventually(
        lambda: order(http, placed["order_id"]), lambda o: o["status"] == "ready_to_ship"
    )
    assert done["payment"]["payments"][0]["payment_id"] == "pi_from_checkout"


def test_a_payment_in_another_currency_leaves_the_order_unpaid_and_flagged(
    http: httpx.Client,
    shopify: ShopifySimulator,
    stripe: StripeSimulator,
) -> None:
    placed = place(http, shopify, TEE)
    total = placed["totals"]["total"]["amount"]
    intent = stripe.payment_intent(placed["order_id"], total, "eur")

    stripe.event("payment_intent.succeeded", intent).send(http)

    rejected = eventually(
        lambda: order(http, placed["order_id"]),
        lambda o: o["timeline"][-1]["type"] == "OrderNeedsAttention",
    )
    assert rejected["status"] == "awaiting_payment"
    assert rejected["payment"]["status"] == "rejected"
    # the rejection, and in the same change the request to give the money back
    assert [e["type"] for e in rejected["timeline"][-2:]] == [
        "PaymentRejected",
        "OrderNeedsAttention",
    ]
    assert rejected["timeline"][-1]["detail"]["reason"] == "currency_mismatch"
    assert rejected["attention"] == "currency_mismatch"


def test_a_payment_short_of_the_total_counts_but_does_not_pay(
    http: httpx.Client,
    shopify: ShopifySimulator,
    stripe: StripeSimulator,
) -> None:
    placed = place(http, shopify, TEE)
    intent = stripe.payment_intent(placed["order_id"], 100, "pln")

    stripe.event("payment_intent.succeeded", intent).send(http)

    part = eventually(
        lambda: order(http, placed["order_id"]),
        lambda o: o["payment"]["status"] == "partially_paid",
    )
    assert part["status"] == "awaiting_payment"
    assert part["payment"]["paid"]["amount"] == 100
    assert part["payment"]["outstanding"]["amount"] == placed["totals"]["total"]["amount"] - 100


def test_cash_on_delivery_needs_no_payment(http: httpx.Client, shopify: ShopifySimulator) -> None:
    placed = place(http, shopify, TEE, cod=True)
    assert placed["status"] == "ready_to_ship"
    assert placed["payment_method"] == "cash_on_delivery"
    assert placed["payment"]["status"] == "not_required"


def test_stock_and_order_listing_through_the_api(
    http: httpx.Client, shopify: ShopifySimulator
) -> None:
    put = http.put("/api/v1/stock/E2E-NEW-SKU", json={"warehouse": "GDA-1", "on_hand": 4})
    assert put.status_code == 200
    assert put.json()["available"] == 4
    placed = place(http, shopify, Line("E2E-NEW-SKU", "Nowość", 3, "10.00"))
    assert http.get("/api/v1/stock/E2E-NEW-SKU").json()["warehouses"] == [
        {"warehouse": "GDA-1", "on_hand": 4, "reserved": 3, "available": 1}
    ]

    today = placed["created_at"][:10]
    waiting = http.get(
        "/api/v1/orders",
        params={"status": "awaiting_payment", "created_from": today, "created_to": today},
    ).json()
    assert placed["order_id"] in [i["order_id"] for i in waiting["items"]]
    assert all(i["status"] == "awaiting_payment" for i in waiting["items"])
    yesterday = http.get("/api/v1/orders", params={"created_to": "2000-01-01"}).json()
    assert yesterday["items"] == []
