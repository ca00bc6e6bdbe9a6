"""Shopify's side of a webhook delivery, as shopify.dev documents it: the REST Admin Order
resource, the delivery headers (shopify.dev/docs/apps/build/webhooks/delivery-structure) and
the HMAC-SHA256 of the raw body with the app's client secret, base64."""

from __future__ import annotations

import copy
import json
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from shared.providers.channels.shopify.webhook import sign as shopify_hmac
from shared.providers.simulation import Line, SignedRequest, money_text

SAMPLE_ORDER = Path(__file__).parent / "sample_order.json"
SHOPIFY_API_VERSION = "2025-10"


class ShopifySimulator:
    path = "/webhooks/orders/shopify"

    def __init__(self, client_secret: str, shop_domain: str = "orderhub-demo.myshopify.com"):
        self._secret = client_secret
        self._shop = shop_domain

    @classmethod
    def from_secret(cls, secret: Mapping[str, str]) -> ShopifySimulator:
        """Signing with the app's client secret, as the shop the secret names (if any)."""
        if secret.get("shop_domain"):
            return cls(secret["webhook_secret"], secret["shop_domain"])
        return cls(secret["webhook_secret"])

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
        order: dict[str, Any] = copy.deepcopy(json.loads(SAMPLE_ORDER.read_text()))
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
                    "tax_lines": [{"price": money_text(tax), "rate": float(rate), "title": "VAT"}],
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
            total_line_items_price=money_text(items_total),
            subtotal_price=money_text(items_total),
            total_price=money_text(items_total + shipping),
            total_tax=money_text(tax_total),
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
