"""What happens when a delivery of each kind lands in the inbox: one table, one reaction per
inbound event kind (shared/inbox/events.py). A kind with no reaction is a bug and fails the
record loudly (retried, then dead-lettered with an alarm); it never falls through to another
context."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from shared.inbox.events import InboundEvent, OrderReported, PaymentReported
from shared.inbox.ports import FailureLog
from shared.orders.intake import OrderIntake
from shared.payments.service import PaymentOutcome, PaymentService
from shared.platform.clock import utc_now


class UnknownEventKind(LookupError):
    """An inbox item's event has a kind no reaction handles."""


@dataclass(frozen=True)
class Delivery:
    """Which stored delivery is being reacted to (for actors and failure records)."""

    source: str
    event_id: str

    @property
    def actor(self) -> str:
        return f"{self.source} webhook {self.event_id}"


@dataclass
class Contexts:
    """The services the reactions reach: each context only through its public service."""

    intake: OrderIntake
    payments: PaymentService
    failures: FailureLog


def receive_order(contexts: Contexts, event: OrderReported, delivery: Delivery) -> str | None:
    return contexts.intake.receive(event.order, actor=delivery.actor, event_id=delivery.event_id)


def report_payment(contexts: Contexts, event: PaymentReported, delivery: Delivery) -> str | None:
    report = contexts.payments.report(event.payment, actor=delivery.actor)
    if report.outcome is PaymentOutcome.UNKNOWN_ORDER:
        # Kept (parked) and listed where operators look for failed deliveries.
        contexts.failures.record_failure(
            delivery.source,
            delivery.event_id,
            f"the payment names order {report.order_id}, which does not exist",
            at=utc_now(),
            kind="unknown_order",
        )
    return report.order_id


Reaction = Callable[[Contexts, Any, Delivery], "str | None"]
REACTIONS: dict[str, Reaction] = {
    "order": receive_order,
    "payment": report_payment,
}


def react(contexts: Contexts, event: InboundEvent, delivery: Delivery) -> str | None:
    """Run the reaction of the event's kind; returns the order it concerned, if any."""
    reaction = REACTIONS.get(event.kind)
    if reaction is None:
        raise UnknownEventKind(f"no reaction handles inbound events of kind {event.kind!r}")
    return reaction(contexts, event, delivery)
