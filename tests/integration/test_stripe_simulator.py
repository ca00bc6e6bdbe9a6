"""Stripe's gateway against the simulator over real HTTP on 127.0.0.1, the simulator's webhook
deliveries verified by the official library and mapped by the adapter, and stripe-python
itself as a second client of the simulated API (what the SDK sends, it accepts)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
import stripe

from shared.inbox.contract import Headers, ParsedWebhook, WebhookRequest
from shared.inbox.events import DisputeReported, PaymentReported, RefundReported
from shared.kernel.money import Money
from shared.payments.domain import PaymentEvent, PaymentStatus, RefundStatus, RiskLevel
from shared.payments.gateway import (
    GatewayRejected,
    RefundLookup,
    RefundRequest,
    SessionLookup,
    SessionRequest,
)
from shared.providers.payments.stripe.client import StripeGateway, form_encode
from shared.providers.payments.stripe.simulator import SimulatorError, StripeSimulator
from shared.providers.payments.stripe.webhook import API_VERSION, StripeWebhooks

SECRET = "whsec_integration"
KEY = "sk_test_integration"


@dataclass(frozen=True)
class Received:
    path: str
    headers: Headers
    body: bytes


class WebhookReceiver:
    """Our webhook route's stand-in: records each POST, answers 200."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                receiver.received.append(
                    Received(self.path, Headers(dict(self.headers)), self.rfile.read(length))
                )
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def parsed(self) -> list[ParsedWebhook]:
        """Every delivery verified (Stripe's library and our adapter) and mapped."""
        adapter = StripeWebhooks()
        out = []
        for delivery in self.received:
            assert delivery.path == "/webhooks/payments/stripe"
            header = delivery.headers["Stripe-Signature"]
            stripe.Webhook.construct_event(delivery.body, header, SECRET, tolerance=300)
            request = WebhookRequest(delivery.headers, delivery.body, datetime.now(UTC))
            adapter.verify(request, {"webhook_secret": SECRET})
            out.append(adapter.parse(request))
        return out

    def topics(self) -> list[str]:
        return [str(json.loads(d.body)["type"]) for d in self.received]


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    found = WebhookReceiver()
    yield found
    found.server.shutdown()
    found.server.server_close()


@pytest.fixture
def simulator(receiver: WebhookReceiver) -> Iterator[StripeSimulator]:
    sim = StripeSimulator.from_secret({"webhook_secret": SECRET, "api_key": KEY})
    sim.start()
    sim.deliver_to(receiver.url + "/")
    yield sim
    sim.stop()


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=10) as client:
        yield client


@pytest.fixture
def gateway(simulator: StripeSimulator, http: httpx.Client) -> StripeGateway:
    document = {"webhook_secret": SECRET, "api_key": KEY, "api_url": simulator.base_url}
    return StripeGateway.from_secret(document, http)


def session_request(method: str | None = "card", **changes: Any) -> SessionRequest:
    fields: dict[str, Any] = {
        "order_id": "ord_01JSTRIPE",
        "attempt": 2,
        "amount": Money(amount=4900, currency="PLN"),
        "return_url": "https://shop.example/orders/ord_01JSTRIPE",
        "notify_url": "https://hub.example/webhooks/payments/stripe",
        "description": "Order #1001",
        "method": method,
        "buyer_email": "buyer@example.com",
    }
    return SessionRequest(**{**fields, **changes})


def lookup_of(session_id: str) -> SessionLookup:
    return SessionLookup(
        order_id="ord_01JSTRIPE",
        attempt=2,
        session_id=session_id,
        reference="ord_01JSTRIPE",
        amount=Money(amount=4900, currency="PLN"),
    )


def payments(parsed: list[ParsedWebhook]) -> list[PaymentEvent]:
    return [p.event.payment for p in parsed if isinstance(p.event, PaymentReported)]


# -- sessions and payments ------------------------------------------------------------------------


