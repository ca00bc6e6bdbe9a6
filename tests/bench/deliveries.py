"""What section 2 times for each webhook provider in shared/registry.py: one realistic signed
delivery, built by the provider's own simulator (shared/providers/<kind>/<name>/simulator.py)
from a secret in the registry's shape, and the floor's check of it.

A channel delivers a new order; a payment provider says a payment succeeded:

- Shopify `orders/create` (HMAC-SHA256 of the body, base64, in X-Shopify-Hmac-Sha256);
- WooCommerce `order.created` (HMAC-SHA256 of the body, base64, in X-WC-Webhook-Signature);
- Stripe `payment_intent.succeeded` (Stripe-Signature: HMAC-SHA256 of `t.body`, 300 s
  tolerance, so each delivery is built just before it is timed);
- PayU order notification `COMPLETED`, paid by BLIK (OpenPayu-Signature: MD5 of body + second
  key);
- Przelewy24 transaction notification (SHA-384 `sign` inside the body, with the CRC key; P24's
  transaction/verify happens later, in the stream router, not in the webhook);
- PayPal `PAYMENT.CAPTURE.COMPLETED` (verified by PayPal: the webhook POSTs the transmission
  to /v1/notifications/verify-webhook-signature, with an OAuth token it caches).

PayPal's API is the one outbound call a webhook makes. Here only httpx's transport is replaced
(`FakePayPalApi`): the module's client (verification.default_http) is swapped for one built
with the same arguments and an httpx.MockTransport, so httpx builds each request (URL, basic
auth, headers, body) and parses each answer; httpcore, TLS, the socket and PayPal's servers
are not there. Each distinct request is answered once by PayPalSimulator.handle (which checks
the client credentials, the bearer token and that the transmission is one it sent, byte for
byte), and the same request again gets the same answer replayed, so the timed calls do not
include the simulator's own work.

A webhook provider added to the registry without an entry in BUILDERS is reported by the
section, which then exits 1 (`make bench` lists it as crashed).
"""

from __future__ import annotations

import contextlib
import hmac
import json
import os
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from unittest import mock

import httpx

from shared.providers.simulation import Line, SignedRequest
from shared.registry import Provider

ORDER_ID = "ord_01BENCH0000000000000000000"
AMOUNT = 24200  # minor units: 242.00 PLN
CURRENCY = "PLN"
LINES = (
    Line("MUG-KRAKOW-350", "Kubek Kraków 350 ml", 2, "49.00"),
    Line("TEE-ORGANIC-M", "Koszulka organiczna M", 1, "89.00"),
)

# The floor's check of one delivery, given the API Gateway event: authenticity + provider model.
Check = Callable[[dict[str, Any]], None]


@dataclass
class Delivery:
    label: str  # "PayU order COMPLETED"
    signed: SignedRequest
    check: Check
    check_name: str  # what the floor's authenticity check is, in a few words
    # Further floor parts, each timed alone: (label, check).
    parts: list[tuple[str, Check]] = field(default_factory=list)
    outbound: FakePayPalApi | None = None  # the provider API the webhook calls, if any


def bench_secret(provider: Provider) -> dict[str, str]:
    """The provider's secret document as the embedded stack seeds it (infra/local/seed.py),
    every field generated: the developer's environment (a real sandbox's keys or URL, PayPal's
    `verification` mode) never reaches the bench."""
    from infra.local.seed import provider_secret_document

    hidden = {f.env: os.environ.pop(f.env) for f in provider.secrets if f.env in os.environ}
    try:
        return provider_secret_document(provider)
    finally:
        os.environ.update(hidden)


def _body(event: dict[str, Any]) -> bytes:
    return str(event["body"]).encode()


