"""The ingress Lambda handlers: webhooks with API Gateway v2 events, and the poll and queue
functions (with the fictional providers of tests/fictional/acme): one inbox contract."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from typing import Any, cast

import boto3
import pytest

from shared import registry
from shared.inbox.store import InboxRepository, raw_body_of
from shared.platform.table import Table
from shared.providers.channels.shopify.simulator import ShopifySimulator
from shared.providers.channels.shopify.webhook import sign
from shared.providers.payments.stripe.simulator import StripeSimulator
from shared.providers.simulation import Line, SignedRequest
from shared.registry import EXTRA_PROVIDERS_ENV
from tests.builders import FakeContext, HttpEvent, json_body
from tests.fictional import acme
from tests.fictional.acme.simulator import AcmeMarketApi, AcmeParcelSimulator

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
    response: dict[str, Any] = lambda_handler(event, cast(Any, FakeContext()))
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


# -- the poll and queue functions ----------------------------------------------------------------
ACME_TOKEN = "acme-market-test-token"


@pytest.fixture
def acme_env(webhook_env: Table, monkeypatch: pytest.MonkeyPatch) -> Table:
    """The fictional providers in the registry (as ORDERHUB_EXTRA_PROVIDERS adds them)."""
    monkeypatch.setenv(EXTRA_PROVIDERS_ENV, acme.REFERENCE)
    monkeypatch.delenv("SECRET_ID")
    return webhook_env


@pytest.fixture
def market(acme_env: Table, monkeypatch: pytest.MonkeyPatch) -> Iterator[AcmeMarketApi]:
    """AcmeMarket's API served on 127.0.0.1; the poll function's secret points at it."""
    api = AcmeMarketApi(ACME_TOKEN)
    url = api.start()
    arn = boto3.client("secretsmanager").create_secret(
        Name="orderhub-test/acmemarket",
        SecretString=json.dumps({"api_token": ACME_TOKEN, "api_url": url}),
    )["ARN"]
    monkeypatch.setenv("PROVIDER", "acmemarket")
    monkeypatch.setenv("SECRET_ID", arn)
    yield api
    api.stop()


def run_poll() -> dict[str, Any]:
    from functions.pollers.poll import lambda_handler

    scheduled = {"detail-type": "Scheduled Event", "source": "aws.events", "detail": {}}
    result: dict[str, Any] = lambda_handler(scheduled, FakeContext())
    return result


def inbox_of(table: Table, source: str) -> dict[str, str]:
    items = table.client.scan(TableName=table.name)["Items"]
    prefix = f"INBOX#{source}#"
    return {
        item["event_id"]["S"]: item["status"]["S"]
        for item in items
        if item["PK"]["S"].startswith(prefix)
    }


def test_a_poll_stores_each_new_event_once_and_resumes_from_its_cursor(
    market: AcmeMarketApi, acme_env: Table
) -> None:
    # GIVEN two orders in the journal, one of them journalled twice
    first, second = market.place_order("A-1"), market.place_order("A-2")
    market.repeat(first)
    # WHEN the poll runs, a third order arrives, and the poll runs again
    report = run_poll()
    third = market.place_order("A-3")
    again = run_poll()
    # THEN every event is stored once; the second run started where the first stopped
    assert report["receipts"] == {"ignored": 2, "duplicate": 1}
    assert report["cursor"] == "3"
    assert again["receipts"] == {"duplicate": 1, "ignored": 1}  # `since` is inclusive
    assert inbox_of(acme_env, "acmemarket") == {
        first: "ignored",
        second: "ignored",
        third: "ignored",
    }
    assert market.requests[-1] == "/v1/order-events?limit=100&since=3"
    item = InboxRepository(acme_env).get("acmemarket", third)
    assert item is not None
    assert json.loads(raw_body_of(item) or b"")["order"] == {"id": "A-3", "revision": 1}
    assert item["headers"]["Acme-Event-Sequence"] == "4"  # kept for audit


def test_a_malformed_event_is_kept_as_malformed_and_does_not_stop_the_poll(
    market: AcmeMarketApi, acme_env: Table
) -> None:
    # GIVEN an event the adapter cannot map, then a good one
    market.append({"id": "evt-broken", "type": "ORDER_PLACED"})  # no order, no time
    good = market.place_order("A-9")
    # WHEN the poll runs
    report = run_poll()
    # THEN the broken one is recorded with its reason and bytes, and the poll went past it
    assert report["receipts"] == {"malformed": 1, "ignored": 1}
    assert inbox_of(acme_env, "acmemarket") == {"evt-broken": "malformed", good: "ignored"}
    item = InboxRepository(acme_env).get("acmemarket", "evt-broken")
    assert item is not None
    assert "order: Field required" in item["ignored_reason"]
    assert json.loads(raw_body_of(item) or b"")["id"] == "evt-broken"


def test_a_run_that_fails_midway_leaves_the_cursor_where_its_items_are_stored(
    market: AcmeMarketApi, acme_env: Table, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.fictional.acme.poll import AcmeMarketJournal

    # GIVEN three events, fetched two at a time, and an inbox write that fails for the third
    monkeypatch.setattr(AcmeMarketJournal, "page_size", 2)
    events = [market.place_order(f"A-{n}") for n in range(3)]
    original = InboxRepository.record

    def failing(self: InboxRepository, entry: Any) -> bool:
        if entry.event_id == events[2]:
            raise RuntimeError("DynamoDB is unavailable")
        return original(self, entry)

    monkeypatch.setattr(InboxRepository, "record", failing)
    # WHEN the run fails on its second page
    with pytest.raises(RuntimeError):
        run_poll()
    # THEN the cursor is after the first page only: the next run fetches the third again
    assert inbox_of(acme_env, "acmemarket") == dict.fromkeys(events[:2], "ignored")
    monkeypatch.setattr(InboxRepository, "record", original)
    report = run_poll()
    assert report["receipts"] == {"duplicate": 1, "ignored": 1}
    assert inbox_of(acme_env, "acmemarket") == dict.fromkeys(events, "ignored")


def test_a_poll_refused_by_the_provider_fails_and_stores_nothing(
    market: AcmeMarketApi, acme_env: Table, monkeypatch: pytest.MonkeyPatch
) -> None:
    import httpx

    arn = boto3.client("secretsmanager").create_secret(
        Name="orderhub-test/acmemarket-revoked",
        SecretString=json.dumps({"api_token": "revoked", "api_url": market.start()}),
    )["ARN"]
    monkeypatch.setenv("SECRET_ID", arn)
    market.place_order("A-1")
    with pytest.raises(httpx.HTTPStatusError, match="401"):
        run_poll()  # EventBridge retries it, then dead-letters the event (alarmed)
    assert inbox_of(acme_env, "acmemarket") == {}


def test_a_poll_provider_without_credentials_is_skipped_not_failed(
    market: AcmeMarketApi, acme_env: Table, monkeypatch: pytest.MonkeyPatch
) -> None:
    arn = boto3.client("secretsmanager").create_secret(
        Name="orderhub-test/acmemarket-unset", SecretString=json.dumps({"api_token": ""})
    )["ARN"]
    monkeypatch.setenv("SECRET_ID", arn)
    assert run_poll()["configured"] is False
    assert market.requests == []


def sqs_event(*bodies: str) -> dict[str, Any]:
    """What Lambda's SQS event source hands the consumer."""
    return {
        "Records": [
            {
                "messageId": f"m-{index}",
                "receiptHandle": f"r-{index}",
                "body": body,
                "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "1764590400000"},
                "messageAttributes": {},
                "md5OfBody": "",
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:eu-central-1:123456789012:acmeparcel",
                "awsRegion": "eu-central-1",
            }
            for index, body in enumerate(bodies)
        ]
    }