def test_a_card_payment_from_session_to_webhooks(
    simulator: StripeSimulator,
    gateway: StripeGateway,
    receiver: WebhookReceiver,
    http: httpx.Client,
) -> None:
    # Given a session opened through the gateway
    created = gateway.create_session(session_request("card"))
    served = simulator.requests[-1]
    assert (served.method, served.path, served.status) == ("POST", "/v1/checkout/sessions", 200)
    assert served.headers["Authorization"] == f"Bearer {KEY}"
    assert served.headers["Idempotency-Key"] == "orderhub-session-ord_01JSTRIPE-2"
    assert served.headers["Stripe-Version"] == API_VERSION
    assert served.body["payment_intent_data"]["metadata"] == {
        "order_id": "ord_01JSTRIPE",
        "attempt": "2",
    }
    assert served.body["line_items"][0]["price_data"]["unit_amount"] == "4900"
    assert http.get(created.redirect_url).status_code == 200  # the hosted page
    assert gateway.session_status(lookup_of(created.session_id)) is None  # nothing paid yet

    # When the buyer pays by card
    intent_id = simulator.pay(created.session_id)

    # Then Stripe's three events arrive signed, in its order, and merge into one payment
    assert receiver.topics() == [
        "checkout.session.completed",
        "payment_intent.succeeded",
        "charge.succeeded",
    ]
    mapped = payments(receiver.parsed())
    assert {p.payment_id for p in mapped} == {intent_id}
    assert {(p.order_id, p.attempt, p.status) for p in mapped} == {
        ("ord_01JSTRIPE", 2, PaymentStatus.SUCCEEDED)
    }
    assert {p.amount for p in mapped} == {Money(amount=4900, currency="PLN")}
    risk = mapped[2].risk
    assert risk is not None
    assert risk.level is RiskLevel.NORMAL
    assert mapped[2].method == "card"
    # And the lookup sees what the notifications said
    status = gateway.session_status(lookup_of(created.session_id))
    assert status is not None
    assert (status.status, status.payment_id, status.provider_event_id) == (
        PaymentStatus.SUCCEEDED,
        intent_id,
        f"{created.session_id}:paid:complete",
    )


def test_blik_completes_unpaid_then_settles(
    simulator: StripeSimulator, gateway: StripeGateway, receiver: WebhookReceiver
) -> None:
    created = gateway.create_session(session_request("blik"))
    simulator.pay(created.session_id)
    assert receiver.topics() == [
        "checkout.session.completed",
        "payment_intent.processing",
        "payment_intent.succeeded",
        "charge.succeeded",
        "checkout.session.async_payment_succeeded",
    ]
    mapped = payments(receiver.parsed())
    assert [p.status for p in mapped] == [
        PaymentStatus.PENDING,
        PaymentStatus.PENDING,
        PaymentStatus.SUCCEEDED,
        PaymentStatus.SUCCEEDED,
        PaymentStatus.SUCCEEDED,
    ]
    assert {p.method for p in mapped} == {"blik"}
    assert mapped[3].risk is None  # Radar does not assess BLIK: not_assessed


def test_a_risk_level_set_for_tests_reaches_the_charge(
    simulator: StripeSimulator, gateway: StripeGateway, receiver: WebhookReceiver
) -> None:
    simulator.next_risk_level = "elevated"
    created = gateway.create_session(session_request("card"))
    simulator.pay(created.session_id)
    risk = payments(receiver.parsed())[-1].risk
    assert risk is not None
    assert (risk.level, risk.detail) == (RiskLevel.ELEVATED, "risk_score 67")


def test_without_notifications_the_lookup_finds_the_payment(
    simulator: StripeSimulator, gateway: StripeGateway, receiver: WebhookReceiver
) -> None:
    created = gateway.create_session(session_request("bank_link"))
    simulator.pay(created.session_id, notify=False)
    assert receiver.received == []
    status = gateway.session_status(lookup_of(created.session_id))
    assert status is not None
    assert (status.status, status.method, status.attempt) == (
        PaymentStatus.SUCCEEDED,
        "bank_link",
        2,
    )


