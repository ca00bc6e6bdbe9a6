"""Hostile input on every webhook route: generated bodies, signed and unsigned, over HTTP.

Each case is a real provider payload with one part replaced by something hostile (wrong type,
huge or negative number, deep nesting, a long string, invalid UTF-8, a moment no calendar
holds), signed correctly or not, with headers missing, oversized or odd. The contract: a 4xx
with a JSON error body and nothing stored, or a 200 that is then really processed (never
acknowledged and then failing). Never a 5xx. The seed is printed and ORDERHUB_HOSTILE_SEED
reproduces a run.
"""

from __future__ import annotations

import copy
import json
import os
import random
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from functools import partial
from typing import Any

import httpx
import pytest

from infra.local.stack import EmbeddedStack
from shared.providers.channels.shopify.simulator import ShopifySimulator
from shared.providers.channels.shopify.webhook import sign as shopify_hmac
from shared.providers.channels.woocommerce.webhook import sign as woo_sign
from shared.providers.payments.stripe.simulator import StripeSimulator
from shared.providers.payments.stripe.webhook import signature_header
from shared.providers.simulation import Line
from tests.conftest import eventually

CASES_PER_ROUTE = int(os.environ.get("ORDERHUB_HOSTILE_CASES", "150"))

HOSTILE_VALUES: list[Any] = [
    None,
    "",
    "x" * 20_000,
    "zażółć \u202e \ud7ff",
    -1,
    0,
    10**30,
    -(10**30),
    1e308,
    -1e308,
    1.5,
    True,
    [],
    {},
    [[[[[[[[[[[]]]]]]]]]]],
    {"a": {"b": {"c": {"d": {"e": {"f": {}}}}}}},
    "9999-12-31T23:59:59-05:00",
    "0000-00-00T00:00:00Z",
    "1e30",
    "NaN",
    "-10.00",
    253402300800,
    -62135596801,
]


@dataclass(frozen=True)
class Case:
    route: str
    body: bytes
    headers: dict[str, str]
    signed: bool
    note: str
    event_id: str | None
    external_id: Any = None  # the Shopify order id the body names


