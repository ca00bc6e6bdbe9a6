"""Payments over HTTP, as a shop and its providers live them: a payment session through each
provider, the buyer paying on the provider's page (its simulator), the provider notifying us
signed as it signs; refunds through the provider that took the money; reconciliation of a
payment whose notification never came."""

from __future__ import annotations

import concurrent.futures
import itertools
import random
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from infra.local.stack import EmbeddedStack
from shared.providers.channels.shopify.simulator import ShopifySimulator
from shared.providers.simulation import Line
from tests.conftest import eventually
from tests.e2e.test_order_to_ready_to_ship import order, place

PROVIDERS = ("stripe", "payu", "przelewy24", "paypal")
TEE = Line("TEE-ORGANIC-M", "Koszulka organiczna M", 1, "89.00")
RETURN_URL = "https://shop.example/thanks"
_keys = itertools.count(1)


def session(
    http: httpx.Client, order_id: str, provider: str, method: str | None = None
) -> dict[str, Any]:
    body: dict[str, Any] = {"provider": provider, "return_url": RETURN_URL}
    if method:
        body["method"] = method
    response = http.post(f"/api/v1/orders/{order_id}/payment-session", json=body)
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def paid(http: httpx.Client, order_id: str) -> dict[str, Any]:
    return eventually(
        lambda: order(http, order_id),
        lambda o: o["status"] in ("paid", "ready_to_ship"),
    )


def timeline_count(view: dict[str, Any], event_type: str) -> int:
    return sum(1 for entry in view["timeline"] if entry["type"] == event_type)


@pytest.mark.parametrize("provider", PROVIDERS)
def test_an_order_is_paid_through_a_session_at_each_provider(
    http: httpx.Client, shopify: ShopifySimulator, embedded: EmbeddedStack, provider: str
) -> None:
    placed = place(http, shopify, TEE)
    assert placed["status"] == "awaiting_payment"
    order_id = placed["order_id"]
    method = "blik" if provider in ("stripe", "payu", "przelewy24") else None

    opened = session(http, order_id, provider, method)
    assert opened["provider"] == provider
    assert opened["redirect_url"].startswith("http")
    assert opened["amount"] == placed["totals"]["total"]["amount"]
    # The same request again: the same session (idempotent per order and attempt).
    assert session(http, order_id, provider, method)["session_id"] == opened["session_id"]

    embedded.simulator(provider).pay(opened["session_id"])

    done = paid(http, order_id)
    assert done["payment"]["status"] == "paid"
    assert done["payment"]["paid"] == placed["totals"]["total"]
    assert timeline_count(done, "OrderPaid") == 1
    if method:
        assert done["payment"]["method"] == method
    ready = eventually(lambda: order(http, order_id), lambda o: o["status"] == "ready_to_ship")
    assert ready["status"] == "ready_to_ship"


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_refund_goes_back_through_the_provider_and_completes_on_its_notification(
    http: httpx.Client, shopify: ShopifySimulator, embedded: EmbeddedStack, provider: str
) -> None:
    placed = place(http, shopify, TEE)
    order_id = placed["order_id"]
    opened = session(http, order_id, provider)
    embedded.simulator(provider).pay(opened["session_id"])
    paid(http, order_id)

    key = f"refund-{provider}-{next(_keys)}"
    asked = http.post(
        f"/api/v1/orders/{order_id}/refunds",
        json={"amount": 1000, "reason": "damaged on arrival"},
        headers={"Idempotency-Key": key},
    )
    assert asked.status_code == 202, asked.text
    refund = asked.json()
    assert refund["status"] in ("requested", "pending", "completed")
    again = http.post(
        f"/api/v1/orders/{order_id}/refunds",
        json={"amount": 1000, "reason": "damaged on arrival"},
        headers={"Idempotency-Key": key},
    )
    assert again.status_code == 202
    assert again.json()["refund_id"] == refund["refund_id"]
    other = http.post(
        f"/api/v1/orders/{order_id}/refunds",
        json={"amount": 999, "reason": "damaged on arrival"},
        headers={"Idempotency-Key": key},
    )
    assert other.status_code == 409
    assert other.json()["error"]["code"] == "idempotency_key_reused"

    done = eventually(
        lambda: order(http, order_id),
        lambda o: o["payment"]["refunds"] and o["payment"]["refunds"][0]["status"] == "completed",
    )
    assert done["payment"]["refunded"]["amount"] == 1000
    assert done["payment"]["status"] == "partially_refunded"
    assert timeline_count(done, "RefundCompleted") == 1