def test_a_declined_card_fails_the_intent_and_leaves_the_session_open(
    simulator: StripeSimulator, gateway: StripeGateway, receiver: WebhookReceiver
) -> None:
    created = gateway.create_session(session_request("card"))
    simulator.fail(created.session_id)
    assert receiver.topics() == ["charge.failed", "payment_intent.payment_failed"]
    (failed,) = payments(receiver.parsed())
    assert (failed.status, failed.failure_reason) == (
        PaymentStatus.FAILED,
        "Your card was declined.",
    )
    assert gateway.session_status(lookup_of(created.session_id)) is None  # may try again
    simulator.pay(created.session_id)  # the buyer tries another card: same PaymentIntent
    assert payments(receiver.parsed())[-1].payment_id == failed.payment_id


def test_a_refused_blik_fails_the_session(
    simulator: StripeSimulator, gateway: StripeGateway, receiver: WebhookReceiver
) -> None:
    created = gateway.create_session(session_request("blik"))
    simulator.fail(created.session_id)
    assert receiver.topics()[-1] == "checkout.session.async_payment_failed"
    assert payments(receiver.parsed())[-1].status is PaymentStatus.FAILED
    status = gateway.session_status(lookup_of(created.session_id))
    assert status is not None
    assert status.status is PaymentStatus.FAILED
    assert status.provider_event_id.endswith(":unpaid:complete:requires_payment_method")


def test_an_expired_session_is_cancelled_and_cannot_be_paid(
    simulator: StripeSimulator, gateway: StripeGateway, receiver: WebhookReceiver
) -> None:
    created = gateway.create_session(session_request("card"))
    simulator.expire(created.session_id)
    (expired,) = payments(receiver.parsed())
    assert (expired.status, expired.payment_id) == (PaymentStatus.CANCELLED, created.session_id)
    status = gateway.session_status(lookup_of(created.session_id))
    assert status is not None
    assert status.status is PaymentStatus.CANCELLED
    with pytest.raises(SimulatorError):
        simulator.pay(created.session_id)


def test_the_hosted_page_pays_and_sends_the_buyer_back(
    simulator: StripeSimulator,
    gateway: StripeGateway,
    receiver: WebhookReceiver,
    http: httpx.Client,
) -> None:
    created = gateway.create_session(session_request(None))
    back = http.post(created.redirect_url, data={"action": "pay", "method": "p24"})
    assert back.status_code == 303
    assert back.headers["Location"] == "https://shop.example/orders/ord_01JSTRIPE"
    charged = [p for p in payments(receiver.parsed()) if "charge" in p.provider_data]
    assert [p.method for p in charged] == ["bank_link"]


# -- idempotency, authentication, validation ------------------------------------------------------


def test_the_same_session_request_is_answered_once(
    simulator: StripeSimulator, gateway: StripeGateway, http: httpx.Client
) -> None:
    first = gateway.create_session(session_request("card"))
    again = gateway.create_session(session_request("card"))
    assert again == first
    # Stripe marks the replay
    encoded = urlencode(form_encode({"mode": "payment"}))
    replayed = http.post(
        f"{simulator.base_url}/v1/checkout/sessions",
        content=encoded,
        headers={
            "Authorization": f"Bearer {KEY}",
            "Content-Type": "application/x-www-form-urlencoded",
            "Idempotency-Key": "orderhub-session-ord_01JSTRIPE-2",
        },
    )
    assert replayed.status_code == 400  # other parameters under the same key
    assert replayed.json()["error"]["type"] == "idempotency_error"


def test_a_replay_is_marked_and_other_parameters_are_refused(
    simulator: StripeSimulator, gateway: StripeGateway, http: httpx.Client
) -> None:
    gateway.create_session(session_request("card"))
    body = simulator.requests[-1].body
    sent = urlencode(form_encode(body))
    headers = {
        "Authorization": f"Bearer {KEY}",
        "Content-Type": "application/x-www-form-urlencoded",
        "Idempotency-Key": "orderhub-session-ord_01JSTRIPE-2",
    }
    replay = http.post(f"{simulator.base_url}/v1/checkout/sessions", content=sent, headers=headers)
    assert replay.status_code == 200
    assert replay.headers["Idempotent-Replayed"] == "true"
    with pytest.raises(GatewayRejected) as refused:
        gateway.create_session(session_request("card", amount=Money(amount=5000, currency="PLN")))
    assert refused.value.code == "idempotency_error"


