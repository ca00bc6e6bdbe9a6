"""Timeline entries and the EventBridge detail contract (docs/events.md)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from pydantic import ValidationError

from shared.kernel.events import EVENT_SCHEMA_VERSION, EventType, TimelineEntry, domain_event_detail

AT = datetime(2024, 5, 1, 14, 0, 0, 250000, tzinfo=timezone(timedelta(hours=2)))


def entry(version: int = 3, **detail: object) -> TimelineEntry:
    return TimelineEntry(
        order_id="ord_01HX",
        version=version,
        type=EventType.ORDER_PAID,
        at=AT,
        actor="webhook:stripe",
        status="paid",
        detail=dict(detail),
    )


def test_event_id_is_order_and_version_so_redeliveries_dedupe() -> None:
    assert entry(version=3).event_id == "ord_01HX/3"
    assert entry(version=3).event_id == entry(version=3, other="x").event_id
    assert entry(version=4).event_id != entry(version=3).event_id


def test_versions_start_at_one() -> None:
    with pytest.raises(ValidationError):
        entry(version=0)


def test_domain_event_detail_carries_the_contract_keys_and_the_entry_detail() -> None:
    detail = domain_event_detail(entry(provider="stripe", payment_id="pi_1"))
    assert detail == {
        "schema_version": EVENT_SCHEMA_VERSION,
        "event_id": "ord_01HX/3",
        "order_id": "ord_01HX",
        "order_version": 3,
        "occurred_at": "2024-05-01T12:00:00.250Z",
        "status": "paid",
        "actor": "webhook:stripe",
        "provider": "stripe",
        "payment_id": "pi_1",
    }
    assert EVENT_SCHEMA_VERSION == 1


def test_event_types_are_the_published_detail_types() -> None:
    assert {t.value for t in EventType} == {
        "OrderReceived",
        "StockReserved",
        "OrderBackordered",
        "PaymentRecorded",
        "PaymentRejected",
        "OrderPaid",
        "OrderReadyToShip",
        "StockReleased",
        "OrderCancelled",
        "OrderNeedsAttention",
    }


def test_occurred_at_is_normalised_to_utc() -> None:
    utc_entry = entry().model_copy(update={"at": AT.astimezone(UTC)})
    assert (
        domain_event_detail(utc_entry)["occurred_at"] == domain_event_detail(entry())["occurred_at"]
    )
