"""Hostile and malformed deliveries to the PayU, Przelewy24 and PayPal webhooks, over HTTP:
every one is refused with a 4xx JSON body naming the problem (never a 5xx, never stored as
accepted), and a good delivery sent among them still pays its order."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import httpx
import pytest

from infra.local.stack import EmbeddedStack
from shared.providers.channels.shopify.simulator import ShopifySimulator
from tests.e2e.test_order_to_ready_to_ship import order, place
from tests.e2e.test_payments import TEE, paid, session, timeline_count

NESTED = b'{"order":' * 200 + b"1" + b"}" * 200


def payu_signed(body: bytes, second_key: str) -> dict[str, str]:
    digest = hashlib.md5(body + second_key.encode(), usedforsecurity=False).hexdigest()
    return {
        "Content-Type": "application/json",
        "OpenPayu-Signature": f"sender=checkout;signature={digest};algorithm=MD5;content=DOCUMENT",
    }


def cases(embedded: EmbeddedStack) -> list[tuple[str, bytes, dict[str, str], int]]:
    """(path, body, headers, expected status)."""
    payu_key = embedded.provider_secrets["payu"]["second_key"]
    payu = "/webhooks/payments/payu"
    p24 = "/webhooks/payments/przelewy24"
    paypal = "/webhooks/payments/paypal"
    json_headers = {"Content-Type": "application/json"}
    order_body = json.dumps({"order": {"orderId": "X", "status": "COMPLETED"}}).encode()
    return [
        (payu, order_body, json_headers, 401),  # no signature
        (payu, order_body, {**payu_signed(order_body, "wrong-key")}, 401),
        (payu, b"not json", payu_signed(b"not json", payu_key), 400),
        (payu, NESTED, payu_signed(NESTED, payu_key), 400),
        (payu, b"\xff\xfe\x00garbage", payu_signed(b"\xff\xfe\x00garbage", payu_key), 400),
        (payu, order_body, payu_signed(order_body, payu_key), 400),  # signed, not an order
        (p24, b"not json", json_headers, 400),
        (p24, NESTED, json_headers, 400),
        (p24, json.dumps({"merchantId": True, "sign": "x"}).encode(), json_headers, 400),
        (
            p24,
            json.dumps(
                {
                    "merchantId": 1,
                    "posId": 1,
                    "sessionId": "ord_x/1",
                    "amount": 100,
                    "originAmount": 100,
                    "currency": "PLN",
                    "orderId": 5,
                    "methodId": 154,
                    "statement": "s",
                    "sign": "0" * 96,
                }
            ).encode(),
            json_headers,
            401,
        ),
        (paypal, b"{}", json_headers, 401),  # no transmission headers: nothing vouches for it
        (paypal, b"not json", json_headers, 401),
    ]


def test_hostile_deliveries_are_refused_with_json_and_a_good_one_still_pays(
    http: httpx.Client, shopify: ShopifySimulator, embedded: EmbeddedStack
) -> None:
    placed = place(http, shopify, TEE)
    opened = session(http, placed["order_id"], "payu", "blik")
    answers: list[tuple[str, int, int, Any]] = []
    for path, body, headers, expected in cases(embedded):
        response = http.post(path, content=body, headers=headers)
        answers.append((path, expected, response.status_code, response.text[:200]))
    embedded.simulator("payu").pay(opened["session_id"])

    wrong = [a for a in answers if a[1] != a[2]]
    assert not wrong, wrong
    for path, _, status, text in answers:
        assert 400 <= status < 500, (path, status)
        assert json.loads(text)["error"]["code"], text
    done = paid(http, placed["order_id"])
    assert timeline_count(done, "OrderPaid") == 1
    assert order(http, placed["order_id"])["payment"]["method"] == "blik"


@pytest.mark.parametrize("provider", ["payu", "przelewy24", "paypal"])
def test_an_unknown_order_reference_is_kept_and_pays_nothing(
    http: httpx.Client, embedded: EmbeddedStack, provider: str
) -> None:
    """A well-signed notification for an order that does not exist: 200 (it is the provider's
    genuine word), kept and listed with the failed deliveries, nothing paid."""
    simulator = embedded.simulator(provider)
    if provider == "payu":
        document = simulator.order_document(
            "ord_DOESNOTEXIST/1", 1000, "PLN", pos_id=simulator.pos_id
        )
        signed = simulator.notification(document, "COMPLETED")
    elif provider == "przelewy24":
        signed = simulator.transaction_notification(
            session_id="ord_DOESNOTEXIST/1", order_id=990001, amount=1000
        )
    else:
        capture = simulator.capture_resource("ord_DOESNOTEXIST", "10.00")
        signed = simulator.event("PAYMENT.CAPTURE.COMPLETED", capture)
    assert signed.send(http).status_code == 200
