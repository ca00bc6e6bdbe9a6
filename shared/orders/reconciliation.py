"""Safety net for intake: an order stored but never started (its stream record dead-lettered,
or a deploy raced the start) gets its workflow started. The execution name makes it a no-op
for orders whose workflow runs already."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from shared.kernel.time import utc_iso
from shared.orders.domain import OrderStatus
from shared.orders.intake import workflow_input
from shared.orders.store import OrderRepository
from shared.platform.clock import Clock, utc_now
from shared.platform.workflow import Workflow

STUCK_AFTER = timedelta(minutes=10)
PAGE_SIZE = 100


@dataclass
class Reconciler:
    orders: OrderRepository
    workflow: Workflow
    payment_window_seconds: int
    now: Clock = utc_now

    def restart_stuck_orders(self) -> list[str]:
        cutoff = utc_iso(self.now() - STUCK_AFTER)
        restarted: list[str] = []
        start_key = None
        while True:
            items, start_key = self.orders.list_page(
                status=OrderStatus.RECEIVED,
                created_from=None,
                created_to=None,
                filters={},
                limit=PAGE_SIZE,
                start_key=start_key,
            )
            for item in items:
                if item["received_at"] > cutoff:
                    continue  # young orders are still on their normal path
                order_id = item["order_id"]
                if self.workflow.exists(order_id):
                    continue  # running (e.g. retrying its reservation): not stuck
                self.workflow.start(order_id, workflow_input(order_id, self.payment_window_seconds))
                restarted.append(order_id)
            if start_key is None:
                return restarted
