"""The webhook Lambda handlers with API Gateway v2 events: the inbox contract."""

from __future__ import annotations

import json
import os
import time
from typing import Any

import boto3
import pytest

from shared import registry
from shared.inbox.store import InboxRepository, raw_body_of
from shared.platform.table import Table
from shared.providers.channels.shopify.simulator import ShopifySimulator
from shared.providers.channels.shopify.webhook import sign
from shared.providers.payments.stripe.simulator import StripeSimulator
from shared.providers.simulation import Line, SignedRequest
from tests.builders import FakeContext, HttpEvent, json_body

SHOPIFY_SECRET = "shpss_test_0123456789abcdef"
STRIPE_SECRET = "whsec_test_0123456789abcdef"
SECRET_ARNS: dict[str, str] = {}


@pytest.fixture
def webhook_env(table: Table, monkeypatch: pytest.MonkeyPatch) -> Table:
    secrets = boto3.client("secretsmanager")
    for provider, value in (("shopify", SHOPIFY_SECRET), ("stripe", STRIPE_SECRET)):
        arn = secrets.create_secret(
            Name=f"orderhub-test/{provider}", SecretString=json.dumps({"webhook_secret": value})
        )["ARN"]
        SECRET_ARNS[provider] = arn
    # deliver() points PROVIDER and SECRET_ID at the route's provider; monkeypatch restores.
    monkeypatch.setenv("PROVIDER", "shopify")
    monkeypatch.setenv("SECRET_ID", SECRET_ARNS["shopify"])
    boto3.client("s3").create_bucket(
        Bucket="documents", CreateBucketConfiguration={"LocationConstraint": "eu-central-1"}
    )
    monkeypatch.setenv("TABLE_NAME", table.name)
    monkeypatch.setenv("DOCUMENTS_BUCKET", "documents")
    return table


def deliver(request: SignedRequest, headers: dict[str, str] | None = None) -> dict[str, Any]:
    """As API Gateway would: to the function of the provider whose route was called."""
    from functions.webhooks.handler import lambda_handler

    provider = next(p for p in registry.webhook_providers() if p.path == request.path)
    os.environ["PROVIDER"] = provider.name
    os.environ["SECRET_ID"] = SECRET_ARNS[provider.name]
    event = HttpEvent("POST", request.path, request.body, headers or request.headers).build()
    response: dict[str, Any] = lambda_handler(event, FakeContext())
    return response


def inbox_count(table: Table) -> int:
    items = table.client.scan(TableName=table.name)["Items"]
    return sum(1 for item in items if item["SK"]["S"] == "INBOX")


def shopify_order_created(webhook_id: str = "wh-1") -> SignedRequest:
    simulator = ShopifySimulator(SHOPIFY_SECRET)
    order = simulator.order(5770010001, [Line("MUG-KRAKOW-350", "Kubek", 2, "49.00")])
    return simulator.webhook("orders/create", order, webhook_id=webhook_id)


def test_a_signed_order_is_stored_once_and_acknowledged(webhook_env: Table) -> None:
    request = shopify_order_created()

    first = deliver(request)
    second = deliver(request)

    assert (first["statusCode"], json_body(first)) == (
        200,
        {"status": "accepted", "event_id": "wh-1"},
    )
    assert json_body(second)["status"] == "duplicate"
    item = InboxRepository(webhook_env).get("shopify", "wh-1")
    assert item is not None and item["status"] == "accepted" and item["kind"] == "order"
    assert raw_body_of(item) == request.body  # the exact bytes, for audit and replay
    assert item["headers"]["X-Shopify-Topic"] == "orders/create"
    assert inbox_count(webhook_env) == 1


def test_a_bad_or_missing_signature_is_401_and_stores_nothing(webhook_env: Table) -> None:
    request = shopify_order_created()
    tampered = deliver(request.tampered())
    unsigned = deliver(
        request, {k: v for k, v in request.headers.items() if k != "X-Shopify-Hmac-Sha256"}
    )

    assert tampered["statusCode"] == 401
    assert json_body(tampered)["error"]["code"] == "invalid_signature"
    assert unsigned["statusCode"] == 401
    assert inbox_count(webhook_env) == 0


def test_a_malformed_body_is_400_with_a_json_error_and_stores_nothing(
    webhook_env: Table,
) -> None:
    simulator = ShopifySimulator(SHOPIFY_SECRET)
    headers = simulator.webhook("orders/create", {}).headers
    not_json = SignedRequest(
        simulator.path,
        b"{not json",
        {**headers, "X-Shopify-Hmac-Sha256": sign(b"{not json", SHOPIFY_SECRET)},
    )
    # signed, valid JSON, but not an order
    not_an_order = simulator.webhook("orders/create", {"id": "x", "line_items": "none"})

    for response in (deliver(not_json), deliver(not_an_order)):
        assert response["statusCode"] == 400
        assert json_body(response)["error"]["code"] == "malformed_body"
        assert json_body(response)["error"]["message"]
    assert inbox_count(webhook_env) == 0