def paths(document: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path into a JSON document (dict keys and list indexes)."""
    found = [prefix] if prefix else []
    if isinstance(document, dict):
        for key, value in document.items():
            found += paths(value, (*prefix, key))
    elif isinstance(document, list):
        for index, value in enumerate(document[:3]):
            found += paths(value, (*prefix, index))
    return found


def replaced(document: Any, path: tuple[Any, ...], value: Any) -> Any:
    changed = copy.deepcopy(document)
    target = changed
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    return changed


def encoded(document: Any, rng: random.Random) -> bytes:
    body = json.dumps(document, ensure_ascii=False).encode()
    roll = rng.random()
    if roll < 0.05:
        return body.replace(b'"', b'"\xff', 1)  # invalid UTF-8 inside a string
    if roll < 0.08:
        return b"[" * 5000 + b"]" * 5000  # deep nesting
    if roll < 0.10:
        return body[: len(body) // 2]  # truncated
    return body


def shopify_cases(rng: random.Random, shopify: ShopifySimulator, secret: str) -> list[Case]:
    base = shopify.order(6100000000 + rng.randrange(10**8), [Line("MUG-KRAKOW-350", "Mug", 1, "9")])
    targets = paths(base)
    cases = []
    for n in range(CASES_PER_ROUTE):
        path = rng.choice(targets)
        document = replaced(base, path, rng.choice(HOSTILE_VALUES))
        document["id"] = document["id"] if path == ("id",) else 6200000000 + rng.randrange(10**8)
        body = encoded(document, rng)
        topic = rng.choice(["orders/create", "orders/create", "orders/paid", "orders/updated"])
        webhook_id = str(uuid.uuid4())
        signed = rng.random() < 0.85
        headers = {
            "Content-Type": "application/json",
            "X-Shopify-Topic": topic,
            "X-Shopify-Hmac-Sha256": shopify_hmac(body, secret if signed else "wrong"),
            "X-Shopify-Shop-Domain": "orderhub-demo.myshopify.com",
            "X-Shopify-Webhook-Id": webhook_id,
        }
        if n % 17 == 0:
            headers.pop(rng.choice(["X-Shopify-Topic", "X-Shopify-Webhook-Id"]))
        if n % 23 == 0:
            headers["X-Shopify-Webhook-Id"] = "w" * rng.choice((300, 3000, 9000))
        if n % 29 == 0:
            headers["X-Shopify-Topic"] = rng.choice(["", "../../etc", "orders/" + "x" * 500])
        cases.append(
            Case(
                "/webhooks/orders/shopify",
                body,
                headers,
                signed,
                f"{'/'.join(map(str, path))} in {topic}",
                headers.get("X-Shopify-Webhook-Id"),
                document.get("id") if isinstance(document, dict) else None,
            )
        )
    return cases


def stripe_cases(rng: random.Random, stripe: StripeSimulator, secret: str) -> list[Case]:
    intent = stripe.payment_intent("ord_01JHOSTILE0000000000000000", 1000)
    base = {
        "id": "evt_x",
        "object": "event",
        "api_version": "2025-10-29.clover",
        "created": int(time.time()),
        "livemode": False,
        "type": "payment_intent.succeeded",
        "data": {"object": intent},
    }
    targets = paths(base)
    cases = []
    for n in range(CASES_PER_ROUTE):
        path = rng.choice(targets)
        document = replaced(base, path, rng.choice(HOSTILE_VALUES))
        if path != ("id",):
            document["id"] = f"evt_{uuid.uuid4().hex[:24]}"
        body = encoded(document, rng)
        signed = rng.random() < 0.85
        header = signature_header(body, secret if signed else "whsec_wrong", int(time.time()))
        if n % 19 == 0:
            header = f"{header},{signature_header(body, secret, int(time.time()) - 4000)}"
        headers = {"Content-Type": "application/json; charset=utf-8", "Stripe-Signature": header}
        if n % 31 == 0:
            headers["Stripe-Signature"] = rng.choice(["", "t=abc,v1=zz", "v1=" + "a" * 9000])
        event_id = document.get("id") if isinstance(document, dict) else None
        cases.append(
            Case(
                "/webhooks/payments/stripe",
                body,
                headers,
                signed,
                "/".join(map(str, path)),
                event_id if isinstance(event_id, str) else None,
            )
        )
    return cases


def woocommerce_cases(rng: random.Random, woo: Any, secret: str) -> list[Case]:
    """WooCommerce signs the body only (base64 HMAC-SHA256); the topic header only chooses how
    the signed body is read. Dedupe keys are the order's version, so the stored check is
    skipped for these (they cannot be known before the body is parsed)."""
    base = woo.order(7100000 + rng.randrange(10**6), [Line("MUG-KRAKOW-350", "Mug", 1, "9.00")])
    targets = paths(base)
    cases = []
    for n in range(CASES_PER_ROUTE // 2):
        path = rng.choice(targets)
        document = replaced(base, path, rng.choice(HOSTILE_VALUES))
        if path != ("id",):
            document["id"] = 7200000 + rng.randrange(10**6)
        body = encoded(document, rng)
        topic = rng.choice(["order.created", "order.updated", "order.deleted", "order.restored"])
        signed = rng.random() < 0.85
        headers = {
            "Content-Type": "application/json",
            "X-WC-Webhook-Topic": topic,
            "X-WC-Webhook-Resource": "order",
            "X-WC-Webhook-Signature": woo_sign(body, secret if signed else "wrong"),
            "X-WC-Webhook-ID": "7",
            "X-WC-Webhook-Delivery-ID": uuid.uuid4().hex,
        }
        if n % 13 == 0:
            headers.pop("X-WC-Webhook-Topic")
        if n % 17 == 0:
            headers["X-WC-Webhook-Signature"] = rng.choice(["", "!!", "a" * 9000])
        cases.append(
            Case(
                "/webhooks/orders/woocommerce",
                body,
                headers,
                signed and n % 17 != 0,
                f"{'/'.join(map(str, path))} in {topic}",
                None,
                document.get("id") if isinstance(document, dict) else None,
            )
        )
    return cases


def source_of(route: str) -> str:
    return route.rsplit("/", 1)[-1]


def listed(http: httpx.Client, external_id: Any, channel: str = "shopify") -> list[dict[str, Any]]:
    params = {"channel": channel, "external_id": str(external_id)}
    items: list[dict[str, Any]] = http.get("/api/v1/orders", params=params).json()["items"]
    return items


def stored(embedded: EmbeddedStack, source: str, event_id: str | None) -> bool:
    if not event_id or len(event_id.encode()) > 1000:
        return False
    item = embedded.client("dynamodb").get_item(
        TableName=embedded.table_name,
        Key={"PK": {"S": f"INBOX#{source}#{event_id}"}, "SK": {"S": "INBOX"}},
        ConsistentRead=True,
    )
    return "Item" in item


def failures(embedded: EmbeddedStack) -> list[dict[str, Any]]:
    items = embedded.client("dynamodb").query(
        TableName=embedded.table_name,
        KeyConditionExpression="PK = :pk",
        ExpressionAttributeValues={":pk": {"S": "INBOX#FAILED"}},
        ConsistentRead=True,
    )["Items"]
    return [{k: next(iter(v.values())) for k, v in item.items()} for item in items]


@pytest.mark.e2e
def test_hostile_webhooks_get_a_4xx_or_are_really_processed(
    embedded: EmbeddedStack,
    http: httpx.Client,
    shopify: ShopifySimulator,
    stripe: StripeSimulator,
) -> None:
    seed = int(os.environ.get("ORDERHUB_HOSTILE_SEED", str(random.randrange(10**9))))
    print(f"hostile seed {seed} (ORDERHUB_HOSTILE_SEED={seed} reproduces it)")
    rng = random.Random(seed)
    secrets = embedded.provider_secrets
    cases = (
        shopify_cases(rng, shopify, secrets["shopify"]["webhook_secret"])
        + stripe_cases(rng, stripe, secrets["stripe"]["webhook_secret"])
        + woocommerce_cases(
            rng, embedded.simulator("woocommerce"), secrets["woocommerce"]["webhook_secret"]
        )
    )
    before = {(f["source"], f["event_id"]) for f in failures(embedded)}
    outcomes: Counter[int] = Counter()
    accepted: list[Case] = []
    problems: list[str] = []
    ids = [(source_of(c.route), c.event_id) for c in cases]
    for case in cases:
        response = http.post(case.route, content=case.body, headers=case.headers)
        outcomes[response.status_code] += 1
        source = source_of(case.route)
        if response.status_code >= 500:
            problems.append(f"{response.status_code} for {case.note}: {response.text[:120]}")
            continue
        if response.status_code >= 400:
            error = response.json().get("error", {})
            if not (error.get("code") and error.get("message")):
                problems.append(f"{response.status_code} without a JSON error for {case.note}")
            # (hostile ids like "NaN" repeat across cases: only a first use can be judged)
            if ids.count((source, case.event_id)) == 1 and stored(embedded, source, case.event_id):
                problems.append(f"{response.status_code} but stored: {case.note}")
        elif response.json().get("status") == "accepted":
            accepted.append(case)
        if response.status_code == 200 and not case.signed:
            problems.append(f"an unsigned request was accepted: {case.note}")
    print(f"hostile: {len(cases)} cases, {dict(outcomes)}, {len(accepted)} accepted")
    assert problems == []

    # An acknowledged delivery must not fail afterwards: none of them ends in the failures.
    # Only this run's deliveries: a delivery of an earlier test that is still being retried
    # (a transient conflict under load, recorded once, then processed) is not about this one.
    ours = set(ids)

    def new_failures() -> list[dict[str, Any]]:
        return [
            f
            for f in failures(embedded)
            if (f["source"], f["event_id"]) not in before
            # (WooCommerce's keys are the order's version, known only once parsed: all of its)
            and ((f["source"], f["event_id"]) in ours or f["source"] == "woocommerce")
        ]

    for case in accepted:
        if case.headers.get("X-Shopify-Topic") == "orders/create":
            eventually(partial(listed, http, case.external_id))
        if case.headers.get("X-WC-Webhook-Topic") in ("order.created", "order.updated"):
            eventually(partial(listed, http, case.external_id, "woocommerce"))
    assert [f for f in new_failures() if f.get("failure") != "unknown_order"] == []
