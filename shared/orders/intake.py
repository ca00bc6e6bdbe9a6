"""Order intake: store a channel's order once, then start its workflow once; a later revision
of it goes to the channel changes (shared/fulfilment/channel_changes.py)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from shared.orders.domain import ChannelStatus, Order, OrderStatus
from shared.orders.ids import new_order_id
from shared.orders.ports import OrderStore
from shared.payments.domain import PaymentEvent, PaymentStatus
from shared.payments.service import PaymentService
from shared.platform.clock import Clock, utc_now
from shared.platform.workflow import Workflow

if TYPE_CHECKING:
    from shared.channels.listings import SkuResolver
    from shared.fulfilment.channel_changes import ChannelChanges


def workflow_input(order_id: str, payment_window_seconds: int) -> dict[str, object]:
    return {"order_id": order_id, "payment_window_seconds": payment_window_seconds}


@dataclass
class OrderIntake:
    orders: OrderStore
    workflow: Workflow
    payments: PaymentService
    payment_window_seconds: int
    now: Clock = utc_now
    new_id: Callable[[], str] = new_order_id
    # Lines to internal SKUs (None: lines name internal SKUs already, as in unit tests).
    resolver: SkuResolver | None = None
    # Later revisions and cancellations (None: a known order's redelivery changes nothing).
    changes: ChannelChanges | None = None

    def receive(self, order: Order, *, actor: str, event_id: str) -> str:
        """Idempotent end to end: a redelivery finds the channel key and the named execution;
        a delivery of an order already stored is a revision of it (applied if newer)."""
        order_id = self.orders.find_by_channel(order.channel, order.external_id)
        if order_id is None:
            order_id = self._create(order, actor=actor)
        elif self.changes is not None:
            self.changes.apply(order_id, order, actor=actor)
        state = self.orders.get(order_id)
        if state is None or state.status is OrderStatus.CANCELLED:
            return order_id
        if order.channel_payment is not None:
            # The channel collected the money itself (Shopify Payments, a marketplace
            # checkout): record it as a payment like any other, so the same decision point
            # marks the order paid. Keyed by the channel's payment id: a redelivery or a later
            # revision reporting it again adds nothing.
            paid = order.channel_payment
            self.payments.report(
                PaymentEvent(
                    provider=paid.provider,
                    provider_event_id=event_id,
                    payment_id=paid.payment_id,
                    order_id=order_id,
                    status=PaymentStatus.SUCCEEDED,
                    amount=paid.amount,
                    occurred_at=order.placed_at,
                    test=order.test,
                ),
                actor=actor,
            )
        # Payments that arrived before the order (Shopify orders/paid before orders/create).
        self.payments.apply_parked(order_id, channel=order.channel, external_id=order.external_id)
        if state.status is OrderStatus.RECEIVED:
            # Started once (the execution is named after the order); a redelivery after a
            # crash before this point starts it here.
            self.workflow.start(order_id, workflow_input(order_id, self.payment_window_seconds))
        return order_id

    def _create(self, order: Order, *, actor: str) -> str:
        resolution = self.resolver.resolve(order) if self.resolver is not None else None
        created = self.new_id()
        order_id = self.orders.create(
            created,
            resolution.order if resolution else order,
            received_at=self.now(),
            actor=actor,
            held=resolution.hold_reason if resolution else None,
        )
        if order_id != created and self.changes is not None:
            # Another delivery of it was stored first: this one is a revision like any other.
            self.changes.apply(order_id, order, actor=actor)
        elif order.channel_status is ChannelStatus.CANCELLED and self.changes is not None:
            # First seen already cancelled (the cancellation overtook the creation): kept as
            # cancelled, so the late creation's older revision cannot bring it back.
            self.changes.cancel(order_id, order.revision, actor=actor)
        return order_id
