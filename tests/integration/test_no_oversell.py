"""Zero oversell under concurrent orders for the same last units.

moto's DynamoDB is not atomic under threads, so the embedded stack serialises its request
handling (as real DynamoDB's conditional writes are atomic); this test uses the same guard and
checks OUR logic: allocation, conditional transactions, retries on contention.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

from infra.local.stack import _serialise_dynamodb
from shared.platform.clock import utc_now
from tests.builders import an_order
from tests.integration.conftest import Services

SKU = "POSTER-A2-TATRY"


def test_concurrent_orders_never_reserve_more_than_there_is(services: Services) -> None:
    patches: list[Any] = []
    _serialise_dynamodb(patches)
    try:
        services.stock.set_on_hand(SKU, "KRK-1", 3, at=utc_now())
        services.stock.set_on_hand(SKU, "WAW-1", 2, at=utc_now())
        order_ids = [
            services.intake.receive(an_order((SKU, 1, 5900)), actor="t", event_id=str(i))
            for i in range(12)
        ]

        with ThreadPoolExecutor(max_workers=6) as pool:
            outcomes = list(pool.map(services.fulfilment.reserve_stock, order_ids))
    finally:
        for patch in patches:
            patch.stop()

    assert sorted(outcomes).count("awaiting_payment") == 5
    assert outcomes.count("backordered") == 7
    levels = services.stock.levels(SKU)
    assert sum(level.reserved for level in levels) == 5
    assert all(level.available == 0 for level in levels)
