"""Stripe: refunds, disputes, Radar's risk on charges, manual capture, attempts and expired
sessions mapped to canonical events (objects from Stripe's OpenAPI fixtures), and hostile
bodies that must end in MalformedWebhook."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.inbox.contract import Headers, MalformedWebhook, ParsedWebhook, WebhookRequest
from shared.inbox.events import DisputeReported, PaymentReported, RefundReported
from shared.kernel.money import Money
from shared.payments.domain import (
    DisputeEvent,
    PaymentEvent,
    PaymentStatus,
    RefundEvent,
    RefundStatus,
    RiskLevel,
)
from shared.providers.payments.stripe.simulator import StripeSimulator
from shared.providers.payments.stripe.webhook import StripeWebhooks
from tests.unit.conftest import fixture_json

CREATED = 1700000000


@pytest.fixture
def charge() -> dict[str, Any]:
    """Stripe's OpenAPI Charge fixture (payment_intent null, metadata {}, refunds listed)."""
    found: dict[str, Any] = fixture_json("stripe/charge_object_openapi_fixture.json")
    return found


@pytest.fixture
def refund() -> dict[str, Any]:
    """Stripe's OpenAPI Refund fixture (a charge refund: payment_intent null, metadata {})."""
    found: dict[str, Any] = fixture_json("stripe/refund_object_openapi_fixture.json")
    return found


@pytest.fixture
def dispute() -> dict[str, Any]:
    """Stripe's OpenAPI Dispute fixture (payment_intent null, status warning_needs_response)."""
    found: dict[str, Any] = fixture_json("stripe/dispute_object_openapi_fixture.json")
    return found


def body_of(event_type: str, obj: Any, *, livemode: bool = False) -> bytes:
    return json.dumps(
        {
            "id": "evt_1",
            "object": "event",
            "type": event_type,
            "created": CREATED,
            "livemode": livemode,
            "data": {"object": obj},
        }
    ).encode()


def parse(body: bytes) -> ParsedWebhook:
    return StripeWebhooks().parse(
        WebhookRequest(Headers({}), raw_body=body, received_at=datetime.now(UTC))
    )


def refund_of(body: bytes) -> RefundEvent:
    parsed = parse(body)
    assert isinstance(parsed.event, RefundReported), parsed.ignored_reason
    return parsed.event.refund


def payment_of(body: bytes) -> PaymentEvent:
    parsed = parse(body)
    assert isinstance(parsed.event, PaymentReported), parsed.ignored_reason
    return parsed.event.payment


def dispute_of(body: bytes) -> DisputeEvent:
    parsed = parse(body)
    assert isinstance(parsed.event, DisputeReported), parsed.ignored_reason
    return parsed.event.dispute


