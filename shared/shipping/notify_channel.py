"""Tell the order's channel about a shipment, once.

The stream router puts one message per `ShipmentCreated` on the channel's push queue; its
consumer calls this. The channel's client looks for the tracking number first (a retry after a
crash between its call and our record creates nothing twice); the channel's reference and a
`ChannelNotified` timeline entry are then written in one change, so a redelivered message
finds the shipment notified and calls nobody.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from shared.channels.push import ChannelClient, ShipmentLine, ShipmentPush
from shared.kernel.errors import ConcurrentModification, OrderNotFound
from shared.orders.ports import OrderStore
from shared.orders.store import Change, OrderState
from shared.platform.clock import Clock, utc_now
from shared.platform.table import TransactionConflict
from shared.shipping.events import ChannelNotified
from shared.shipping.shipments import ShipmentRecords

MAX_ATTEMPTS = 5
ACTOR = "channel push"
# At most one call per this many seconds per channel from one consumer (two run per channel
# at most: the event source's maximum concurrency), well inside each channel's documented
# limits: Shopify's GraphQL leaky bucket (50 points/s restore), Allegro's per-client limit,
# Amazon confirmShipment (2 requests/s), a WooCommerce store's own PHP workers.
MIN_INTERVAL_SECONDS = {"shopify": 0.5, "woocommerce": 0.5, "allegro": 0.2, "amazon": 0.5}


class Pacer:
    """Spaces one process's calls to a channel (the per-channel rate limit's local half)."""

    def __init__(self, sleep: Callable[[float], None] = time.sleep) -> None:
        self._last: dict[str, float] = {}
        self._lock = threading.Lock()
        self._sleep = sleep

    def wait(self, channel: str) -> None:
        interval = MIN_INTERVAL_SECONDS.get(channel, 1.0)
        with self._lock:
            now = time.monotonic()
            due = self._last.get(channel, 0.0) + interval
            self._last[channel] = max(now, due)
        if due > now:
            self._sleep(due - now)


@dataclass
class ChannelNotifier:
    orders: OrderStore
    shipments: ShipmentRecords
    client_for: Callable[[str], ChannelClient | None]  # by channel; None: nothing to tell
    pacer: Pacer = field(default_factory=Pacer)
    now: Clock = utc_now

    def notify(self, order_id: str, shipment_id: str) -> str | None:
        """Push the shipment to the order's channel; its reference (None: the channel has no
        client, e.g. the own store, which subscribes to ShipmentCreated itself)."""
        shipment = self.shipments.get(order_id, shipment_id)
        if shipment is None:
            raise OrderNotFound(f"{order_id} has no shipment {shipment_id}")
        if shipment.channel_reference is not None:
            return shipment.channel_reference
        state = self.orders.get(order_id)
        details = self.orders.details(order_id)
        if state is None or details is None:
            raise OrderNotFound(order_id)
        client = self.client_for(state.channel)
        if client is None:
            return None
        by_line = {line.line_no: line for line in details.lines}
        push = ShipmentPush(
            shipment_id=shipment_id,
            order_id=order_id,
            channel=state.channel,
            external_id=state.external_id,
            external_number=state.external_number,
            channel_refs=dict(details.channel_refs),
            carrier=shipment.carrier,
            tracking_number=shipment.tracking_number,
            tracking_url=shipment.tracking_url,
            shipped_at=datetime.fromisoformat(shipment.created_at),
            lines=[
                ShipmentLine(
                    line_no=line.line_no,
                    quantity=line.quantity,
                    sku=by_line[line.line_no].sku,
                    listing_id=by_line[line.line_no].listing_id,
                    channel_line_id=by_line[line.line_no].channel_line_id,
                )
                for line in shipment.lines
                if line.line_no in by_line
            ],
            complete=shipment.complete,
        )
        self.pacer.wait(state.channel)
        reference = client.push_shipment(push)
        self._record(state, shipment_id, reference)
        return reference

    def _record(self, state: OrderState, shipment_id: str, reference: str) -> None:
        """The channel's reference and ChannelNotified, in one change (from the state read
        before the call; read again only when the order moved meanwhile)."""
        order_id, channel = state.order_id, state.channel
        for _ in range(MAX_ATTEMPTS):
            try:
                self.orders.apply(
                    state,
                    Change(
                        event=ChannelNotified(
                            shipment_id=shipment_id, channel=channel, reference=reference
                        ),
                        actor=ACTOR,
                        at=self.now(),
                    ),
                    joined=[self.shipments.stage_notified(order_id, shipment_id, reference)],
                )
            except ConcurrentModification:
                fresh = self.orders.get(order_id)
                if fresh is None:
                    raise OrderNotFound(order_id) from None
                state = fresh
                continue
            except TransactionConflict:
                return  # another delivery of the message recorded it first
            return
        raise ConcurrentModification(f"order {order_id} kept changing")
