"""Repositories against moto: conditional writes, transactions, listing, API keys."""

from __future__ import annotations

import os
import uuid
import zlib
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.inbox.events import InboundEnvelope, OrderReported
from shared.inbox.store import InboxEntry, InboxRepository, InboxStatus, envelope_of, raw_body_of
from shared.kernel.errors import ConcurrentModification, InvalidStockLevel
from shared.orders.domain import OrderStatus
from shared.orders.store import Change, OrderRepository
from shared.payments.domain import STATUS_RANK, PaymentStatus
from shared.payments.store import PaymentRecords
from shared.platform.api_keys import ApiKeyRepository, generate_key
from shared.platform.clock import utc_now
from shared.platform.table import Table
from shared.stock.events import OrderBackordered, StockReserved
from shared.stock.store import StockRepository
from tests.builders import a_payment, an_order


def an_entry(event_id: str, body: bytes = b'{"id": 1}') -> InboxEntry:
    return InboxEntry(
        source="shopify",
        event_id=event_id,
        topic="orders/create",
        received_at=utc_now(),
        status=InboxStatus.IGNORED,
        raw_body=body,
    )


def test_the_inbox_stores_a_delivery_once(table: Table) -> None:
    inbox = InboxRepository(table)
    assert inbox.record(an_entry("wh-1")) is True
    assert inbox.record(an_entry("wh-1", body=b"changed")) is False
    item = inbox.get("shopify", "wh-1")
    assert item is not None and raw_body_of(item) == b'{"id": 1}'
    assert item["expires_at"] > int(utc_now().timestamp()) + 80 * 24 * 3600


def test_large_raw_bodies_go_to_the_blob_store(table: Table) -> None:
    written: dict[str, bytes] = {}
    inbox = InboxRepository(table, blob_writer=lambda key, data: written.__setitem__(key, data))
    body = os.urandom(512 * 1024)  # random bytes do not compress
    assert inbox.record(an_entry("wh-big", body))
    item = inbox.get("shopify", "wh-big")
    assert item is not None and "raw_zlib" not in item
    assert zlib.decompress(written[item["raw_blob_key"]]) == body


def test_a_very_large_order_is_stored_compressed_and_read_back(table: Table) -> None:
    inbox = InboxRepository(table)
    lines = [(f"SKU-{n:04d}", 1, 100 + n) for n in range(1, 800)]
    envelope = InboundEnvelope(event=OrderReported(order=an_order(*lines)))
    entry = InboxEntry(
        source="shopify",
        event_id="wh-huge",
        topic="orders/create",
        received_at=utc_now(),
        status=InboxStatus.ACCEPTED,
        raw_body=b"{}",
        envelope=envelope,
    )

    assert inbox.record(entry)

    item = inbox.get("shopify", "wh-huge")
    assert item is not None and "envelope" not in item
    assert envelope_of(item) == envelope


def test_a_stale_version_cannot_overwrite_a_newer_change(table: Table) -> None:
    orders = OrderRepository(table)
    order_id = orders.create("ord_1", an_order(), received_at=utc_now(), actor="test")
    stale = orders.get(order_id)
    assert stale is not None
    orders.apply(
        stale,
        Change(
            event=StockReserved(reservations=[]),
            actor="a",
            at=utc_now(),
            to_status=OrderStatus.AWAITING_PAYMENT,
        ),
    )

    with pytest.raises(ConcurrentModification):
        orders.apply(
            stale,
            Change(
                event=OrderBackordered(reason="b", shortages=[]),
                actor="b",
                at=utc_now(),
                to_status=OrderStatus.BACKORDERED,
            ),
        )
    current = orders.get(order_id)
    assert current is not None
    assert (current.status, current.version) == (OrderStatus.AWAITING_PAYMENT, 2)


def test_a_second_create_returns_the_order_the_channel_key_holds(table: Table) -> None:
    orders = OrderRepository(table)
    order = an_order()
    assert orders.create("ord_1", order, received_at=utc_now(), actor="t") == "ord_1"
    assert orders.create("ord_2", order, received_at=utc_now(), actor="t") == "ord_1"
    assert orders.get("ord_2") is None


