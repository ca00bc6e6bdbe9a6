"""Builders for canonical events, API Gateway v2 requests and moto tables (tests read as
Given/When/Then)."""

from __future__ import annotations

import base64
import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from shared.kernel.money import Money
from shared.orders.domain import (
    Address,
    Buyer,
    ChannelPayment,
    Order,
    OrderLine,
    PaymentMethod,
    Totals,
)
from shared.payments.domain import ChannelOrderRef, PaymentEvent, PaymentStatus


def pln(amount: int) -> Money:
    return Money(amount=amount, currency="PLN")


def an_order(
    *lines: tuple[str | None, int, int],
    external_id: str | None = None,
    payment_method: PaymentMethod = PaymentMethod.PREPAID,
    channel: str = "shopify",
    paid_by_channel: bool = False,
    placed_at: datetime | None = None,
) -> Order:
    """lines: (sku, quantity, unit price in grosze). Total = sum of lines (no shipping)."""
    lines = lines or (("MUG-KRAKOW-350", 1, 4900),)
    order_lines = [
        OrderLine(
            line_no=i,
            sku=sku,
            name=sku or "gift wrap",
            quantity=qty,
            unit_price=pln(price),
            vat_rate=Decimal(23),
        )
        for i, (sku, qty, price) in enumerate(lines, start=1)
    ]
    total = sum(qty * price for _, qty, price in lines)
    external = external_id or str(uuid.uuid4().int % 10**10)
    return Order(
        channel=channel,
        external_id=external,
        external_number=f"#{external[-4:]}",
        revision=1,
        placed_at=placed_at or datetime.now(UTC),
        currency="PLN",
        prices_include_vat=True,
        lines=order_lines,
        buyer=Buyer(name="Anna Nowak", email="anna@example.pl"),
        delivery=Address(
            line1="ul. Floriańska 15", city="Kraków", postal_code="31-019", country_code="PL"
        ),
        payment_method=payment_method,
        totals=Totals(
            items=pln(total), shipping=pln(0), discount=pln(0), tax=pln(0), total=pln(total)
        ),
        channel_payment=ChannelPayment(provider=channel, payment_id=external, amount=pln(total))
        if paid_by_channel
        else None,
    )


def a_payment(
    order_id: str | None,
    amount: int,
    *,
    status: PaymentStatus = PaymentStatus.SUCCEEDED,
    payment_id: str | None = None,
    currency: str = "PLN",
    shopify_order: str | None = None,
    provider: str = "stripe",
) -> PaymentEvent:
    """A Stripe (or `provider`) payment for an orderhub order, or (shopify_order=...) a payment
    the channel reports for its own order id."""
    return PaymentEvent(
        provider="shopify" if shopify_order else provider,
        provider_event_id=f"evt_{uuid.uuid4().hex[:12]}",
        payment_id=payment_id or f"pi_{uuid.uuid4().hex[:12]}",
        order_id=None if shopify_order else order_id,
        channel_order=ChannelOrderRef(channel="shopify", external_id=shopify_order)
        if shopify_order
        else None,
        status=status,
        amount=Money(amount=amount, currency=currency),
        method="blik",
        occurred_at=datetime.now(UTC),
    )


@dataclass
class HttpEvent:
    """An API Gateway HTTP API (payload 2.0) event, as the service sends it to Lambda."""

    method: str
    path: str
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    query: dict[str, str] = field(default_factory=dict)
    path_parameters: dict[str, str] = field(default_factory=dict)
    route_key: str | None = None

    def build(self) -> dict[str, Any]:
        text = True
        try:
            decoded = self.body.decode("utf-8")
        except UnicodeDecodeError:
            text, decoded = False, base64.b64encode(self.body).decode()
        event: dict[str, Any] = {
            "version": "2.0",
            "routeKey": self.route_key or f"{self.method} {self.path}",
            "rawPath": self.path,
            "rawQueryString": "&".join(f"{k}={v}" for k, v in self.query.items()),
            "headers": {k.lower(): v for k, v in self.headers.items()},
            "requestContext": {
                "accountId": "123456789012",
                "apiId": "test",
                "domainName": "test",
                "http": {
                    "method": self.method,
                    "path": self.path,
                    "protocol": "HTTP/1.1",
                    "sourceIp": "203.0.113.7",
                    "userAgent": "tests",
                },
                "requestId": str(uuid.uuid4()),
                "routeKey": f"{self.method} {self.path}",
                "stage": "$default",
                "time": "26/Nov/2026:10:00:00 +0000",
                "timeEpoch": 1795687200000,
            },
            "isBase64Encoded": not text,
        }
        if self.body:
            event["body"] = decoded
        if self.query:
            event["queryStringParameters"] = self.query
        if self.path_parameters:
            event["pathParameters"] = self.path_parameters
        return event


@dataclass
class FakeContext:
    function_name: str = "test-function"
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = "arn:aws:lambda:eu-central-1:123456789012:function:test"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))

    def get_remaining_time_in_millis(self) -> int:
        return 10_000


def json_body(response: dict[str, Any]) -> Any:
    return json.loads(response["body"])


def keyed_by_pk_sk(*string_attributes: str) -> dict[str, Any]:
    """CreateTable's KeySchema and AttributeDefinitions for a table keyed as orderhub's is
    (PK hash, SK range, both strings), plus `string_attributes` for indexes."""
    return {
        "KeySchema": [
            {"AttributeName": "PK", "KeyType": "HASH"},
            {"AttributeName": "SK", "KeyType": "RANGE"},
        ],
        "AttributeDefinitions": [
            {"AttributeName": name, "AttributeType": "S"}
            for name in ("PK", "SK", *string_attributes)
        ],
    }