def orderhub_refund(refund: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """The fixture as a refund orderhub asked for: metadata and the PaymentIntent set."""
    asked = copy.deepcopy(refund)
    asked.update(
        payment_intent="pi_3Ord",
        currency="pln",
        amount=2500,
        metadata={"refund_id": "rfp_01J", "order_id": "ord_7"},
    )
    asked.update(changes)
    return asked


# -- refunds --------------------------------------------------------------------------------------


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
def test_refund_updated_maps_every_documented_status(
    refund: dict[str, Any], stripe_status: str, status: RefundStatus
) -> None:
    # Given a refund orderhub asked for, in each status Stripe documents
    event = refund_of(body_of("refund.updated", orderhub_refund(refund, status=stripe_status)))
    # Then the refund is reported in orderhub's words, named both ways
    assert event.status is status
    assert (event.refund_id, event.provider_refund_id) == ("rfp_01J", "re_1Pgc72B7WZ01zgkWqPvrRrPE")
    assert (event.order_id, event.payment_id) == ("ord_7", "pi_3Ord")
    assert event.amount == Money(amount=2500, currency="PLN")
    assert (event.provider, event.provider_event_id, event.test) == ("stripe", "evt_1", True)
    assert event.occurred_at == datetime.fromtimestamp(CREATED, tz=UTC)
    assert (event.failure_reason is not None) == (status is RefundStatus.FAILED)


def test_a_failed_refund_says_why(refund: dict[str, Any]) -> None:
    failed = orderhub_refund(refund, status="failed", failure_reason="expired_or_canceled_card")
    event = refund_of(body_of("refund.failed", failed))
    assert (event.status, event.failure_reason) == (RefundStatus.FAILED, "expired_or_canceled_card")


@pytest.mark.parametrize("event_type", ["refund.created", "refund.updated", "refund.failed"])
def test_every_refund_event_type_is_a_refund(refund: dict[str, Any], event_type: str) -> None:
    assert refund_of(body_of(event_type, orderhub_refund(refund))).provider_refund_id


def test_a_dashboard_refund_names_its_payment_only(refund: dict[str, Any]) -> None:
    # Given a refund made in the Dashboard: no metadata, the PaymentIntent set
    made_there = {**refund, "payment_intent": "pi_3Dash"}
    event = refund_of(body_of("refund.updated", made_there))
    # Then the lead finds the order by the payment
    assert (event.refund_id, event.order_id, event.payment_id) == (None, None, "pi_3Dash")
    assert event.status is RefundStatus.COMPLETED


def test_the_published_refund_of_a_bare_charge_names_the_charge(refund: dict[str, Any]) -> None:
    # Given the fixture as published: payment_intent null, charge set
    event = refund_of(body_of("refund.updated", refund))
    assert event.payment_id == "ch_1PgafuB7WZ01zgkWXYmPNZs8"
    assert event.amount == Money(amount=100, currency="USD")


def test_a_refund_naming_nothing_is_ignored(refund: dict[str, Any]) -> None:
    parsed = parse(body_of("refund.updated", {**refund, "charge": None}))
    assert parsed.event is None
    assert parsed.ignored_reason == "refund names no payment intent, charge or order"


def test_a_refund_status_stripe_never_documented_is_ignored(refund: dict[str, Any]) -> None:
    parsed = parse(body_of("refund.updated", orderhub_refund(refund, status="teleported")))
    assert parsed.event is None
    assert parsed.ignored_reason is not None
    assert "teleported" in parsed.ignored_reason


def test_a_zero_refund_is_malformed(refund: dict[str, Any]) -> None:
    with pytest.raises(MalformedWebhook):
        parse(body_of("refund.updated", orderhub_refund(refund, amount=0)))


def test_charge_refunded_without_its_refunds_is_ignored(charge: dict[str, Any]) -> None:
    # Given a charge as API 2022-11-15 and later send it: no `refunds`
    refunded = {k: v for k, v in charge.items() if k != "refunds"}
    parsed = parse(body_of("charge.refunded", {**refunded, "amount_refunded": 100}))
    # Then refund.* carries the refund; this event is only the charge's
    assert parsed.event is None
    assert parsed.ignored_reason is not None
    assert "refund.updated" in parsed.ignored_reason


def test_charge_refunded_with_an_empty_refund_list_is_ignored(charge: dict[str, Any]) -> None:
    # Given the fixture as published: refunds {"object": "list", "data": []}
    assert parse(body_of("charge.refunded", charge)).event is None


def test_charge_refunded_carrying_its_refunds_reports_the_latest(
    charge: dict[str, Any], refund: dict[str, Any]
) -> None:
    # Given a charge from an endpoint on an older API version, refunds included
    older = orderhub_refund(refund, id="re_old", created=100, payment_intent=None)
    latest = orderhub_refund(refund, id="re_new", created=200, payment_intent=None)
    refunded = {
        **charge,
        "payment_intent": "pi_3Ord",
        "refunds": {"object": "list", "data": [latest, older], "has_more": False},
    }
    event = refund_of(body_of("charge.refunded", refunded))
    # Then the most recent refund is reported, with the charge's PaymentIntent
    assert (event.provider_refund_id, event.payment_id) == ("re_new", "pi_3Ord")


# -- disputes -------------------------------------------------------------------------------------


def test_the_published_dispute_names_its_charge(dispute: dict[str, Any]) -> None:
    event = dispute_of(body_of("charge.dispute.created", dispute))
    assert (event.dispute_id, event.payment_id) == (
        "dp_1Pgc71B7WZ01zgkWMevJiAUx",
        "ch_1PgafuB7WZ01zgkWXYmPNZs8",
    )
    assert (event.reason, event.status, event.order_id) == (
        "general",
        "warning_needs_response",
        None,
    )
    assert event.amount == Money(amount=1000, currency="USD")


@pytest.mark.parametrize(
    "event_type",
    [
        "charge.dispute.created",
        "charge.dispute.updated",
        "charge.dispute.closed",
        "charge.dispute.funds_withdrawn",
        "charge.dispute.funds_reinstated",
    ],
)
def test_a_dispute_of_a_payment_intent_names_the_intent(
    dispute: dict[str, Any], event_type: str
) -> None:
    event = dispute_of(body_of(event_type, {**dispute, "payment_intent": "pi_3Ord"}))
    assert event.payment_id == "pi_3Ord"


def test_a_dispute_naming_no_payment_is_ignored(dispute: dict[str, Any]) -> None:
    parsed = parse(body_of("charge.dispute.created", {**dispute, "charge": None}))
    assert parsed.event is None


# -- charges: Radar's verdict ---------------------------------------------------------------------


def orderhub_charge(charge: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """The fixture as a PaymentIntent's charge: the intent's metadata copied onto it."""
    made = copy.deepcopy(charge)
    made.update(
        payment_intent="pi_3Ord",
        currency="pln",
        amount=4900,
        amount_captured=4900,
        captured=True,
        metadata={"order_id": "ord_7", "attempt": "2"},
    )
    made["outcome"].update(risk_level="normal", risk_score=12)
    made.update(changes)
    return made


@pytest.mark.parametrize("level", ["normal", "elevated", "highest"])
def test_charge_succeeded_carries_radars_risk_level(charge: dict[str, Any], level: str) -> None:
    made = orderhub_charge(charge)
    made["outcome"].update(risk_level=level, risk_score=77)
    payment = payment_of(body_of("charge.succeeded", made))
    assert payment.risk is not None
    assert (payment.risk.level, payment.risk.detail) == (RiskLevel(level), "risk_score 77")
    # The same payment record as payment_intent.succeeded: the intent is the payment
    assert (payment.payment_id, payment.order_id, payment.attempt) == ("pi_3Ord", "ord_7", 2)
    assert (payment.status, payment.amount) == (
        PaymentStatus.SUCCEEDED,
        Money(amount=4900, currency="PLN"),
    )
    assert payment.provider_data == {"charge": "ch_1PgafuB7WZ01zgkWXYmPNZs8"}


@pytest.mark.parametrize("level", ["not_assessed", "unknown", None])
def test_no_assessment_is_no_risk(charge: dict[str, Any], level: str | None) -> None:
    made = orderhub_charge(charge)
    made["outcome"].update(risk_level=level, risk_score=None)
    assert payment_of(body_of("charge.succeeded", made)).risk is None


def test_a_score_stripe_did_not_give_is_not_invented(charge: dict[str, Any]) -> None:
    made = orderhub_charge(charge)
    made["outcome"] = {"type": "authorized", "risk_level": "elevated"}
    risk = payment_of(body_of("charge.succeeded", made)).risk
    assert risk is not None
    assert (risk.level, risk.detail, risk.high) == (RiskLevel.ELEVATED, None, True)


def test_the_amount_captured_is_what_was_paid(charge: dict[str, Any]) -> None:
    made = orderhub_charge(charge, amount=5000, amount_captured=4000)
    assert payment_of(body_of("charge.succeeded", made)).amount.amount == 4000


def test_an_uncaptured_charge_is_authorized_money_to_capture(charge: dict[str, Any]) -> None:
    made = orderhub_charge(charge, captured=False, amount_captured=0)
    payment = payment_of(body_of("charge.succeeded", made))
    assert (payment.status, payment.needs_capture) == (PaymentStatus.AUTHORIZED, True)
    assert payment.amount.amount == 4900


@pytest.mark.parametrize(
    ("details", "method"),
    [
        ({"type": "card", "card": {"wallet": None}}, "card"),
        ({"type": "card", "card": {"wallet": {"type": "apple_pay"}}}, "apple_pay"),
        ({"type": "card", "card": {"wallet": {"type": "google_pay"}}}, "google_pay"),
        ({"type": "card", "card": {"wallet": {"type": "link"}}}, "card"),
        ({"type": "blik", "blik": {}}, "blik"),
        ({"type": "p24", "p24": {"bank": "ing"}}, "bank_link"),
        ({"type": "klarna", "klarna": {}}, "pay_later"),
        ({"type": "sepa_debit", "sepa_debit": {}}, "sepa_debit"),
    ],
)
def test_the_method_is_in_orderhubs_words(
    charge: dict[str, Any], details: dict[str, Any], method: str
) -> None:
    made = orderhub_charge(charge, payment_method_details=details)
    assert payment_of(body_of("charge.succeeded", made)).method == method


def test_a_charge_outside_a_payment_intent_is_ignored(charge: dict[str, Any]) -> None:
    # Given the fixture as published: payment_intent null
    parsed = parse(body_of("charge.succeeded", charge))
    assert parsed.event is None
    assert parsed.ignored_reason is not None
    assert "payment_intent" in parsed.ignored_reason


def test_a_charge_without_the_order_is_ignored(charge: dict[str, Any]) -> None:
    parsed = parse(body_of("charge.succeeded", orderhub_charge(charge, metadata={})))
    assert parsed.ignored_reason == "charge has no metadata.order_id"


# -- manual capture, attempts, expiry -------------------------------------------------------------


def test_amount_capturable_updated_is_authorized(payment_intent: dict[str, Any]) -> None:
    intent = {
        **payment_intent,
        "metadata": {"order_id": "ord_1"},
        "status": "requires_capture",
        "capture_method": "manual",
        "amount_capturable": 1099,
    }
    payment = payment_of(body_of("payment_intent.amount_capturable_updated", intent))
    assert (payment.status, payment.needs_capture) == (PaymentStatus.AUTHORIZED, True)
    assert payment.amount == Money(amount=1099, currency="USD")


def test_the_attempt_comes_from_the_metadata_the_gateway_sets(
    payment_intent: dict[str, Any],
) -> None:
    intent = {**payment_intent, "metadata": {"order_id": "ord_1", "attempt": "3"}}
    intent["amount_received"] = 1099
    assert payment_of(body_of("payment_intent.succeeded", intent)).attempt == 3


@pytest.mark.parametrize("attempt", ["0", "-1", "x", "", "1234567", "²"])
def test_an_attempt_that_is_not_one_is_left_out(
    payment_intent: dict[str, Any], attempt: str
) -> None:
    intent = {**payment_intent, "metadata": {"order_id": "ord_1", "attempt": attempt}}
    assert payment_of(body_of("payment_intent.succeeded", intent)).attempt is None


def test_a_reference_carrying_the_attempt_is_parsed(checkout_session: dict[str, Any]) -> None:
    session = {
        **checkout_session,
        "client_reference_id": "ord_7/4",
        "amount_total": 100,
        "currency": "pln",
        "payment_status": "paid",
    }
    payment = payment_of(body_of("checkout.session.completed", session))
    assert (payment.order_id, payment.attempt) == ("ord_7", 4)


def test_an_expired_session_cancels_its_attempt(checkout_session: dict[str, Any]) -> None:
    session = {
        **checkout_session,
        "client_reference_id": "ord_7",
        "amount_total": 100,
        "currency": "pln",
        "status": "expired",
        "payment_intent": None,
        "metadata": {"attempt": "1"},
    }
    payment = payment_of(body_of("checkout.session.expired", session))
    assert (payment.status, payment.failure_reason) == (
        PaymentStatus.CANCELLED,
        "checkout session expired",
    )
    assert (payment.payment_id, payment.attempt) == (checkout_session["id"], 1)
    assert payment.provider_data == {"checkout_session": checkout_session["id"]}


def test_a_p24_session_is_a_bank_link(checkout_session: dict[str, Any]) -> None:
    session = {
        **checkout_session,
        "client_reference_id": "ord_7",
        "amount_total": 100,
        "currency": "pln",
        "payment_method_types": ["p24"],
    }
    assert payment_of(body_of("checkout.session.completed", session)).method == "bank_link"


# -- the simulator's builders are what the mapping reads ------------------------------------------


def test_the_simulators_objects_map_like_the_fixtures() -> None:
    stripe = StripeSimulator("whsec_unit")
    made = stripe.charge("ord_9", 4900, payment_intent="pi_3Sim", risk_level="highest")
    signed = stripe.event("charge.succeeded", made)
    mapped = payment_of(signed.body)
    assert mapped.risk is not None
    assert (mapped.risk.level, mapped.risk.detail) == (RiskLevel.HIGHEST, "risk_score 89")
    returned = stripe.refund(1000, payment_intent="pi_3Sim", refund_id="rfp_1", order_id="ord_9")
    assert refund_of(stripe.event("refund.updated", returned).body).refund_id == "rfp_1"
    disputed = stripe.dispute(4900, payment_intent="pi_3Sim")
    assert dispute_of(stripe.event("charge.dispute.created", disputed).body).payment_id == "pi_3Sim"
    session = stripe.checkout_session("ord_9", 4900, payment_intent="pi_3Sim", attempt=2)
    assert payment_of(stripe.event("checkout.session.completed", session).body).attempt == 2


# -- hostile bodies -------------------------------------------------------------------------------

HANDLED = [
    "payment_intent.succeeded",
    "payment_intent.amount_capturable_updated",
    "checkout.session.completed",
    "checkout.session.expired",
    "charge.succeeded",
    "charge.refunded",
    "refund.updated",
    "refund.failed",
    "charge.dispute.created",
]
JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=False)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)
FIELDS = [
    "id",
    "object",
    "amount",
    "amount_captured",
    "currency",
    "status",
    "payment_intent",
    "charge",
    "metadata",
    "outcome",
    "payment_method_details",
    "refunds",
    "captured",
    "reason",
    "client_reference_id",
    "payment_status",
    "amount_total",
]


