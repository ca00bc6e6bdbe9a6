"""Webhook simulators: build and send the requests Shopify and Stripe send, signed the way their
documentation says (and as their official libraries verify). Used by the demo and the tests.

Shopify: shopify.dev/docs/apps/build/webhooks/delivery-structure (headers), HMAC-SHA256 of the
raw body with the app's client secret, base64. Stripe: docs.stripe.com/webhooks (event envelope,
Stripe-Signature t=<unix>,v1=<hex HMAC-SHA256 of "t.body">).
"""

from __future__ import annotations

import copy
import json
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx

from shared.integrations.shopify import sign as shopify_hmac
from shared.integrations.stripe import signature_header

SAMPLES = Path(__file__).parent / "samples"
SHOPIFY_API_VERSION = "2025-10"


@dataclass(frozen=True)
class SignedRequest:
    path: str
    body: bytes
    headers: dict[str, str]

    def tampered(self) -> SignedRequest:
        """The same signature over a body someone changed in transit."""
        return SignedRequest(self.path, self.body.replace(b'"', b' "', 1), self.headers)

    def send(self, client: httpx.Client) -> httpx.Response:
        return client.post(self.path, content=self.body, headers=self.headers)


@dataclass(frozen=True)
class Line:
    sku: str
    name: str
    quantity: int
    unit_price: str  # gross, as the shop sells it
    vat_rate: str = "0.23"


def _money(value: Decimal) -> str:
    return f"{value.quantize(Decimal('0.01'))}"


class ShopifySimulator:
    path = "/webhooks/orders/shopify"

    def __init__(self, client_secret: str, shop_domain: str = "orderhub-demo.myshopify.com"):
        self._secret = client_secret
        self._shop = shop_domain

    def order(
        self,
        order_id: int,
        lines: list[Line],
        *,
        number: int | None = None,
        cash_on_delivery: bool = False,
        paid: bool = False,
    ) -> dict[str, Any]:
        """A REST Admin Order resource (taxes included, PLN) with consistent totals."""
        order: dict[str, Any] = copy.deepcopy(
            json.loads((SAMPLES / "shopify_order.json").read_text())
        )
        number = number or 1000 + order_id % 1000
        order.update(
            id=order_id,
            admin_graphql_api_id=f"gid://shopify/Order/{order_id}",
            name=f"#{number}",
            order_number=number,
        )
        items = []
        items_total = tax_total = Decimal(0)
        for index, line in enumerate(lines, start=1):
            gross = Decimal(line.unit_price) * line.quantity
            rate = Decimal(line.vat_rate)
            tax = gross - gross / (1 + rate)
            items_total += gross
            tax_total += tax
            items.append(
                {
                    "id": order_id * 100 + index,
                    "sku": line.sku,
                    "name": line.name,
                    "title": line.name,
                    "quantity": line.quantity,
                    "price": line.unit_price,
                    "requires_shipping": True,
                    "taxable": True,
                    "fulfillment_status": None,
                    "tax_lines": [{"price": _money(tax), "rate": float(rate), "title": "VAT"}],
                    "discount_allocations": [],
                }
            )
        shipping = sum((Decimal(s["price"]) for s in order["shipping_lines"]), Decimal(0))
        tax_total += sum(
            (Decimal(t["price"]) for s in order["shipping_lines"] for t in s["tax_lines"]),
            Decimal(0),
        )
        order.update(
            line_items=items,
            total_line_items_price=_money(items_total),
            subtotal_price=_money(items_total),
            total_price=_money(items_total + shipping),
            total_tax=_money(tax_total),
            financial_status="paid" if paid else "pending",
        )
        if cash_on_delivery:
            order.update(
                gateway="Cash on Delivery (COD)", payment_gateway_names=["Cash on Delivery (COD)"]
            )
        return order

    def webhook(
        self, topic: str, resource: dict[str, Any], *, webhook_id: str | None = None
    ) -> SignedRequest:
        body = json.dumps(resource, ensure_ascii=False).encode()
        return SignedRequest(
            self.path,
            body,
            {
                "Content-Type": "application/json",
                "X-Shopify-Topic": topic,
                "X-Shopify-Hmac-Sha256": shopify_hmac(body, self._secret),
                "X-Shopify-Shop-Domain": self._shop,
                "X-Shopify-API-Version": SHOPIFY_API_VERSION,
                "X-Shopify-Webhook-Id": webhook_id or str(uuid.uuid4()),
                "X-Shopify-Event-Id": str(uuid.uuid4()),
                "X-Shopify-Triggered-At": datetime.now(UTC).isoformat(),
            },
        )


class StripeSimulator:
    path = "/webhooks/payments/stripe"

    def __init__(self, endpoint_secret: str) -> None:
        self._secret = endpoint_secret

    @staticmethod
    def payment_intent(
        order_id: str,
        amount: int,
        currency: str = "pln",
        *,
        method: str = "blik",
        status: str = "succeeded",
    ) -> dict[str, Any]:
        """A PaymentIntent as Stripe's API returns it (fields per the OpenAPI fixture)."""
        intent_id = f"pi_{uuid.uuid4().hex[:24]}"
        return {
            "id": intent_id,
            "object": "payment_intent",
            "amount": amount,
            "amount_capturable": 0,
            "amount_received": amount if status == "succeeded" else 0,
            "capture_method": "automatic",
            "client_secret": f"{intent_id}_secret_local",
            "confirmation_method": "automatic",
            "created": int(time.time()),
            "currency": currency,
            "customer": None,
            "description": f"orderhub {order_id}",
            "last_payment_error": None,
            "livemode": False,
            "metadata": {"order_id": order_id},
            "payment_method_types": [method],
            "status": status,
        }

    def event(
        self,
        event_type: str,
        obj: dict[str, Any],
        *,
        event_id: str | None = None,
        timestamp: int | None = None,
    ) -> SignedRequest:
        now = int(time.time()) if timestamp is None else timestamp
        envelope = {
            "id": event_id or f"evt_{uuid.uuid4().hex[:24]}",
            "object": "event",
            "api_version": "2025-10-29.clover",
            "created": now,
            "data": {"object": obj},
            "livemode": False,
            "pending_webhooks": 1,
            "request": {"id": None, "idempotency_key": None},
            "type": event_type,
        }
        body = json.dumps(envelope, indent=2).encode()  # Stripe sends pretty-printed JSON
        return SignedRequest(
            self.path,
            body,
            {
                "Content-Type": "application/json; charset=utf-8",
                "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
                "Stripe-Signature": signature_header(body, self._secret, now),
            },
        )
