"""Order intake: store a channel's order once, then start its workflow once."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from shared.orders.domain import Order
from shared.orders.ids import new_order_id
from shared.orders.ports import OrderStore
from shared.payments.domain import PaymentEvent, PaymentStatus
from shared.payments.service import PaymentService
from shared.platform.clock import Clock, utc_now
from shared.platform.workflow import Workflow


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

    def receive(self, order: Order, *, actor: str, event_id: str) -> str:
        """Idempotent end to end: a redelivery finds the channel key and the named execution."""
        order_id = self.orders.create(self.new_id(), order, received_at=self.now(), actor=actor)
        if order.channel_payment is not None:
            # The channel collected the money itself (e.g. Shopify Payments): record it as a
            # payment like any other, so the same decision point marks the order paid.
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
        self.workflow.start(order_id, workflow_input(order_id, self.payment_window_seconds))
        return order_id