def test_a_wrong_key_is_refused_as_stripe_refuses_it(
    simulator: StripeSimulator, http: httpx.Client
) -> None:
    document = {"webhook_secret": SECRET, "api_key": "sk_test_wrong", "api_url": simulator.base_url}
    with pytest.raises(GatewayRejected, match="401") as refused:
        StripeGateway.from_secret(document, http).create_session(session_request())
    assert refused.value.code == "invalid_request_error"
    anonymous = http.get(f"{simulator.base_url}/v1/refunds/re_1")
    assert anonymous.status_code == 401
    assert "You did not provide an API key" in anonymous.json()["error"]["message"]
    basic = http.get(f"{simulator.base_url}/v1/refunds/re_1", auth=(KEY, ""))
    assert basic.status_code == 404  # authenticated; no such refund
    assert basic.json()["error"]["code"] == "resource_missing"


@pytest.mark.parametrize(
    ("form", "code"),
    [
        (
            {"mode": "payment", "success_url": "https://x.example", "colour": "red"},
            "parameter_unknown",
        ),
        ({"mode": "payment", "success_url": "https://x.example"}, "parameter_missing"),
        (
            {
                "mode": "payment",
                "line_items": [
                    {
                        "price_data": {
                            "currency": "pln",
                            "unit_amount": 100,
                            "product_data": {"name": "x"},
                        },
                        "quantity": 1,
                    }
                ],
                "success_url": "https://x.example",
            },
            "amount_too_small",
        ),
        (
            {
                "mode": "payment",
                "line_items": [
                    {
                        "price_data": {
                            "currency": "pln",
                            "unit_amount": "ten",
                            "product_data": {"name": "x"},
                        },
                        "quantity": 1,
                    }
                ],
                "success_url": "https://x.example",
            },
            "parameter_invalid_integer",
        ),
        (
            {
                "mode": "payment",
                "line_items": [
                    {
                        "price_data": {
                            "currency": "pln",
                            "unit_amount": 5000,
                            "product_data": {"name": "x"},
                        },
                        "quantity": 1,
                    }
                ],
                "success_url": "not a url",
            },
            "url_invalid",
        ),
    ],
)
def test_the_api_refuses_what_stripe_refuses(
    simulator: StripeSimulator, http: httpx.Client, form: dict[str, Any], code: str
) -> None:
    answer = http.post(
        f"{simulator.base_url}/v1/checkout/sessions",
        content=urlencode(form_encode(form)),
        headers={
            "Authorization": f"Bearer {KEY}",
            "Content-Type": "application/x-www-form-urlencoded",
        },
    )
    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == code


def test_blik_in_euro_is_refused_by_stripe_too(
    simulator: StripeSimulator, http: httpx.Client
) -> None:
    form = {
        "mode": "payment",
        "line_items": [
            {
                "price_data": {
                    "currency": "eur",
                    "unit_amount": 500,
                    "product_data": {"name": "x"},
                },
                "quantity": 1,
            }
        ],
        "payment_method_types": ["blik"],
        "success_url": "https://x.example",
    }
    answer = http.post(
        f"{simulator.base_url}/v1/checkout/sessions",
        content=urlencode(form_encode(form)),
        headers={
            "Authorization": f"Bearer {KEY}",
            "Content-Type": "application/x-www-form-urlencoded",
        },
    )
    assert answer.status_code == 400
    assert "blik" in answer.json()["error"]["message"]


def test_a_json_body_is_refused(simulator: StripeSimulator, http: httpx.Client) -> None:
    answer = http.post(
        f"{simulator.base_url}/v1/refunds", json={"payment_intent": "pi_1"}, auth=(KEY, "")
    )
    assert answer.status_code == 400


def test_a_secret_with_only_the_webhook_secret_takes_any_test_key(http: httpx.Client) -> None:
    sim = StripeSimulator.from_secret({"webhook_secret": SECRET})
    base = sim.start()
    try:
        assert sim.start() == base  # once
        document = {"api_key": "sk_test_anything", "api_url": base}
        created = StripeGateway.from_secret(document, http).create_session(session_request())
        assert created.session_id.startswith("cs_test_")
        live = http.get(f"{base}/v1/refunds/re_1", auth=("sk_live_nope", ""))
        assert live.status_code == 401
    finally:
        sim.stop()