@settings(deadline=None, max_examples=300)
@given(
    event_type=st.sampled_from(HANDLED),
    base=st.sampled_from(["charge", "refund", "dispute", "session", "intent"]),
    changes=st.dictionaries(st.sampled_from(FIELDS), JSON_VALUES, max_size=5),
)
def test_hostile_objects_are_malformed_or_mapped_never_a_crash(
    event_type: str, base: str, changes: dict[str, Any]
) -> None:
    objects = {
        "charge": orderhub_charge(fixture_json("stripe/charge_object_openapi_fixture.json")),
        "refund": orderhub_refund(fixture_json("stripe/refund_object_openapi_fixture.json")),
        "dispute": fixture_json("stripe/dispute_object_openapi_fixture.json"),
        "session": {
            **fixture_json("stripe/checkout_session_object_openapi_fixture.json"),
            "client_reference_id": "ord_7",
            "amount_total": 100,
            "currency": "pln",
        },
        "intent": {
            **fixture_json("stripe/payment_intent_object_openapi_fixture.json"),
            "metadata": {"order_id": "ord_1"},
        },
    }
    try:
        parsed = parse(body_of(event_type, {**objects[base], **changes}))
    except MalformedWebhook:
        return
    assert (parsed.event is None) == (parsed.ignored_reason is not None)


