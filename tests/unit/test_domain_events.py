"""Domain events: one model per event, the EventBridge detail contract, and the generated docs
(docs/events.md, docs/events/*.json) current with the models."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from pydantic import ValidationError

from shared import domain_events
from shared.kernel.events import (
    DomainEvent,
    EventType,
    TimelineEntry,
    detail_model,
    domain_event_detail,
)
from shared.orders.events import OrderCancelled
from shared.payments.domain import PaymentStatus
from shared.payments.events import OrderPaid, PaymentRecorded
from shared.stock.domain import Allocation
from shared.stock.events import StockReserved
from tests.builders import pln

AT = datetime(2024, 5, 1, 14, 0, 0, 250000, tzinfo=timezone(timedelta(hours=2)))
PAID = OrderPaid(provider="stripe", payment_id="pi_1", amount=pln(9800))


def entry(version: int = 3, event: DomainEvent = PAID) -> TimelineEntry:
    return TimelineEntry(
        order_id="ord_01HX",
        version=version,
        at=AT,
        actor="webhook:stripe",
        status="paid",
        event=event,
    )


def test_event_id_is_order_and_version_so_redeliveries_dedupe() -> None:
    assert entry(version=3).event_id == "ord_01HX/3"
    other = OrderPaid(provider="payu", payment_id="x", amount=pln(1))
    assert entry(version=3).event_id == entry(version=3, event=other).event_id
    assert entry(version=4).event_id != entry(version=3).event_id


def test_versions_start_at_one() -> None:
    with pytest.raises(ValidationError):
        entry(version=0)


def test_the_detail_is_the_envelope_and_the_event_model() -> None:
    detail = domain_event_detail(entry())
    assert detail == {
        "schema_version": 1,
        "event_id": "ord_01HX/3",
        "order_id": "ord_01HX",
        "order_version": 3,
        "occurred_at": "2024-05-01T12:00:00.250Z",
        "status": "paid",
        "actor": "webhook:stripe",
        "provider": "stripe",
        "payment_id": "pi_1",
        "amount": {"amount": 9800, "currency": "PLN"},
    }
    # and it validates against that event's own detail model (what the JSON Schema describes)
    assert detail_model(OrderPaid).model_validate(detail).model_dump(mode="json") == detail


def test_every_event_type_has_one_model_and_reads_back_from_the_timeline() -> None:
    assert {m.type for m in domain_events.MODELS} == set(EventType)
    reserved = StockReserved(reservations=[Allocation(sku="MUG", warehouse="WAW-1", quantity=2)])
    assert domain_events.event_from("StockReserved", reserved.model_dump_json()) == reserved


def test_an_event_refuses_fields_it_does_not_define() -> None:
    with pytest.raises(ValidationError):
        OrderPaid.model_validate({**PAID.model_dump(), "surprise": 1})


def test_occurred_at_is_normalised_to_utc() -> None:
    utc_entry = entry().model_copy(update={"at": AT.astimezone(UTC)})
    assert (
        domain_event_detail(utc_entry)["occurred_at"] == domain_event_detail(entry())["occurred_at"]
    )


def test_docs_and_json_schemas_are_generated_from_the_models_and_current() -> None:
    files = domain_events.generated()
    for path, text in files.items():
        assert path.exists() and path.read_text() == text, (
            f"{path} is stale: run `python -m shared.domain_events`"
        )
    assert {p.name for p in domain_events.SCHEMAS.glob("*.json")} == {
        f"{t.value}.json" for t in EventType
    }


def test_a_timeline_entry_written_before_the_events_were_typed_still_reads() -> None:
    # Before: the events of one change shared one detail dict, which could hold keys the
    # event's model does not define; they are dropped on reading, what it defines is kept
    old = '{"reason":"payment_timeout","reservations":[{"sku":"MUG","warehouse":"W","quantity":1}],'
    old += '"shortages":[]}'
    assert domain_events.event_from("OrderCancelled", old) == OrderCancelled(
        reason="payment_timeout",
        reservations=[Allocation(sku="MUG", warehouse="W", quantity=1)],
    )


def test_optional_fields_that_do_not_apply_are_absent_from_the_detail() -> None:
    noted = PaymentRecorded(
        provider="stripe", payment_id="pi_1", amount=pln(100), payment_status=PaymentStatus.PENDING
    )
    detail = domain_event_detail(entry(event=noted))
    assert "reason" not in detail and detail["payment_status"] == "pending"
