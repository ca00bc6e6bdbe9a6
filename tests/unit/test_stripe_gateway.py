"""Stripe's gateway without a network: the form encoding against stripe-python's own encoder,
the simulator's decoder as its inverse, the request it sends for each call (an
httpx.MockTransport records it), and Stripe's errors mapped to final or retryable."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import httpx
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from stripe._encode import _api_encode

from shared.kernel.money import Money
from shared.payments.domain import PaymentEvent, PaymentStatus, RefundStatus
from shared.payments.gateway import (
    METHODS,
    GatewayRejected,
    GatewayUnavailable,
    RefundLookup,
    RefundRequest,
    SessionLookup,
    SessionRequest,
    UnsupportedMethod,
)
from shared.providers.payments.stripe.client import StripeGateway, form_encode, stripe_reason
from shared.providers.payments.stripe.simulator import StripeApiError, decode_form
from shared.providers.payments.stripe.webhook import API_VERSION

KEY = "sk_test_unit"
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
Handler = Callable[[httpx.Request], httpx.Response]


def gateway(handler: Handler, seen: list[httpx.Request] | None = None) -> StripeGateway:
    def record(request: httpx.Request) -> httpx.Response:
        if seen is not None:
            seen.append(request)
        return handler(request)

    http = httpx.Client(transport=httpx.MockTransport(record))
    return StripeGateway.from_secret(
        {"api_key": KEY, "webhook_secret": "whsec_x", "api_url": "https://stripe.test/"}, http
    )


def answer(document: dict[str, Any], status: int = 200, **headers: str) -> Handler:
    return lambda _: httpx.Response(status, json=document, headers=headers)


def session_request(**changes: Any) -> SessionRequest:
    fields: dict[str, Any] = {
        "order_id": "ord_01J",
        "attempt": 2,
        "amount": Money(amount=12345, currency="PLN"),
        "return_url": "https://shop.example/orders/ord_01J",
        "notify_url": "https://hub.example/webhooks/payments/stripe",
        "description": "Order #1001",
        "method": "blik",
        "buyer_email": "buyer@example.com",
    }
    return SessionRequest(**{**fields, **changes})


def form_of(request: httpx.Request) -> dict[str, str]:
    return dict(parse_qsl(request.content.decode(), keep_blank_values=True))


CREATED = {
    "id": "cs_test_1",
    "object": "checkout.session",
    "url": "https://checkout.stripe.com/c/pay/cs_test_1",
    "payment_intent": None,
}


# -- the bracket notation -------------------------------------------------------------------------

PARAM_NAMES = st.text("abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=8)
TEXTS = st.one_of(st.text(max_size=10), st.integers(-(10**12), 10**12))
# None and booleans as a map's values only: inside a list stripe-python sends them as the text
# "None" / "False" (str()), which no request of the gateway's holds.
VALUES = st.recursive(
    TEXTS | st.booleans() | st.none(),
    lambda inner: (
        st.lists(TEXTS | st.dictionaries(PARAM_NAMES, inner, max_size=3), max_size=3)
        | st.dictionaries(PARAM_NAMES, inner, max_size=3)
    ),
    max_leaves=10,
)
PARAMS = st.dictionaries(PARAM_NAMES, VALUES, max_size=5)


@given(PARAMS)
def test_form_encoding_is_what_stripe_python_sends(params: dict[str, Any]) -> None:
    assert urlencode(form_encode(params)) == urlencode(list(_api_encode(params)))


def test_the_session_parameters_encode_as_the_library_encodes_them() -> None:
    params = {
        "line_items": [{"price_data": {"currency": "pln", "unit_amount": 100}, "quantity": 1}],
        "metadata": {"order_id": "ord_1"},
        "payment_method_types": ["blik"],
    }
    assert form_encode(params) == [
        ("line_items[0][price_data][currency]", "pln"),
        ("line_items[0][price_data][unit_amount]", "100"),
        ("line_items[0][quantity]", "1"),
        ("metadata[order_id]", "ord_1"),
        ("payment_method_types[0]", "blik"),
    ]


def _depth(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + max((_depth(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((_depth(v) for v in value), default=0)
    return 0


@given(PARAMS)
def test_the_simulator_decodes_what_the_gateway_encodes(params: dict[str, Any]) -> None:
    # Stripe refuses keys nested deeper than its limit (the simulator too); no request of the
    # gateway's comes near it.
    assume(_depth(params) < 8)
    pairs = parse_qsl(urlencode(form_encode(params)), keep_blank_values=True)
    decoded = decode_form(pairs)

    def as_sent(value: Any) -> Any:  # what survives the wire: text, no None, no empty containers
        if isinstance(value, dict):
            kept = {k: as_sent(v) for k, v in value.items() if v is not None}
            return {k: v for k, v in kept.items() if v not in ({}, [])}
        if isinstance(value, list):
            kept_items = [as_sent(v) for v in value if v is not None]
            return [v for v in kept_items if v not in ({}, [])]
        if isinstance(value, bool):
            return "true" if value else "false"
        return str(value)

    expected = as_sent(params)

    def normalise(value: Any) -> Any:  # a dict of "0", "1" ... keys reads back as a list
        if isinstance(value, dict):
            inner = {k: normalise(v) for k, v in value.items()}
            if inner and all(k.isdigit() for k in inner):
                return [inner[k] for k in sorted(inner, key=int)]
            return inner
        if isinstance(value, list):
            return [normalise(v) for v in value]
        return value

    assert decoded == normalise(expected)


@pytest.mark.parametrize(
    "pairs",
    [
        [("a", "1"), ("a[b]", "2")],
        [("a[b]", "2"), ("a", "1")],
        [("[x]", "1")],
        [("a]b", "1")],
        [("a" + "[b]" * 9, "1")],
    ],
)
def test_the_simulator_refuses_broken_bracket_notation(pairs: list[tuple[str, str]]) -> None:
    with pytest.raises(StripeApiError) as refused:
        decode_form(pairs)
    assert refused.value.status == 400


def test_empty_brackets_append() -> None:
    assert decode_form([("expand[]", "payment_intent"), ("expand[]", "charge")]) == {
        "expand": ["payment_intent", "charge"]
    }


# -- create_session -------------------------------------------------------------------------------


def test_create_session_sends_the_documented_request() -> None:
    seen: list[httpx.Request] = []
    created = gateway(answer(CREATED), seen).create_session(session_request())
    (request,) = seen
    assert (request.method, request.url.path) == ("POST", "/v1/checkout/sessions")
    assert request.url.host == "stripe.test"
    assert request.headers["Authorization"] == f"Bearer {KEY}"
    assert request.headers["Idempotency-Key"] == "orderhub-session-ord_01J-2"
    assert request.headers["Stripe-Version"] == API_VERSION
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert form_of(request) == {
        "mode": "payment",
        "client_reference_id": "ord_01J",
        "metadata[order_id]": "ord_01J",
        "metadata[attempt]": "2",
        "payment_intent_data[metadata][order_id]": "ord_01J",
        "payment_intent_data[metadata][attempt]": "2",
        "payment_intent_data[description]": "Order #1001",
        "line_items[0][price_data][currency]": "pln",
        "line_items[0][price_data][unit_amount]": "12345",
        "line_items[0][price_data][product_data][name]": "Order #1001",
        "line_items[0][quantity]": "1",
        "success_url": "https://shop.example/orders/ord_01J",
        "cancel_url": "https://shop.example/orders/ord_01J",
        "customer_email": "buyer@example.com",
        "payment_method_types[0]": "blik",
        "locale": "pl",
    }
    # Then the session has no PaymentIntent yet: the session id stands for the payment
    assert (created.session_id, created.redirect_url, created.reference, created.payment_id) == (
        "cs_test_1",
        "https://checkout.stripe.com/c/pay/cs_test_1",
        "ord_01J",
        "cs_test_1",
    )


@pytest.mark.parametrize(
    ("method", "stripe_type"),
    [
        ("card", "card"),
        ("apple_pay", "card"),
        ("google_pay", "card"),
        ("blik", "blik"),
        ("bank_link", "p24"),
        ("pay_later", "klarna"),
        (None, None),
    ],
)
def test_each_method_is_a_checkout_payment_method_type(
    method: str | None, stripe_type: str | None
) -> None:
    seen: list[httpx.Request] = []
    gateway(answer(CREATED), seen).create_session(session_request(method=method))
    assert form_of(seen[0]).get("payment_method_types[0]") == stripe_type


def test_the_methods_are_orderhubs_words() -> None:
    assert StripeGateway.methods <= METHODS
    assert {"paypal", "installments"}.isdisjoint(StripeGateway.methods)


@pytest.mark.parametrize(
    ("method", "currency"),
    [("paypal", "PLN"), ("installments", "PLN"), ("blik", "EUR"), ("bank_link", "USD")],
)
def test_a_method_stripe_does_not_offer_is_refused_before_any_call(
    method: str, currency: str
) -> None:
    seen: list[httpx.Request] = []
    with pytest.raises(UnsupportedMethod):
        gateway(answer(CREATED), seen).create_session(
            session_request(method=method, amount=Money(amount=5000, currency=currency))
        )
    assert seen == []


def test_amounts_cross_into_stripes_units() -> None:
    seen: list[httpx.Request] = []
    gateway(answer(CREATED), seen).create_session(
        session_request(method="card", amount=Money(amount=50000, currency="MGA"))
    )
    # MGA: two ISO decimals, zero in Stripe's API
    assert form_of(seen[0])["line_items[0][price_data][unit_amount]"] == "500"


def test_an_amount_stripe_cannot_express_is_refused() -> None:
    # MGA has two decimals in ISO 4217 and none in Stripe's API: 500.01 MGA cannot be charged
    with pytest.raises(GatewayRejected, match="MGA"):
        gateway(answer(CREATED)).create_session(
            session_request(method="card", amount=Money(amount=50001, currency="MGA"))
        )


def test_no_buyer_email_and_an_unknown_language_send_nothing() -> None:
    seen: list[httpx.Request] = []
    gateway(answer(CREATED), seen).create_session(
        session_request(buyer_email=None, language="xx", description="  ")
    )
    form = form_of(seen[0])
    assert "customer_email" not in form
    assert "locale" not in form
    assert form["line_items[0][price_data][product_data][name]"] == "Order ord_01J"


def test_a_session_with_its_intent_already_names_it() -> None:
    created = gateway(answer({**CREATED, "payment_intent": "pi_1"})).create_session(
        session_request()
    )
    assert created.payment_id == "pi_1"


# -- errors ---------------------------------------------------------------------------------------


def error(kind: str, message: str, code: str | None = None, **more: str) -> dict[str, Any]:
    body: dict[str, Any] = {"type": kind, "message": message, **more}
    if code:
        body["code"] = code
    return {"error": body}


@pytest.mark.parametrize(
    ("status", "document", "code"),
    [
        (
            402,
            error(
                "card_error", "Your card was declined.", "card_declined", decline_code="fraudulent"
            ),
            "card_declined",
        ),
        (
            400,
            error("invalid_request_error", "Missing param", "parameter_missing"),
            "parameter_missing",
        ),
        (400, error("idempotency_error", "Keys for idempotent requests ..."), "idempotency_error"),
        (
            401,
            error("invalid_request_error", "Invalid API Key provided: sk_test_****"),
            "invalid_request_error",
        ),
        (
            404,
            error("invalid_request_error", "No such refund", "resource_missing"),
            "resource_missing",
        ),
        (403, {"unexpected": True}, "403"),
    ],
)
def test_stripes_final_refusals_are_rejected_with_its_code(
    status: int, document: dict[str, Any], code: str
) -> None:
    with pytest.raises(GatewayRejected) as refused:
        gateway(answer(document, status)).create_session(session_request())
    assert refused.value.code == code
    assert not isinstance(refused.value, GatewayUnavailable)


@pytest.mark.parametrize("status", [409, 429, 500, 502, 503])
def test_rate_limits_conflicts_and_outages_are_retryable(status: int) -> None:
    document = error("api_error", "Something went wrong", "rate_limit")
    with pytest.raises(GatewayUnavailable):
        gateway(answer(document, status)).create_session(session_request())


def test_stripe_should_retry_overrides_a_4xx() -> None:
    document = error("invalid_request_error", "lock_timeout", "lock_timeout")
    with pytest.raises(GatewayUnavailable):
        gateway(answer(document, 400, **{"Stripe-Should-Retry": "true"})).create_session(
            session_request()
        )


@pytest.mark.parametrize(
    "failure",
    [
        httpx.ReadTimeout("read timed out"),
        httpx.ConnectError("connection refused"),
        httpx.RemoteProtocolError("peer closed"),
    ],
)
def test_transport_failures_are_retryable(failure: Exception) -> None:
    def fail(_: httpx.Request) -> httpx.Response:
        raise failure

    with pytest.raises(GatewayUnavailable):
        gateway(fail).create_session(session_request())


@pytest.mark.parametrize(
    "response",
    [
        httpx.Response(200, content=b"<html>"),
        httpx.Response(200, json=["not", "an", "object"]),
        httpx.Response(200, json={"object": "checkout.session"}),
    ],
)
def test_an_answer_not_as_documented_is_retryable(response: httpx.Response) -> None:
    with pytest.raises(GatewayUnavailable):
        gateway(lambda _: response).create_session(session_request())


def test_a_session_without_a_url_is_refused() -> None:
    with pytest.raises(GatewayRejected, match="url"):
        gateway(answer({**CREATED, "url": None})).create_session(session_request())


def test_a_missing_key_is_a_configuration_error() -> None:
    with pytest.raises(ValueError, match="api_key"):
        StripeGateway.from_secret({"webhook_secret": "whsec_x"}, httpx.Client())


# -- refunds, captures, lookups -------------------------------------------------------------------


def refund_request(**changes: Any) -> RefundRequest:
    fields: dict[str, Any] = {
        "refund_id": "rfp_01JPART",
        "order_id": "ord_01J",
        "payment_id": "pi_3Ord",
        "amount": Money(amount=2500, currency="PLN"),
        "reason": "customer returned the parcel",
        "notify_url": "https://hub.example/webhooks/payments/stripe",
    }
    return RefundRequest(**{**fields, **changes})


def refund_object(status: str, **changes: Any) -> dict[str, Any]:
    return {
        "id": "re_1",
        "object": "refund",
        "amount": 2500,
        "currency": "pln",
        "status": status,
        "payment_intent": "pi_3Ord",
        "charge": "ch_1",
        "metadata": {"refund_id": "rfp_01JPART", "order_id": "ord_01J"},
        **changes,
    }


def test_refund_sends_the_documented_request() -> None:
    seen: list[httpx.Request] = []
    accepted = gateway(answer(refund_object("pending")), seen).refund(refund_request())
    (request,) = seen
    assert (request.method, request.url.path) == ("POST", "/v1/refunds")
    assert request.headers["Idempotency-Key"] == "rfp_01JPART"
    assert form_of(request) == {
        "payment_intent": "pi_3Ord",
        "amount": "2500",
        "metadata[refund_id]": "rfp_01JPART",
        "metadata[order_id]": "ord_01J",
        "metadata[reason]": "customer returned the parcel",
        "reason": "requested_by_customer",
    }
    assert (accepted.status, accepted.provider_refund_id) == (RefundStatus.PENDING, "re_1")


@pytest.mark.parametrize(
    ("stripe_status", "status"),
    [
        ("succeeded", RefundStatus.COMPLETED),
        ("pending", RefundStatus.PENDING),
        ("requires_action", RefundStatus.PENDING),
        ("failed", RefundStatus.FAILED),
        ("canceled", RefundStatus.FAILED),
    ],
)
def test_the_refunds_answer_maps_its_status(stripe_status: str, status: RefundStatus) -> None:
    accepted = gateway(answer(refund_object(stripe_status))).refund(refund_request())
    assert accepted.status is status
    assert (accepted.failure_reason is not None) == (status is RefundStatus.FAILED)


def test_a_charge_is_refunded_by_its_charge_id() -> None:
    seen: list[httpx.Request] = []
    gateway(answer(refund_object("pending")), seen).refund(refund_request(payment_id="ch_1"))
    assert form_of(seen[0])["charge"] == "ch_1"
    assert "payment_intent" not in form_of(seen[0])


@pytest.mark.parametrize(
    ("reason", "stripe"),
    [
        ("customer returned the parcel", "requested_by_customer"),
        ("order cancelled by the buyer", "requested_by_customer"),
        ("already_paid_refund_needed", "duplicate"),
        ("duplicate payment", "duplicate"),
        ("suspected fraud", "fraudulent"),
        ("price adjustment", None),
        ("", None),
    ],
)
def test_refund_reasons_fit_stripes_three_or_none(reason: str, stripe: str | None) -> None:
    assert stripe_reason(reason) == stripe


INTENT = {
    "id": "pi_3Ord",
    "object": "payment_intent",
    "amount": 4900,
    "amount_received": 4900,
    "currency": "pln",
    "status": "succeeded",
    "metadata": {"order_id": "ord_01J", "attempt": "2"},
    "payment_method_types": ["card"],
}


def authorized() -> PaymentEvent:
    return PaymentEvent(
        provider="stripe",
        provider_event_id="evt_auth",
        payment_id="pi_3Ord",
        order_id="ord_01J",
        attempt=2,
        status=PaymentStatus.AUTHORIZED,
        amount=Money(amount=4900, currency="PLN"),
        occurred_at=NOW,
        needs_capture=True,
    )


def test_capture_posts_to_the_intent_and_reports_it_paid() -> None:
    seen: list[httpx.Request] = []
    paid = gateway(answer(INTENT), seen).capture(authorized())
    (request,) = seen
    assert (request.method, request.url.path) == ("POST", "/v1/payment_intents/pi_3Ord/capture")
    assert request.headers["Idempotency-Key"] == "orderhub-capture-pi_3Ord"
    assert paid is not None
    assert (paid.status, paid.amount.amount, paid.needs_capture) == (
        PaymentStatus.SUCCEEDED,
        4900,
        False,
    )
    assert (paid.order_id, paid.attempt, paid.provider_event_id) == (
        "ord_01J",
        2,
        "pi_3Ord:capture:succeeded",
    )


def test_a_repeated_capture_reads_the_intent_instead() -> None:
    def stripe(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            return httpx.Response(
                400,
                json=error(
                    "invalid_request_error",
                    "This PaymentIntent could not be captured because it has a status of "
                    "succeeded.",
                    "payment_intent_unexpected_state",
                ),
            )
        return httpx.Response(200, json=INTENT)

    seen: list[httpx.Request] = []
    paid = gateway(stripe, seen).capture(authorized())
    assert [r.method for r in seen] == ["POST", "GET"]
    assert paid is not None
    assert paid.status is PaymentStatus.SUCCEEDED


def test_capturing_something_not_an_intent_is_refused() -> None:
    payment = authorized().model_copy(update={"payment_id": "cs_test_1"})
    with pytest.raises(GatewayRejected):
        gateway(answer(INTENT)).capture(payment)


def session_object(**changes: Any) -> dict[str, Any]:
    return {
        "id": "cs_test_1",
        "object": "checkout.session",
        "client_reference_id": "ord_01J",
        "amount_total": 4900,
        "currency": "pln",
        "payment_status": "unpaid",
        "status": "open",
        "payment_intent": None,
        "metadata": {"order_id": "ord_01J", "attempt": "2"},
        "payment_method_types": ["blik"],
        **changes,
    }


def lookup() -> SessionLookup:
    return SessionLookup(
        order_id="ord_01J",
        attempt=2,
        session_id="cs_test_1",
        reference="ord_01J",
        amount=Money(amount=4900, currency="PLN"),
    )


def test_session_status_asks_for_the_session_with_its_intent() -> None:
    seen: list[httpx.Request] = []
    assert gateway(answer(session_object()), seen).session_status(lookup()) is None
    (request,) = seen
    assert (request.method, request.url.path) == ("GET", "/v1/checkout/sessions/cs_test_1")
    assert parse_qsl(urlsplit(str(request.url)).query) == [("expand[0]", "payment_intent")]
    assert "Idempotency-Key" not in request.headers


@pytest.mark.parametrize(
    ("changes", "status", "event_id"),
    [
        (
            {"status": "complete", "payment_status": "paid", "payment_intent": "pi_3Ord"},
            PaymentStatus.SUCCEEDED,
            "cs_test_1:paid:complete",
        ),
        (
            {"status": "complete", "payment_intent": {**INTENT, "status": "processing"}},
            PaymentStatus.PENDING,
            "cs_test_1:unpaid:complete:processing",
        ),
        (
            {
                "status": "complete",
                "payment_intent": {**INTENT, "status": "requires_payment_method"},
            },
            PaymentStatus.FAILED,
            "cs_test_1:unpaid:complete:requires_payment_method",
        ),
        (
            {"status": "complete", "payment_intent": {**INTENT, "status": "requires_capture"}},
            PaymentStatus.AUTHORIZED,
            "cs_test_1:unpaid:complete:requires_capture",
        ),
        ({"status": "expired"}, PaymentStatus.CANCELLED, "cs_test_1:unpaid:expired"),
    ],
)
def test_session_status_maps_as_the_notifications_do(
    changes: dict[str, Any], status: PaymentStatus, event_id: str
) -> None:
    payment = gateway(answer(session_object(**changes))).session_status(lookup())
    assert payment is not None
    assert (payment.status, payment.provider_event_id) == (status, event_id)
    assert (payment.order_id, payment.attempt, payment.method) == ("ord_01J", 2, "blik")
    assert payment.needs_capture == (status is PaymentStatus.AUTHORIZED)
    assert payment.test is True
    expected_id = "cs_test_1" if changes.get("payment_intent") is None else "pi_3Ord"
    assert payment.payment_id == expected_id


def test_a_session_without_its_reference_is_named_by_the_lookup() -> None:
    found = session_object(
        status="complete", payment_status="paid", client_reference_id=None, metadata={}
    )
    payment = gateway(answer(found)).session_status(lookup())
    assert payment is not None
    assert payment.order_id == "ord_01J"


def refund_lookup(**changes: Any) -> RefundLookup:
    fields: dict[str, Any] = {
        "refund_id": "rfp_01JPART",
        "order_id": "ord_01J",
        "payment_id": "pi_3Ord",
        "amount": Money(amount=2500, currency="PLN"),
        "provider_refund_id": "re_1",
    }
    return RefundLookup(**{**fields, **changes})


def test_refund_status_reads_the_refund() -> None:
    seen: list[httpx.Request] = []
    event = gateway(answer(refund_object("succeeded")), seen).refund_status(refund_lookup())
    assert (seen[0].method, seen[0].url.path) == ("GET", "/v1/refunds/re_1")
    assert event is not None
    assert (event.status, event.refund_id, event.provider_event_id) == (
        RefundStatus.COMPLETED,
        "rfp_01JPART",
        "re_1:succeeded",
    )


def test_a_refund_stripe_does_not_know_is_none() -> None:
    missing = error("invalid_request_error", "No such refund: 're_1'", "resource_missing")
    assert gateway(answer(missing, 404)).refund_status(refund_lookup()) is None


def test_a_refund_whose_answer_was_lost_is_found_by_orderhubs_id() -> None:
    seen: list[httpx.Request] = []
    listed = {
        "object": "list",
        "data": [
            refund_object("succeeded", id="re_other", metadata={"refund_id": "rfp_other"}),
            refund_object("pending"),
        ],
    }
    event = gateway(answer(listed), seen).refund_status(refund_lookup(provider_refund_id=None))
    assert seen[0].url.path == "/v1/refunds"
    assert dict(parse_qsl(urlsplit(str(seen[0].url)).query)) == {
        "payment_intent": "pi_3Ord",
        "limit": "100",
    }
    assert event is not None
    assert (event.provider_refund_id, event.status) == ("re_1", RefundStatus.PENDING)


def test_the_error_body_names_the_decline() -> None:
    document = error("card_error", "Your card was declined.", "card_declined", decline_code="lost")
    with pytest.raises(GatewayRejected, match=r"card_declined \(lost\)"):
        gateway(answer(document, 402)).create_session(session_request())


def test_requests_carry_no_body_on_get() -> None:
    seen: list[httpx.Request] = []
    gateway(answer(refund_object("pending")), seen).refund_status(refund_lookup())
    assert seen[0].content == b""
    assert json.loads(json.dumps(dict(seen[0].headers)))["stripe-version"] == API_VERSION