# -- the providers -------------------------------------------------------------------------------
def shopify(simulator: Any, secret: dict[str, str]) -> Delivery:
    from shared.providers.channels.shopify.webhook import ShopifyOrder, sign

    signed = simulator.webhook(
        "orders/create", simulator.order(5770019001, list(LINES)), webhook_id="bench-wh-1"
    )
    key = secret["webhook_secret"]

    def check(event: dict[str, Any]) -> None:
        body = _body(event)
        expected = sign(body, key).encode()
        if not hmac.compare_digest(expected, event["headers"]["x-shopify-hmac-sha256"].encode()):
            raise RuntimeError("floor: bad signature")
        ShopifyOrder.model_validate_json(body)

    return Delivery("Shopify orders/create", signed, check, "HMAC-SHA256")


def woocommerce(simulator: Any, secret: dict[str, str]) -> Delivery:
    from shared.providers.channels.woocommerce.resources import WooOrder
    from shared.providers.channels.woocommerce.webhook import sign

    signed = simulator.webhook("order.created", simulator.order(5770019002, list(LINES)))
    key = secret["webhook_secret"]

    def check(event: dict[str, Any]) -> None:
        body = _body(event)
        expected = sign(body, key).encode()
        if not hmac.compare_digest(expected, event["headers"]["x-wc-webhook-signature"].encode()):
            raise RuntimeError("floor: bad signature")
        WooOrder.model_validate_json(body)

    return Delivery("WooCommerce order.created", signed, check, "HMAC-SHA256")


def stripe(simulator: Any, secret: dict[str, str]) -> Delivery:
    from shared.providers.payments.stripe.webhook import (
        StripeEvent,
        StripePaymentIntent,
        verify_signature,
    )

    signed = simulator.event(
        "payment_intent.succeeded",
        simulator.payment_intent(ORDER_ID, AMOUNT, CURRENCY.lower()),
    )
    key = secret["webhook_secret"]

    def check(event: dict[str, Any]) -> None:
        body = _body(event)
        verify_signature(body, event["headers"]["stripe-signature"], key)
        parsed = StripeEvent.model_validate_json(body)
        StripePaymentIntent.model_validate(parsed.data.object)

    return Delivery("Stripe payment_intent.succeeded", signed, check, "HMAC-SHA256 + timestamp")


def payu(simulator: Any, secret: dict[str, str]) -> Delivery:
    from shared.payments.references import merchant_reference
    from shared.providers.payments.payu.webhook import PayUNotification, verify_signature

    document = simulator.order_document(
        merchant_reference(ORDER_ID, 1, per_attempt=True),  # extOrderId, as client.py sends it
        AMOUNT,
        CURRENCY,
        pos_id=simulator.pos_id,
    )
    signed = simulator.notification(document, "COMPLETED", method="blik")
    key = secret["second_key"]

    def check(event: dict[str, Any]) -> None:
        body = _body(event)
        verify_signature(body, event["headers"]["openpayu-signature"], key)
        PayUNotification.model_validate_json(body)

    return Delivery("PayU order COMPLETED", signed, check, "MD5 of body + second key")


def przelewy24(simulator: Any, secret: dict[str, str]) -> Delivery:
    from shared.payments.references import merchant_reference
    from shared.providers.payments.przelewy24.signing import signs_match
    from shared.providers.payments.przelewy24.webhook import TransactionNotification, expected_sign

    signed = simulator.transaction_notification(
        session_id=merchant_reference(ORDER_ID, 1, per_attempt=True),  # as client.py registers
        order_id=316_000_001,
        amount=AMOUNT,
        currency=CURRENCY,
    )
    crc = secret["crc"]

    def check(event: dict[str, Any]) -> None:
        notification = TransactionNotification.model_validate_json(_body(event))
        if not signs_match(expected_sign(notification, crc), notification.sign):
            raise RuntimeError("floor: bad sign")

    return Delivery("Przelewy24 transaction notification", signed, check, "SHA-384 sign")


