"""AcmePay webhooks: `Acme-Signature: sha256=<hex HMAC-SHA256 of the raw body>`, deduplicated
on `Acme-Delivery-Id`, the event type in `Acme-Event`."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict

from shared.inbox.contract import (
    EventId,
    ParsedWebhook,
    SignatureMismatch,
    WebhookRequest,
    parse_json_model,
    parse_value,
)

SIGNATURE_HEADER = "Acme-Signature"
DELIVERY_HEADER = "Acme-Delivery-Id"
EVENT_HEADER = "Acme-Event"
# Fictional: no canonical event exists for it, so nothing downstream acts on it.
IGNORED = "Acme is fictional: nothing maps its events"


def sign(raw_body: bytes, secret: str) -> str:
    return "sha256=" + hmac.new(secret.encode(), raw_body, hashlib.sha256).hexdigest()


class AcmePayment(BaseModel):
    model_config = ConfigDict(extra="ignore")
    id: str
    amount: int
    currency: str
    reference: str


class AcmePayWebhooks:
    source = "acmepay"

    def verify(self, request: WebhookRequest, secrets: Mapping[str, Any]) -> None:
        received = request.headers.get(SIGNATURE_HEADER, "").strip()
        expected = sign(request.raw_body, str(secrets["signing_secret"]))
        if not received or not hmac.compare_digest(expected.encode(), received.encode()):
            raise SignatureMismatch(f"{SIGNATURE_HEADER} does not match the body")

    def parse(self, request: WebhookRequest) -> ParsedWebhook:
        delivery = parse_value(EventId, request.headers.require(DELIVERY_HEADER), DELIVERY_HEADER)
        topic = request.headers.require(EVENT_HEADER)
        parse_json_model(AcmePayment, request.raw_body)  # malformed: 400, nothing stored
        return ParsedWebhook(
            event_id=delivery,
            topic=topic,
            event=None,
            ignored_reason=IGNORED,
            audit_headers={DELIVERY_HEADER: delivery, EVENT_HEADER: topic},
        )