def test_a_body_over_one_megabyte_is_413(webhook_env: Table) -> None:
    simulator = ShopifySimulator(SHOPIFY_SECRET)
    huge = simulator.webhook("orders/create", {"padding": "x" * (1024 * 1024)})
    response = deliver(huge)
    assert response["statusCode"] == 413
    assert json_body(response)["error"]["code"] == "payload_too_large"
    assert inbox_count(webhook_env) == 0


def test_an_unknown_topic_is_200_and_recorded_as_ignored(webhook_env: Table) -> None:
    simulator = ShopifySimulator(SHOPIFY_SECRET)
    response = deliver(simulator.webhook("products/update", {"id": 1}, webhook_id="wh-p"))
    assert (response["statusCode"], json_body(response)["status"]) == (200, "ignored")
    item = InboxRepository(webhook_env).get("shopify", "wh-p")
    assert item is not None and item["status"] == "ignored"
    assert item["ignored_reason"] == "topic products/update is not handled"


def test_an_unconfigured_provider_secret_refuses_instead_of_trusting(
    webhook_env: Table, monkeypatch: pytest.MonkeyPatch
) -> None:
    arn = boto3.client("secretsmanager").create_secret(
        Name="orderhub-test/empty", SecretString=json.dumps({"webhook_secret": ""})
    )["ARN"]
    monkeypatch.setitem(SECRET_ARNS, "shopify", arn)
    response = deliver(shopify_order_created())
    assert response["statusCode"] == 503
    assert json_body(response)["error"]["code"] == "provider_not_configured"
    assert inbox_count(webhook_env) == 0


def test_a_signed_stripe_payment_is_stored_and_a_stale_one_refused(webhook_env: Table) -> None:
    stripe = StripeSimulator(STRIPE_SECRET)
    intent = stripe.payment_intent("ord_1", 9800)

    fresh = deliver(stripe.event("payment_intent.succeeded", intent, event_id="evt_1"))
    stale = deliver(
        stripe.event(
            "payment_intent.succeeded", intent, event_id="evt_2", timestamp=int(time.time()) - 301
        )
    )

    assert (fresh["statusCode"], json_body(fresh)["status"]) == (200, "accepted")
    assert stale["statusCode"] == 401
    item = InboxRepository(webhook_env).get("stripe", "evt_1")
    assert item is not None and item["kind"] == "payment"
    assert InboxRepository(webhook_env).get("stripe", "evt_2") is None


def test_a_delivery_for_another_shop_is_refused_and_stores_nothing(
    webhook_env: Table, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN the Shopify secret names the shop this deployment serves
    secrets = boto3.client("secretsmanager")
    document = {"webhook_secret": SHOPIFY_SECRET, "shop_domain": "our-shop.myshopify.com"}
    arn = secrets.create_secret(Name="orderhub-test/shop", SecretString=json.dumps(document))
    monkeypatch.setitem(SECRET_ARNS, "shopify", arn["ARN"])
    simulator = ShopifySimulator(SHOPIFY_SECRET, shop_domain="other-shop.myshopify.com")
    order = simulator.order(5770010002, [Line("MUG-KRAKOW-350", "Kubek", 1, "49.00")])
    # WHEN another shop that installed the same app sends a correctly signed order
    response = deliver(simulator.webhook("orders/create", order))
    # THEN it is refused like an unsigned one, and nothing is stored
    assert response["statusCode"] == 401
    assert json_body(response)["error"]["code"] == "unknown_shop"
    assert inbox_count(webhook_env) == 0
    ours = ShopifySimulator(SHOPIFY_SECRET, shop_domain="our-shop.myshopify.com")
    assert deliver(ours.webhook("orders/create", order))["statusCode"] == 200


def test_a_second_large_body_under_the_same_webhook_id_cannot_replace_the_first(
    webhook_env: Table,
) -> None:
    # GIVEN a large order stored under webhook id W (its raw body goes to S3)
    import secrets as random_text

    simulator = ShopifySimulator(SHOPIFY_SECRET)

    def large(order_id: int) -> SignedRequest:
        order = simulator.order(order_id, [Line("MUG-KRAKOW-350", "Kubek", 1, "49.00")])
        order["note"] = random_text.token_hex(100_000)  # incompressible: past the inline limit
        return simulator.webhook("orders/create", order, webhook_id="W")

    first, second = large(5770020001), large(5770020002)
    assert json_body(deliver(first))["status"] == "accepted"
    # WHEN another genuinely signed body arrives under the same (unsigned) webhook id
    assert json_body(deliver(second))["status"] == "duplicate"
    # THEN the stored bytes are still the first delivery's
    item = InboxRepository(webhook_env).get("shopify", "W")
    assert item is not None and "raw_blob_key" in item

    def blob(key: str) -> bytes:
        body: bytes = boto3.client("s3").get_object(Bucket="documents", Key=key)["Body"].read()
        return body

    assert raw_body_of(item, blob) == first.body