# -- refunds --------------------------------------------------------------------------------------


def paid_intent(simulator: StripeSimulator, gateway: StripeGateway, method: str = "card") -> str:
    created = gateway.create_session(session_request(method))
    return simulator.pay(created.session_id, notify=False)


def refund_request(intent_id: str, amount: int = 1500, refund_id: str = "rfp_01J") -> RefundRequest:
    return RefundRequest(
        refund_id=refund_id,
        order_id="ord_01JSTRIPE",
        payment_id=intent_id,
        amount=Money(amount=amount, currency="PLN"),
        reason="customer returned the parcel",
        notify_url="https://hub.example/webhooks/payments/stripe",
    )


def refund_lookup(intent_id: str, provider_refund_id: str | None) -> RefundLookup:
    return RefundLookup(
        refund_id="rfp_01J",
        order_id="ord_01JSTRIPE",
        payment_id=intent_id,
        amount=Money(amount=1500, currency="PLN"),
        provider_refund_id=provider_refund_id,
    )


def test_a_refund_is_pending_then_completed_by_its_notification(
    simulator: StripeSimulator, gateway: StripeGateway, receiver: WebhookReceiver
) -> None:
    intent_id = paid_intent(simulator, gateway)
    accepted = gateway.refund(refund_request(intent_id))
    assert accepted.status is RefundStatus.PENDING
    served = simulator.requests[-1]
    assert (served.path, served.headers["Idempotency-Key"]) == ("/v1/refunds", "rfp_01J")
    assert served.body == {
        "payment_intent": intent_id,
        "amount": "1500",
        "metadata": {
            "refund_id": "rfp_01J",
            "order_id": "ord_01JSTRIPE",
            "reason": "customer returned the parcel",
        },
        "reason": "requested_by_customer",
    }
    simulator.settle()
    assert receiver.topics() == ["refund.created", "charge.refunded", "refund.updated"]
    parsed = receiver.parsed()
    assert parsed[1].event is None  # charge.refunded: refund.* carries the refund
    refunds = [p.event.refund for p in parsed if isinstance(p.event, RefundReported)]
    assert [r.status for r in refunds] == [RefundStatus.PENDING, RefundStatus.COMPLETED]
    assert {(r.refund_id, r.provider_refund_id, r.payment_id) for r in refunds} == {
        ("rfp_01J", accepted.provider_refund_id, intent_id)
    }
    assert {r.amount for r in refunds} == {Money(amount=1500, currency="PLN")}
    found = gateway.refund_status(refund_lookup(intent_id, accepted.provider_refund_id))
    assert found is not None
    assert found.status is RefundStatus.COMPLETED
    by_our_id = gateway.refund_status(refund_lookup(intent_id, None))
    assert by_our_id is not None
    assert by_our_id.provider_refund_id == accepted.provider_refund_id


def test_a_repeated_refund_is_the_same_refund(
    simulator: StripeSimulator, gateway: StripeGateway
) -> None:
    intent_id = paid_intent(simulator, gateway)
    simulator.hold_refunds = True
    first = gateway.refund(refund_request(intent_id))
    again = gateway.refund(refund_request(intent_id))
    assert again == first
    assert [r.status for r in simulator.requests if r.path == "/v1/refunds"] == [200, 200]
    made = gateway.refund_status(refund_lookup(intent_id, None))  # one refund, found by our id
    assert made is not None
    assert made.provider_refund_id == first.provider_refund_id
    with pytest.raises(GatewayRejected) as refused:
        gateway.refund(refund_request(intent_id, amount=4000, refund_id="rfp_02J"))
    assert refused.value.code == "amount_too_large"  # 4900 paid, 1500 refunded


