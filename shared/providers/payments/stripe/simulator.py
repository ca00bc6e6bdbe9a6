"""Stripe's side of a webhook delivery, as docs.stripe.com/webhooks documents it: the event
envelope, pretty-printed, and Stripe-Signature t=<unix>,v1=<hex HMAC-SHA256 of "t.body">."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Mapping
from typing import Any

from shared.providers.payments.stripe.webhook import signature_header
from shared.providers.simulation import SignedRequest


class StripeSimulator:
    path = "/webhooks/payments/stripe"

    def __init__(self, endpoint_secret: str) -> None:
        self._secret = endpoint_secret

    @classmethod
    def from_secret(cls, secret: Mapping[str, str]) -> StripeSimulator:
        return cls(secret["webhook_secret"])

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