def consume(event: dict[str, Any]) -> dict[str, Any]:
    from functions.queues.handler import lambda_handler

    os.environ["PROVIDER"] = "acmeparcel"
    result: dict[str, Any] = lambda_handler(event, FakeContext())
    return result


def test_queue_notifications_are_stored_once_and_garbage_is_kept_not_retried(
    acme_env: Table,
) -> None:
    parcel = AcmeParcelSimulator()
    notification = parcel.notification("TRK-1", "IN_TRANSIT", notification_id="n-1")
    # WHEN the same notification comes in two messages, with one that is not a notification
    result = consume(sqs_event(notification, notification, "<xml/>"))
    # THEN nothing is retried; the notification is stored once, the garbage as malformed
    assert result == {"batchItemFailures": []}
    assert inbox_of(acme_env, "acmeparcel") == {"n-1": "ignored", "sqs-m-2": "malformed"}
    item = InboxRepository(acme_env).get("acmeparcel", "n-1")
    assert item is not None
    assert raw_body_of(item) == notification.encode()
    assert item["headers"]["X-Sqs-Message-Id"] == "m-0"


def test_a_message_that_could_not_be_stored_is_the_only_one_retried(
    acme_env: Table, monkeypatch: pytest.MonkeyPatch
) -> None:
    parcel = AcmeParcelSimulator()
    bodies = [
        parcel.notification("TRK-2", "IN_TRANSIT", notification_id=f"n-{n}") for n in range(3)
    ]
    original = InboxRepository.record

    def failing(self: InboxRepository, entry: Any) -> bool:
        if entry.event_id == "n-1":
            raise RuntimeError("DynamoDB is unavailable")
        return original(self, entry)

    monkeypatch.setattr(InboxRepository, "record", failing)
    result = consume(sqs_event(*bodies))
    # SQS makes m-1 visible again (and dead-letters it after maxReceiveCount); the rest is done
    assert result == {"batchItemFailures": [{"itemIdentifier": "m-1"}]}
    assert inbox_of(acme_env, "acmeparcel") == {"n-0": "ignored", "n-2": "ignored"}