def test_refunds_never_exceed_what_was_paid_under_concurrent_requests(
    http: httpx.Client, shopify: ShopifySimulator, embedded: EmbeddedStack
) -> None:
    placed = place(http, shopify, TEE)
    order_id = placed["order_id"]
    total = placed["totals"]["total"]["amount"]
    embedded.simulator("stripe").pay(session(http, order_id, "stripe")["session_id"])
    paid(http, order_id)

    def ask(_: int) -> httpx.Response:
        return http.post(
            f"/api/v1/orders/{order_id}/refunds",
            json={"amount": total // 3 + 1, "reason": "race"},
        )

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(ask, range(8)))
    accepted = [a for a in answers if a.status_code == 202]
    refused = [a for a in answers if a.status_code == 409]
    assert len(accepted) == 2  # three thirds-plus-one would exceed the total
    assert len(accepted) + len(refused) == 8
    assert all(a.json()["error"]["code"] == "refund_exceeds_paid" for a in refused)


def test_one_payment_delivered_three_times_out_of_order_with_a_second_provider_pays_once(
    http: httpx.Client, shopify: ShopifySimulator, embedded: EmbeddedStack
) -> None:
    placed = place(http, shopify, TEE)
    order_id = placed["order_id"]
    payu = embedded.simulator("payu")
    opened = session(http, order_id, "payu", "blik")
    payu.pay(opened["session_id"], notify=False)  # the buyer paid; we deliver by hand
    deliveries = [
        payu.notification(opened["session_id"], status) for status in ("PENDING", "COMPLETED")
    ]
    deliveries = deliveries * 3
    random.Random(7).shuffle(deliveries)
    # And the buyer also paid the whole order on Stripe, at the same moment.
    stripe_session = session(http, order_id, "stripe")
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        sent = list(pool.map(lambda d: d.send(http), deliveries))
        stripe_paid = pool.submit(embedded.simulator("stripe").pay, stripe_session["session_id"])
        stripe_paid.result()
    assert all(r.status_code == 200 for r in sent)

    done = eventually(
        lambda: order(http, order_id),
        lambda o: (
            o["status"] in ("paid", "ready_to_ship")
            and len([p for p in o["payment"]["payments"] if p["decision"]]) == 2
        ),
    )
    assert timeline_count(done, "OrderPaid") == 1
    decisions = sorted(p["decision"] for p in done["payment"]["payments"] if p["decision"])
    assert decisions == ["already_paid_refund_needed", "pays_order"]
    assert done["attention"] == "already_paid_refund_needed"


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_payment_whose_notification_was_dropped_is_repaired_by_reconciliation(
    http: httpx.Client, shopify: ShopifySimulator, embedded: EmbeddedStack, provider: str
) -> None:
    placed = place(http, shopify, TEE)
    order_id = placed["order_id"]
    opened = session(http, order_id, provider)
    # The buyer pays, and the provider's notification never reaches us.
    embedded.simulator(provider).pay(opened["session_id"], notify=False)
    assert order(http, order_id)["status"] == "awaiting_payment"

    # The reconciliation schedule runs after the session has been open long enough.
    scheduler = embedded.scheduler
    assert scheduler is not None
    rule = embedded.schedule_of("PaymentReconcileSchedule")
    fired = len([r for r, _ in scheduler.fired if r == rule])
    embedded.clock.advance(timedelta(minutes=20))
    eventually(
        lambda: [r for r, _ in scheduler.fired if r == rule],
        lambda runs: len(runs) > fired,
    )

    done = paid(http, order_id)
    assert done["payment"]["status"] == "paid"
    assert timeline_count(done, "OrderPaid") == 1