def test_held_refunds_wait_for_the_bank(
    simulator: StripeSimulator, gateway: StripeGateway, receiver: WebhookReceiver
) -> None:
    intent_id = paid_intent(simulator, gateway)
    simulator.hold_refunds = True
    accepted = gateway.refund(refund_request(intent_id))
    simulator.settle()
    assert receiver.topics() == ["refund.created", "charge.refunded"]
    pending = gateway.refund_status(refund_lookup(intent_id, accepted.provider_refund_id))
    assert pending is not None
    assert pending.status is RefundStatus.PENDING
    assert accepted.provider_refund_id is not None
    simulator.fail_refund(accepted.provider_refund_id)
    failed = [p.event.refund for p in receiver.parsed() if isinstance(p.event, RefundReported)]
    assert (failed[-1].status, failed[-1].failure_reason) == (
        RefundStatus.FAILED,
        "expired_or_canceled_card",
    )
    # The money the failed refund held is refundable again
    again = gateway.refund(refund_request(intent_id, amount=4900, refund_id="rfp_03J"))
    assert again.provider_refund_id is not None
    simulator.complete_refund(again.provider_refund_id)
    done = gateway.refund_status(
        RefundLookup(
            refund_id="rfp_03J",
            order_id="ord_01JSTRIPE",
            payment_id=intent_id,
            amount=Money(amount=4900, currency="PLN"),
            provider_refund_id=again.provider_refund_id,
        )
    )
    assert done is not None
    assert done.status is RefundStatus.COMPLETED


def test_an_unpaid_session_cannot_be_refunded(
    simulator: StripeSimulator, gateway: StripeGateway
) -> None:
    created = gateway.create_session(session_request("card"))
    with pytest.raises(GatewayRejected) as refused:
        gateway.refund(refund_request(created.payment_id or ""))
    assert refused.value.code == "resource_missing"  # the session id is no PaymentIntent


# -- manual capture and disputes ------------------------------------------------------------------


def test_manual_capture_authorizes_then_the_gateway_captures(
    simulator: StripeSimulator,
    gateway: StripeGateway,
    receiver: WebhookReceiver,
    http: httpx.Client,
) -> None:
    # Given a session asking for manual capture (payment_intent_data[capture_method]=manual)
    form = {
        "mode": "payment",
        "client_reference_id": "ord_01JSTRIPE",
        "metadata": {"order_id": "ord_01JSTRIPE", "attempt": "2"},
        "payment_intent_data": {
            "capture_method": "manual",
            "metadata": {"order_id": "ord_01JSTRIPE", "attempt": "2"},
        },
        "line_items": [
            {
                "price_data": {
                    "currency": "pln",
                    "unit_amount": 4900,
                    "product_data": {"name": "x"},
                },
                "quantity": 1,
            }
        ],
        "success_url": "https://shop.example/back",
    }
    opened = http.post(
        f"{simulator.base_url}/v1/checkout/sessions",
        content=urlencode(form_encode(form)),
        headers={
            "Authorization": f"Bearer {KEY}",
            "Content-Type": "application/x-www-form-urlencoded",
        },
    ).json()
    simulator.pay(opened["id"])
    assert receiver.topics() == [
        "checkout.session.completed",
        "charge.succeeded",
        "payment_intent.amount_capturable_updated",
    ]
    held = payments(receiver.parsed())
    assert [(p.status, p.needs_capture) for p in held] == [
        (PaymentStatus.PENDING, False),
        (PaymentStatus.AUTHORIZED, True),
        (PaymentStatus.AUTHORIZED, True),
    ]
    looked_up = gateway.session_status(lookup_of(opened["id"]))
    assert looked_up is not None
    assert (looked_up.status, looked_up.needs_capture) == (PaymentStatus.AUTHORIZED, True)
    # When orderhub captures, Then the answer is the payment paid; a repeat is safe
    paid = gateway.capture(held[-1])
    assert paid is not None
    assert (paid.status, paid.amount.amount) == (PaymentStatus.SUCCEEDED, 4900)
    again = gateway.capture(held[-1])
    assert again is not None
    assert again.status is PaymentStatus.SUCCEEDED
    simulator.settle()
    assert receiver.topics()[-2:] == ["charge.captured", "payment_intent.succeeded"]


