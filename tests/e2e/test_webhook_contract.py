"""What a provider (or an attacker) sees at the webhook URLs, over HTTP."""

from __future__ import annotations

import httpx

from infra.local.stack import EmbeddedStack
from shared.providers.channels.shopify.simulator import ShopifySimulator
from shared.providers.payments.stripe.simulator import StripeSimulator
from shared.providers.simulation import Line, SignedRequest
from tests.conftest import eventually


def test_duplicates_tampering_and_bad_bodies(
    http: httpx.Client, shopify: ShopifySimulator, embedded: EmbeddedStack
) -> None:
    line = Line("MUG-KRAKOW-350", "Kubek", 1, "49.00")
    valid = shopify.webhook(
        "orders/create", shopify.order(8900000002, [line]), webhook_id="e2e-contract-ok"
    )
    first, again = valid.send(http), valid.send(http)
    assert (first.json()["status"], again.json()["status"]) == ("accepted", "duplicate")

    # An order without lines is not an order: 400, named, and nothing stored.
    empty = shopify.webhook("orders/create", shopify.order(8900000001, []))
    response = empty.send(http)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "malformed_body"
    assert "line" in response.json()["error"]["message"]

    tampered = shopify.webhook("orders/create", {"id": 1}).tampered().send(http)
    assert tampered.status_code == 401
    assert tampered.json() == {
        "error": {
            "code": "invalid_signature",
            "message": "X-Shopify-Hmac-Sha256 does not match the body",
        }
    }

    unsigned = SignedRequest(
        valid.path, valid.body, {"X-Shopify-Topic": "orders/create", "X-Shopify-Webhook-Id": "u1"}
    )
    assert unsigned.send(http).status_code == 401

    huge = shopify.webhook(
        "orders/create", shopify.order(8900000003, [line]) | {"note": "x" * (1024 * 1024)}
    )
    assert huge.send(http).status_code == 413

    def stored(external_id: int) -> list[object]:
        listing = http.get(
            "/api/v1/orders", params={"channel": "shopify", "external_id": str(external_id)}
        )
        return list(listing.json()["items"])

    eventually(lambda: stored(8900000002))  # the accepted one arrives...
    assert stored(8900000001) == [] and stored(8900000003) == []  # ...the refused ones never


def test_stripe_signatures_are_checked_with_the_right_secret(
    http: httpx.Client,
    stripe: StripeSimulator,
) -> None:
    intent = StripeSimulator.payment_intent("ord_x", 100)
    wrong_secret = StripeSimulator("whsec_wrong").event("payment_intent.succeeded", intent)
    assert wrong_secret.send(http).status_code == 401
    unknown_type = stripe.event("customer.created", {"id": "cus_1", "object": "customer"})
    response = unknown_type.send(http)
    assert (response.status_code, response.json()["status"]) == (200, "ignored")


def test_unknown_routes_and_methods_are_404(http: httpx.Client) -> None:
    assert http.post("/webhooks/orders/unknown-shop", content=b"{}").status_code == 404
    assert http.get("/webhooks/payments/stripe").status_code == 404


def test_the_api_refuses_requests_without_a_valid_key(embedded: EmbeddedStack) -> None:
    with httpx.Client(base_url=embedded.url) as anonymous:
        assert anonymous.get("/api/v1/orders").status_code == 401
        wrong = anonymous.get("/api/v1/orders", headers={"Authorization": "Bearer ohk_nope"})
        assert wrong.status_code == 401
        assert wrong.json()["error"]["code"] == "unauthorized"