def test_a_b2b_order_on_bank_transfer_is_reminded_then_paid_by_the_recorded_transfer(
    http: httpx.Client, shopify: ShopifySimulator, embedded: EmbeddedStack
) -> None:
    placed = place(http, shopify, TEE)
    order_id = placed["order_id"]
    total = placed["totals"]["total"]
    due = (datetime.now(UTC) + timedelta(days=5)).date().isoformat()

    terms = http.post(
        f"/api/v1/orders/{order_id}/bank-transfer",
        json={"due_date": due, "on_overdue": "cancel", "remind_days_before": 3},
    )
    assert terms.status_code == 201, terms.text
    assert terms.json()["status"] == "awaiting_transfer"
    assert terms.json()["amount"] == total["amount"]
    waiting = order(http, order_id)
    assert waiting["status"] == "awaiting_transfer"
    assert waiting["bank_transfer"] == {"due_date": due, "on_overdue": "cancel", "reminded": False}
    past = http.post(f"/api/v1/orders/{order_id}/bank-transfer", json={"due_date": "2020-01-01"})
    assert past.status_code == 409

    # Three days before the due date the reconciliation run emits the reminder, once.
    scheduler = embedded.scheduler
    assert scheduler is not None
    rule = embedded.schedule_of("PaymentReconcileSchedule")
    fired = len([r for r, _ in scheduler.fired if r == rule])
    embedded.clock.advance(timedelta(days=3))
    eventually(lambda: [r for r, _ in scheduler.fired if r == rule], lambda runs: len(runs) > fired)
    reminded = eventually(
        lambda: order(http, order_id), lambda o: o["bank_transfer"]["reminded"] is True
    )
    assert timeline_count(reminded, "PaymentReminderDue") == 1

    # The accountant records the transfer from the bank statement (twice: the same line).
    line = {"amount": total["amount"], "currency": "PLN", "reference": f"stmt-{order_id}"}
    first = http.post(f"/api/v1/orders/{order_id}/payments", json=line)
    again = http.post(f"/api/v1/orders/{order_id}/payments", json=line)
    assert (first.status_code, again.status_code) == (201, 201)
    done = eventually(lambda: order(http, order_id), lambda o: o["status"] == "ready_to_ship")
    assert timeline_count(done, "OrderPaid") == 1
    assert done["payment"]["method"] == "bank_transfer"


def test_split_tender_through_two_sessions_pays_the_order_once(
    http: httpx.Client, shopify: ShopifySimulator, embedded: EmbeddedStack
) -> None:
    placed = place(http, shopify, TEE)
    order_id = placed["order_id"]
    total = placed["totals"]["total"]["amount"]
    # A gift card on Stripe for part of it, then BLIK on PayU for what is left.
    part = http.post(
        f"/api/v1/orders/{order_id}/payment-session",
        json={"provider": "stripe", "return_url": RETURN_URL, "amount": 5000},
    )
    assert part.status_code == 201, part.text
    assert part.json()["amount"] == 5000
    embedded.simulator("stripe").pay(part.json()["session_id"])
    eventually(lambda: order(http, order_id), lambda o: o["payment"]["status"] == "partially_paid")
    rest = session(http, order_id, "payu", "blik")
    assert rest["amount"] == total - 5000
    embedded.simulator("payu").pay(rest["session_id"])
    done = paid(http, order_id)
    assert timeline_count(done, "OrderPaid") == 1
    assert done["payment"]["paid"]["amount"] == total


def test_a_paypal_capture_paypal_does_not_know_pays_nothing(
    http: httpx.Client, shopify: ShopifySimulator, embedded: EmbeddedStack
) -> None:
    # PayPal signs only a CRC32 of the body: a captured delivery rewritten to keep its CRC
    # verifies. Money counts only as PayPal's API confirms it.
    placed = place(http, shopify, TEE)
    order_id = placed["order_id"]
    total = placed["totals"]["total"]["amount"]
    paypal = embedded.simulator("paypal")
    forged = paypal.capture_resource(
        order_id, f"{total / 100:.2f}", paypal_order_id="5O190127TN364715T"
    )
    assert paypal.event("PAYMENT.CAPTURE.COMPLETED", forged).send(http).status_code == 200

    # A real payment afterwards still pays the order once.
    opened = session(http, order_id, "paypal")
    paypal.pay(opened["session_id"])
    done = paid(http, order_id)
    assert timeline_count(done, "OrderPaid") == 1
    assert [p["payment_id"] for p in done["payment"]["payments"]] == [opened["session_id"]]
