"""Which adapter reads each source's stored deliveries (the stream router derives the
canonical event from the raw body with the same adapter the webhook used)."""

from __future__ import annotations

from collections.abc import Callable

from shared.integrations.webhooks import WebhookAdapter


def _shopify() -> WebhookAdapter:
    from shared.integrations.shopify import ShopifyWebhooks

    return ShopifyWebhooks()


def _stripe() -> WebhookAdapter:
    from shared.integrations.stripe import StripeWebhooks

    return StripeWebhooks()


ADAPTERS: dict[str, Callable[[], WebhookAdapter]] = {"shopify": _shopify, "stripe": _stripe}
_built: dict[str, WebhookAdapter] = {}


class UnknownSource(LookupError):
    """An inbox item names a source no adapter reads: a bug, never silently skipped."""


def adapter_for(source: str) -> WebhookAdapter:
    found = _built.get(source)
    if found is None:
        if source not in ADAPTERS:
            raise UnknownSource(f"no adapter reads deliveries from {source!r}")
        found = _built[source] = ADAPTERS[source]()
    return found
