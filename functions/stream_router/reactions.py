"""What happens when a delivery of each kind lands in the inbox: one table, one reaction per
inbound event kind (shared/inbox/events.py). A kind with no reaction is a bug and fails the
record loudly (retried, then dead-lettered with an alarm); it never falls through to another
context."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from shared.inbox.events import (
    DisputeReported,
    InboundEvent,
    OrderReported,
    OrderWithdrawn,
    PaymentReported,
    RefundReported,
)
from shared.inbox.ports import FailureLog
from shared.kernel.errors import DomainError
from shared.orders.intake import OrderIntake
from shared.payments.refunds import RefundService
from shared.payments.service import PaymentOutcome, PaymentService
from shared.platform.clock import utc_now
from shared.platform.table import Item
from shared.registry import is_provider, provider


class UnknownEventKind(LookupError):
    """An inbox item's event has a kind no reaction handles."""


class ForgedDelivery(DomainError):
    """An inbox item claims another source than the one its key (the only part IAM pins to
    the writing function) names, or its event speaks for another provider."""


def source_of(image: Item) -> str:
    """The source an inbox item's key names: INBOX#<source>#<event id>."""
    source = str(image["PK"]).split("#", 2)[1]
    if image.get("source") != source:
        raise ForgedDelivery(f"item {image['PK']} says it came from {image.get('source')!r}")
    return source


def speaks_for(event: InboundEvent) -> str:
    """The provider an event's content is about: a channel's order, a provider's payment."""
    if isinstance(event, OrderReported):
        return event.order.channel
    if isinstance(event, OrderWithdrawn):
        return event.channel
    if isinstance(event, RefundReported):
        return event.refund.provider
    if isinstance(event, DisputeReported):
        return event.dispute.provider
    return event.payment.provider


@dataclass(frozen=True)
class StoredDelivery:
    """Which stored delivery is being reacted to (for actors and failure records)."""

    source: str
    event_id: str

    @property
    def actor(self) -> str:
        """`stripe webhook evt_...`, `allegro poll <id>`, `amazon queue <id>`."""
        how = type(provider(self.source).ingress).__name__ if is_provider(self.source) else ""
        return f"{self.source} {how.lower() or 'webhook'} {self.event_id}"


@dataclass
class Contexts:
    """The services the reactions reach: each context only through its public service."""

    intake: OrderIntake
    payments: PaymentService
    failures: FailureLog
    refunds: RefundService | None = None  # None: this deployment calls no payment provider


def receive_order(contexts: Contexts, event: OrderReported, delivery: StoredDelivery) -> str | None:
    return contexts.intake.receive(event.order, actor=delivery.actor, event_id=delivery.event_id)


def withdraw_order(
    contexts: Contexts, event: OrderWithdrawn, delivery: StoredDelivery
) -> str | None:
    """The channel withdrew an order (WooCommerce order.deleted): cancel it like a channel
    cancellation. One never stored is recorded as a failed delivery to look at, nothing else."""
    order_id = contexts.intake.orders.find_by_channel(event.channel, event.external_id)
    if order_id is None or contexts.intake.changes is None:
        contexts.failures.record_failure(
            delivery.source,
            delivery.event_id,
            f"{event.channel} withdrew order {event.external_id}, which was never received",
            at=utc_now(),
            kind="unknown_order",
        )
        return None
    # Withdrawn is the channel's last word on it, whatever its clock says next to the
    # order's (WooCommerce sends no time with a deletion).
    contexts.intake.changes.cancel(order_id, None, actor=delivery.actor)
    return order_id


def report_payment(
    contexts: Contexts, event: PaymentReported, delivery: StoredDelivery
) -> str | None:
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


def report_refund(
    contexts: Contexts, event: RefundReported, delivery: StoredDelivery
) -> str | None:
    if contexts.refunds is None:
        raise LookupError("refund notifications need the refunds service (PAYMENT_SECRET_IDS)")
    return contexts.refunds.report(event.refund, actor=delivery.actor)


def report_dispute(
    contexts: Contexts, event: DisputeReported, delivery: StoredDelivery
) -> str | None:
    return contexts.payments.dispute(event.dispute, actor=delivery.actor)


Reaction = Callable[[Contexts, Any, StoredDelivery], "str | None"]
REACTIONS: dict[str, Reaction] = {
    "order": receive_order,
    "order_withdrawn": withdraw_order,
    "payment": report_payment,
    "refund": report_refund,
    "dispute": report_dispute,
}


def react(contexts: Contexts, event: InboundEvent, delivery: StoredDelivery) -> str | None:
    """Run the reaction of the event's kind; returns the order it concerned, if any."""
    reaction = REACTIONS.get(event.kind)
    if reaction is None:
        raise UnknownEventKind(f"no reaction handles inbound events of kind {event.kind!r}")
    # One provider's function must not be able to speak for another (a Shopify delivery
    # paying with a Stripe payment): each adapter maps only to its own provider's name.
    if is_provider(delivery.source) and speaks_for(event) != delivery.source:
        raise ForgedDelivery(
            f"a {delivery.source} delivery reports a {event.kind} of {speaks_for(event)!r}"
        )
    return reaction(contexts, event, delivery)