def test_listing_by_status_and_date_newest_first_with_pages(table: Table) -> None:
    orders = OrderRepository(table)
    base = datetime(2026, 11, 20, 12, tzinfo=UTC)
    for day in range(5):
        orders.create(
            f"ord_{day}",
            an_order(placed_at=base + timedelta(days=day)),
            received_at=utc_now(),
            actor="t",
        )

    first, cursor = orders.list_page(
        status=OrderStatus.RECEIVED,
        created_from=None,
        created_to=None,
        filters={},
        limit=2,
        start_key=None,
    )
    second, _ = orders.list_page(
        status=OrderStatus.RECEIVED,
        created_from=None,
        created_to=None,
        filters={},
        limit=2,
        start_key=cursor,
    )
    assert [i["order_id"] for i in first + second] == ["ord_4", "ord_3", "ord_2", "ord_1"]

    ranged, _ = orders.list_page(
        status=None,
        created_from="2026-11-21T00:00:00.000Z",
        created_to="2026-11-22T23:59:59.999Z",
        filters={},
        limit=10,
        start_key=None,
    )
    assert [i["order_id"] for i in ranged] == ["ord_2", "ord_1"]
    assert set(ranged[0]) >= {"order_id", "status", "channel", "external_id", "total"}


def test_counting_stock_keeps_reservations(table: Table) -> None:
    stock = StockRepository(table)
    orders = OrderRepository(table)
    stock.set_on_hand("MUG", "WAW-1", 5, at=utc_now())
    txn = table.transaction()
    from shared.stock.domain import Allocation

    stock.reserve(txn, "ord_1", Allocation(sku="MUG", warehouse="WAW-1", quantity=2), at=utc_now())
    txn.commit()

    level = stock.set_on_hand("MUG", "WAW-1", 3, at=utc_now())

    assert (level.on_hand, level.reserved, level.available) == (3, 2, 1)
    assert orders.get("ord_1") is None  # the reservation touched stock only
    with pytest.raises(InvalidStockLevel):
        stock.set_on_hand("MUG", "WAW-1", -1, at=utc_now())


def test_a_reservation_beyond_availability_is_refused_atomically(table: Table) -> None:
    from shared.platform.table import TransactionConflict
    from shared.stock.domain import Allocation

    stock = StockRepository(table)
    stock.set_on_hand("MUG", "WAW-1", 1, at=utc_now())
    stock.set_on_hand("TEE", "WAW-1", 5, at=utc_now())
    txn = table.transaction()
    stock.reserve(txn, "ord_1", Allocation(sku="TEE", warehouse="WAW-1", quantity=1), at=utc_now())
    stock.reserve(txn, "ord_1", Allocation(sku="MUG", warehouse="WAW-1", quantity=2), at=utc_now())

    with pytest.raises(TransactionConflict) as conflict:
        txn.commit()

    assert conflict.value.failed == [2]  # the mug's stock update
    assert stock.levels("TEE")[0].reserved == 0  # the tee was rolled back with it


def test_api_keys_are_found_by_the_key_and_stored_only_as_a_hash(table: Table) -> None:
    keys = ApiKeyRepository(table)
    key = generate_key()
    keys.create(key, name="erp", scopes=frozenset({"orders:read"}), at=utc_now())

    found = keys.find(key)
    assert found is not None and found.scopes == frozenset({"orders:read"})
    assert keys.find(key + "x") is None
    stored = table.client.scan(TableName=table.name)["Items"]
    assert all(key not in str(item) for item in stored)
    with pytest.raises(ValueError, match="unknown scopes"):
        keys.create(generate_key(), name="x", scopes=frozenset({"admin"}), at=utc_now())


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(st.sampled_from(list(PaymentStatus)), min_size=1, max_size=8))
def test_payment_reports_in_any_order_settle_on_the_highest_rank(
    table: Table, statuses: list[PaymentStatus]
) -> None:
    # Given reports about one payment arriving in any order (retries, duplicates, reordering)
    records = PaymentRecords(table)
    payment_id = f"pi_{uuid.uuid4().hex}"
    stored: list[PaymentStatus] = []
    for status in statuses:
        # When each is reduced onto the payment record by the conditional write
        records.record(
            "ord_1", a_payment("ord_1", 100, status=status, payment_id=payment_id), at=utc_now()
        )
        (record,) = [p for p in records.of_order("ord_1") if p.payment_id == payment_id]
        stored.append(record.status)
    # Then it ends at the highest rank seen and never went down on the way
    assert stored[-1] == max(statuses, key=STATUS_RANK.__getitem__)
    assert [STATUS_RANK[s] for s in stored] == sorted(STATUS_RANK[s] for s in stored)
