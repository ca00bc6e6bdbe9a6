"""Payments that arrived before their order, kept until it does.

PARKED#<reference> / PAYMENT#<provider>#<payment id>#<event id>   the payment report as it came

A provider (or the channel itself: Shopify orders/paid before orders/create) may report a
payment for an order we have not received yet. Retrying it through the stream would block the
shard behind it and run out in seconds; parking it costs one write, and order intake applies
whatever waits for the order it creates.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from shared.kernel.time import utc_iso
from shared.payments.domain import PaymentEvent
from shared.platform.table import Table

PARKED_RETENTION = timedelta(days=90)


def parked_pk(reference: str) -> str:
    return f"PARKED#{reference}"


def channel_reference(channel: str, external_id: str) -> str:
    return f"CHANNEL#{channel}#{external_id}"


def order_reference(order_id: str) -> str:
    return f"ORDER#{order_id}"


def reference_of(payment: PaymentEvent) -> str:
    if payment.channel_order is not None:
        return channel_reference(payment.channel_order.channel, payment.channel_order.external_id)
    assert payment.order_id is not None  # the model guarantees one of the two
    return order_reference(payment.order_id)


@dataclass(frozen=True)
class ParkedPayment:
    reference: str
    sort_key: str
    payment: PaymentEvent
    actor: str


class ParkedPayments:
    def __init__(self, table: Table) -> None:
        self._table = table

    def park(self, payment: PaymentEvent, *, actor: str, at: datetime) -> None:
        reference = reference_of(payment)
        self._table.put(
            {
                "PK": parked_pk(reference),
                "SK": _sort_key(payment),
                "type": "parked_payment",
                "reference": reference,
                "payment": payment.model_dump_json(),
                "actor": actor,
                "parked_at": utc_iso(at),
                "expires_at": int((at + PARKED_RETENTION).timestamp()),
            }
        )

    def waiting_for(self, reference: str) -> list[ParkedPayment]:
        items = self._table.query_all(
            KeyConditionExpression="PK = :pk",
            ExpressionAttributeValues={":pk": {"S": parked_pk(reference)}},
            ConsistentRead=True,
        )
        return [
            ParkedPayment(
                reference=reference,
                sort_key=item["SK"],
                payment=PaymentEvent.model_validate_json(item["payment"]),
                actor=item["actor"],
            )
            for item in items
        ]

    def remove(self, parked: ParkedPayment) -> None:
        self._table.delete(parked_pk(parked.reference), parked.sort_key)

    def forget(self, payment: PaymentEvent) -> None:
        self._table.delete(parked_pk(reference_of(payment)), _sort_key(payment))


def _sort_key(payment: PaymentEvent) -> str:
    return f"PAYMENT#{payment.provider}#{payment.payment_id}#{payment.provider_event_id}"
