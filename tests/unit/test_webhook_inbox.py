"""Receiving a webhook: size first, then authenticity, then one inbox write (a fake inbox here)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import pytest

from shared.inbox.contract import (
    Headers,
    ParsedWebhook,
    PayloadTooLarge,
    ProviderNotConfigured,
    SignatureMismatch,
    WebhookRequest,
)
from shared.inbox.service import MAX_BODY_BYTES, Receipt, authenticate, record
from shared.inbox.store import InboxEntry, InboxStatus
from shared.providers.channels.shopify.webhook import ShopifyWebhooks, sign

SHOPIFY_SECRET = "s3cret"
RECEIVED_AT = datetime(2024, 5, 1, 12, tzinfo=UTC)


class FakeInbox:
    """Stores each event id once, like the conditional put; False for a repeat."""

    def __init__(self) -> None:
        self.entries: list[InboxEntry] = []

    def record(self, entry: InboxEntry) -> bool:
        if any((e.source, e.event_id) == (entry.source, entry.event_id) for e in self.entries):
            return False
        self.entries.append(entry)
        return True


class SpyAdapter:
    """An adapter that only records what was asked of it."""

    source = "spy"

    def __init__(self) -> None:
        self.verified: list[bytes] = []

    def verify(self, request: WebhookRequest, secrets: Mapping[str, Any]) -> None:
        self.verified.append(request.raw_body)

    def parse(self, request: WebhookRequest) -> ParsedWebhook:
        raise AssertionError("parse is not part of authenticate")


def request(body: bytes, headers: dict[str, str] | None = None) -> WebhookRequest:
    return WebhookRequest(Headers(headers or {}), raw_body=body, received_at=RECEIVED_AT)


def shopify_request(
    body: bytes, topic: str, webhook_id: str = "wh-1", secret: str = SHOPIFY_SECRET
) -> WebhookRequest:
    headers = {
        "X-Shopify-Topic": topic,
        "X-Shopify-Webhook-Id": webhook_id,
        "X-Shopify-Hmac-Sha256": sign(body, secret),
    }
    return request(body, headers)


def receive(delivery: WebhookRequest, inbox: FakeInbox) -> Receipt:
    """What the webhook route does: authenticate, then record."""
    adapter = ShopifyWebhooks()
    authenticate(adapter, delivery, {"webhook_secret": SHOPIFY_SECRET})
    return record(adapter, delivery, inbox).receipt


def test_an_oversized_body_is_refused_before_any_signature_work() -> None:
    adapter = SpyAdapter()
    with pytest.raises(PayloadTooLarge) as raised:
        authenticate(adapter, request(b"x" * (MAX_BODY_BYTES + 1)), {"webhook_secret": "s"})
    assert raised.value.status_code == 413
    assert adapter.verified == []


def test_a_body_of_exactly_one_mebibyte_goes_on_to_verification() -> None:
    adapter = SpyAdapter()
    authenticate(adapter, request(b"x" * MAX_BODY_BYTES), {"webhook_secret": "s"})
    assert len(adapter.verified) == 1
    assert MAX_BODY_BYTES == 1024 * 1024


@pytest.mark.parametrize("secrets", [{"webhook_secret": ""}, {}], ids=["empty", "absent"])
def test_an_unconfigured_secret_is_refused_not_verified_against(secrets: dict[str, str]) -> None:
    adapter = SpyAdapter()
    with pytest.raises(ProviderNotConfigured, match="spy is not configured") as raised:
        authenticate(adapter, request(b"{}"), secrets)
    assert raised.value.status_code == 503
    assert adapter.verified == []


def test_the_official_shopify_vector_authenticates(shopify_vector: dict[str, Any]) -> None:
    headers = {
        **shopify_vector["headers"],
        "X-Shopify-Hmac-Sha256": shopify_vector["x_shopify_hmac_sha256"],
    }
    authenticate(
        ShopifyWebhooks(),
        request(shopify_vector["body"], headers),
        {"webhook_secret": "test_secret_key"},
    )


def test_a_bad_signature_is_refused_and_nothing_is_stored(shopify_order: dict[str, Any]) -> None:
    # Given an orders/create signed with another secret
    inbox = FakeInbox()
    delivery = shopify_request(json.dumps(shopify_order).encode(), "orders/create", secret="wrong")
    # When the handler's two steps run, Then authentication stops it before the inbox
    with pytest.raises(SignatureMismatch):
        receive(delivery, inbox)
    assert inbox.entries == []


def test_an_order_is_accepted_and_stored_with_its_canonical_envelope(
    shopify_order: dict[str, Any],
) -> None:
    inbox = FakeInbox()
    body = json.dumps(shopify_order).encode()
    delivery = shopify_request(body, "orders/create")
    authenticate(ShopifyWebhooks(), delivery, {"webhook_secret": SHOPIFY_SECRET})
    receipt = record(ShopifyWebhooks(), delivery, inbox)
    assert (receipt.receipt, receipt.event_id, receipt.topic) == (
        Receipt.ACCEPTED,
        "wh-1",
        "orders/create",
    )
    (entry,) = inbox.entries
    assert (entry.source, entry.status, entry.kind) == ("shopify", InboxStatus.ACCEPTED, "order")
    assert entry.raw_body == body  # the exact bytes, for audit and replays
    assert entry.received_at == RECEIVED_AT
    assert entry.ignored_reason is None
    assert entry.headers["X-Shopify-Topic"] == "orders/create"


def test_a_redelivery_is_a_duplicate_and_stores_nothing_new(shopify_order: dict[str, Any]) -> None:
    inbox = FakeInbox()
    delivery = shopify_request(json.dumps(shopify_order).encode(), "orders/create")
    first = record(ShopifyWebhooks(), delivery, inbox)
    second = record(ShopifyWebhooks(), delivery, inbox)
    assert (first.receipt, second.receipt) == (Receipt.ACCEPTED, Receipt.DUPLICATE)
    assert second.event_id == "wh-1"
    assert len(inbox.entries) == 1


def test_an_unhandled_topic_is_stored_as_ignored(shopify_vector: dict[str, Any]) -> None:
    inbox = FakeInbox()
    receipt = record(
        ShopifyWebhooks(),
        request(shopify_vector["body"], shopify_vector["headers"]),
        inbox,
    )
    assert (receipt.receipt, receipt.event_id, receipt.topic) == (
        Receipt.IGNORED,
        "123456789",
        "products/create",
    )
    (entry,) = inbox.entries
    assert entry.status is InboxStatus.IGNORED
    assert entry.envelope is None
    assert entry.kind is None
    assert entry.ignored_reason == "topic products/create is not handled"