@pytest.mark.parametrize(
    "obj",
    [
        [],
        "text",
        12,
        {"object": "refund"},
        {"id": "re_1", "object": "refund", "amount": 10**20, "currency": "pln"},
        {"id": "re_1", "object": "refund", "amount": -5, "currency": "pln"},
        {"id": "re_1", "object": "refund", "amount": 5, "currency": "zł"},
        {"id": "re 1", "object": "refund", "amount": 5, "currency": "pln"},
        {"id": "re_1", "object": "refund", "amount": 5, "currency": "pln", "metadata": {"a": 1}},
        {
            "id": "re_1",
            "object": "refund",
            "amount": 5,
            "currency": "pln",
            "status": "succeeded",
            "payment_intent": "pi_1",
            "metadata": {"refund_id": " padded "},
        },
        {"id": "re_1", "object": "charge", "amount": 5, "currency": "pln"},
    ],
)
def test_broken_refund_objects_are_malformed(obj: Any) -> None:
    with pytest.raises(MalformedWebhook):
        parse(body_of("refund.updated", obj))


def test_deep_nesting_is_malformed_not_a_recursion_error() -> None:
    deep = "[" * 100_000 + "]" * 100_000
    body = body_of("refund.updated", {}).replace(b"{}", deep.encode())
    with pytest.raises(MalformedWebhook):
        parse(body)


def test_an_unrepresentable_amount_is_malformed(refund: dict[str, Any]) -> None:
    # ISK is zero-decimal in ISO 4217 but two-decimal in Stripe's API: 1001 has a fraction
    with pytest.raises(MalformedWebhook):
        parse(body_of("refund.updated", orderhub_refund(refund, currency="isk", amount=1001)))


@given(st.text(max_size=30) | st.from_regex(r"\A[a-z_0-9]{1,10}/[0-9]{1,4}\Z"))
def test_a_reference_with_an_attempt_round_trips(reference: str) -> None:
    from shared.payments.references import merchant_reference, parse_merchant_reference

    order_id, attempt = parse_merchant_reference(reference)
    if attempt is not None:
        assert merchant_reference(order_id, attempt, per_attempt=True) == reference