def paypal(simulator: Any, secret: dict[str, str]) -> Delivery:
    from shared.inbox.contract import Headers
    from shared.payments.gateway import base_url
    from shared.providers.payments.paypal import resources
    from shared.providers.payments.paypal.oauth import PRODUCTION_API, SANDBOX_API
    from shared.providers.payments.paypal.simulator import paypal_id
    from shared.providers.payments.paypal.verification import (
        TOKENS,
        Transmission,
        default_http,
        verify_with_api,
    )
    from shared.providers.payments.paypal.webhook import PayPalEvent

    capture = simulator.capture_resource(
        ORDER_ID, f"{AMOUNT / 100:.2f}", CURRENCY, paypal_order_id=paypal_id()
    )
    signed = simulator.event("PAYMENT.CAPTURE.COMPLETED", capture)
    api = base_url(secret, sandbox=SANDBOX_API, production=PRODUCTION_API)

    def verify(event: dict[str, Any]) -> None:
        verify_with_api(
            Transmission.from_headers(Headers(event["headers"])),
            _body(event),
            base_url=api,
            client_id=secret["client_id"],
            client_secret=secret["client_secret"],
            webhook_id=secret["webhook_id"],
            http=default_http(),
            tokens=TOKENS,
        )

    def check(event: dict[str, Any]) -> None:
        verify(event)
        parsed = PayPalEvent.model_validate_json(_body(event))
        resources.Capture.model_validate(parsed.resource)

    return Delivery(
        "PayPal PAYMENT.CAPTURE.COMPLETED",
        signed,
        check,
        "verify-webhook-signature POST",
        parts=[("  floor part: verify-webhook-signature POST alone", verify)],
        outbound=FakePayPalApi(simulator, api),
    )


BUILDERS: dict[str, Callable[[Any, dict[str, str]], Delivery]] = {
    "shopify": shopify,
    "woocommerce": woocommerce,
    "stripe": stripe,
    "payu": payu,
    "przelewy24": przelewy24,
    "paypal": paypal,
}


# -- PayPal's API, behind httpx's transport ------------------------------------------------------
class FakePayPalApi:
    """An httpx.MockTransport handler standing in for PayPal's REST API (see the module text):
    each distinct request is answered once by PayPalSimulator.handle, then replayed."""

    def __init__(self, simulator: Any, base_url: str) -> None:
        self._simulator = simulator
        self._base = httpx.URL(base_url)
        self._replay: dict[tuple[str, str, str, bytes], tuple[int, bytes]] = {}
        self.answered: Counter[str] = Counter()  # "POST /v1/..." -> requests answered
        self.asked_simulator: Counter[str] = Counter()  # of which the simulator answered

    def __call__(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        if (url.scheme, url.host, url.port) != (
            self._base.scheme,
            self._base.host,
            self._base.port,
        ):
            raise RuntimeError(f"bench: unexpected outbound request to {url}")
        name = f"{request.method} {url.path}"
        content = request.content
        key = (request.method, url.path, request.headers.get("authorization", ""), content)
        answer = self._replay.get(key)
        if answer is None:
            status, document, _ = self._simulator.handle(
                request.method, url.path, dict(url.params), dict(request.headers), content
            )
            answer = self._replay[key] = (status, json.dumps(document).encode())
            self.asked_simulator[name] += 1
        self.answered[name] += 1
        return httpx.Response(
            answer[0], content=answer[1], headers={"Content-Type": "application/json"}
        )

    @contextlib.contextmanager
    def installed(self) -> Iterator[None]:
        """verification.default_http() returns a client built with its own arguments and this
        transport, for as long as the context lasts."""
        from shared.providers.payments.paypal import verification

        client = httpx.Client(
            timeout=verification.TIMEOUT_SECONDS,
            follow_redirects=False,
            transport=httpx.MockTransport(self),
        )
        try:
            with mock.patch.object(verification, "_http_client", client):
                yield
        finally:
            client.close()

    def summary(self) -> str:
        def text(counts: Counter[str]) -> str:
            return ", ".join(f"{name} x{n}" for name, n in sorted(counts.items())) or "none"

        return (
            f"answered {text(self.answered)} (of which PayPalSimulator.handle answered "
            f"{text(self.asked_simulator)}, the rest replayed)"
        )