def test_a_dispute_names_the_payment(
    simulator: StripeSimulator, gateway: StripeGateway, receiver: WebhookReceiver
) -> None:
    intent_id = paid_intent(simulator, gateway)
    dispute_id = simulator.open_dispute(intent_id)
    simulator.close_dispute(dispute_id, won=True)
    disputes = [p.event.dispute for p in receiver.parsed() if isinstance(p.event, DisputeReported)]
    assert [(d.dispute_id, d.payment_id, d.status) for d in disputes] == [
        (dispute_id, intent_id, "needs_response"),
        (dispute_id, intent_id, "won"),
    ]
    assert disputes[0].amount == Money(amount=4900, currency="PLN")


# -- stripe-python as a second client -------------------------------------------------------------


def test_the_official_library_talks_to_the_simulator(
    simulator: StripeSimulator, gateway: StripeGateway
) -> None:
    client = stripe.StripeClient(
        KEY,
        base_addresses={"api": simulator.base_url},
        max_network_retries=0,
        stripe_version=API_VERSION,  # the version orderhub pins, not the library's own
    )
    params: Any = {
        "mode": "payment",
        "client_reference_id": "ord_01JSTRIPE",
        "metadata": {"order_id": "ord_01JSTRIPE", "attempt": "2"},
        "payment_intent_data": {
            "metadata": {"order_id": "ord_01JSTRIPE", "attempt": "2"},
            "description": "Order #1001",
        },
        "line_items": [
            {
                "price_data": {
                    "currency": "pln",
                    "unit_amount": 4900,
                    "product_data": {"name": "Order #1001"},
                },
                "quantity": 1,
            }
        ],
        "success_url": "https://shop.example/orders/ord_01JSTRIPE",
        "cancel_url": "https://shop.example/orders/ord_01JSTRIPE",
        "customer_email": "buyer@example.com",
        "payment_method_types": ["card"],
        "locale": "pl",
    }
    made = client.v1.checkout.sessions.create(params, {"idempotency_key": "sdk-1"})
    sdk_body = simulator.requests[-1].body
    # The gateway's request for the same session decodes to exactly what the SDK sent
    gateway.create_session(session_request("card"))
    assert simulator.requests[-1].body == sdk_body
    assert made.url is not None
    assert made.status == "open"
    intent_id = simulator.pay(made.id, notify=False)
    fetched = client.v1.checkout.sessions.retrieve(made.id, {"expand": ["payment_intent"]})
    assert fetched.payment_status == "paid"
    assert fetched.payment_intent is not None
    refund = client.v1.refunds.create({"payment_intent": intent_id, "amount": 100})
    assert (refund.status, refund.amount) == ("pending", 100)
    with pytest.raises(stripe.InvalidRequestError) as refused:
        client.v1.refunds.create({"payment_intent": intent_id, "amount": 999999})
    assert refused.value.code == "amount_too_large"
    simulator.settle()


def test_the_simulators_parameter_lists_are_stripes() -> None:
    from stripe.params._refund_create_params import RefundCreateParams
    from stripe.params.checkout._session_create_params import (
        SessionCreateParams,
        SessionCreateParamsLineItem,
        SessionCreateParamsLineItemPriceData,
        SessionCreateParamsLineItemPriceDataProductData,
        SessionCreateParamsPaymentIntentData,
    )

    from shared.providers.payments.stripe import simulator as sim

    # stripe-python 16 is generated for 2026-10-28.endive: payment_method_types (still in the
    # version orderhub pins) became allowed_payment_method_types in 2026-09-30.endive
    assert sim.session_params("2026-10-28.endive").issubset(
        set(SessionCreateParams.__annotations__)
    )
    assert sim.session_params(API_VERSION) - sim.session_params("2026-10-28.endive") == {
        "payment_method_types"
    }
    assert sim.LINE_ITEM_PARAMS.issubset(set(SessionCreateParamsLineItem.__annotations__))
    assert sim.PRICE_DATA_PARAMS.issubset(set(SessionCreateParamsLineItemPriceData.__annotations__))
    assert sim.PRODUCT_DATA_PARAMS.issubset(
        set(SessionCreateParamsLineItemPriceDataProductData.__annotations__)
    )
    assert sim.INTENT_DATA_PARAMS.issubset(
        set(SessionCreateParamsPaymentIntentData.__annotations__)
    )
    assert sim.REFUND_PARAMS.issubset(set(RefundCreateParams.__annotations__))
