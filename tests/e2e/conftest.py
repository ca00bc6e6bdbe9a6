"""End to end: only HTTP, against the embedded stack, signed like the providers sign."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from infra.local.stack import EmbeddedStack
from shared.providers.channels.shopify.simulator import ShopifySimulator
from shared.providers.payments.stripe.simulator import StripeSimulator


@pytest.fixture(scope="session")
def http(embedded: EmbeddedStack) -> Iterator[httpx.Client]:
    with httpx.Client(
        base_url=embedded.url, timeout=20, headers={"Authorization": f"Bearer {embedded.api_key}"}
    ) as client:
        yield client


@pytest.fixture(scope="session")
def shopify(embedded: EmbeddedStack) -> ShopifySimulator:
    simulator: ShopifySimulator = embedded.simulator("shopify")
    return simulator


@pytest.fixture(scope="session")
def stripe(embedded: EmbeddedStack) -> StripeSimulator:
    simulator: StripeSimulator = embedded.simulator("stripe")
    return simulator
