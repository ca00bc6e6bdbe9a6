"""The channel storm: every sales channel at once, as the world delivers to it.

Shopify and WooCommerce deliver each order's create, an update that moves the shipping address
and, for a few, a cancellation; every delivery goes out twice (the same request again) and once
more as a second subscription would send it (Shopify: a new X-Shopify-Webhook-Id; WooCommerce:
another webhook id), shuffled (some updates before their creates), from eight threads at once,
mixed with requests that must be refused (a tampered signature, a signed body that is not JSON)
and WooCommerce's ping. Amazon's ORDER_CHANGE notifications arrive twice on the stack's SQS
queue, with one naming a seller that is not ours; Allegro's journal is pulled by its poller.
Once the system is quiet every invariant is checked: each order once, its last address, the
cancelled ones cancelled with their stock back, the others ready to ship, reserved stock up by
exactly what the live orders hold, nothing stuck or dead-lettered.
Meanwhile the own store POSTs its orders: each three times under one Idempotency-Key, once more
under another key with the same external id (never a second order), and bodies that must be
refused (400). After the checks every live channel order is shipped, each shipment reported three
times at once: one shipment, the order shipped, its units out of stock, and each channel told
exactly once.
The seed is printed: ORDERHUB_CHANNEL_STORM_SEED=<seed> reproduces the shuffle.
"""

from __future__ import annotations

import json
import os
import random
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import httpx
import pytest

from infra.local.stack import EmbeddedStack
from shared.platform.secrets import update_provider_secret
from shared.providers.channels.shopify.webhook import sign as shopify_sign
from shared.providers.channels.woocommerce.webhook import sign as woo_sign
from shared.providers.simulation import Line, SignedRequest
from tests.conftest import eventually

MUG = Line("MUG-KRAKOW-350", "Kubek Kraków 350 ml", 1, "49.00")
TEE = Line("TEE-ORGANIC-M", "Koszulka organiczna M", 1, "89.00")
SKUS = (MUG.sku, TEE.sku)
SHOPIFY_ORDERS, SHOPIFY_CANCELLED = 12, 3
WOO_ORDERS, WOO_CANCELLED = 8, 2
AMAZON_ORDERS = 5
ALLEGRO_ORDERS = 5
STORE_ORDERS = 4
SENDERS = 8
QUIET_TIMEOUT = 60.0
NOTIFIED_TIMEOUT = 40.0
FOREIGN_SELLER = "A2FOREIGNSELLER9"
CHANNEL_SOURCES = frozenset({"shopify", "woocommerce", "amazon", "allegro"})
Delivery = tuple[SignedRequest, int] | Callable[[], None]  # a webhook, or an own-store request


@dataclass
class Expected:
    """What one channel order must look like once the system is quiet."""

    channel: str
    external_id: str
    line: Line
    cancelled: bool = False
    line1: str | None = None  # the last address sent (None: not checked)
    city: str | None = None
    stored: bool = True  # False: refused, it must never become an order


@dataclass
class Sent:
    """Every HTTP delivery's answer, against the status it must get."""

    wrong: list[str] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)

    def send_all(self, http: httpx.Client, deliveries: list[Delivery]) -> None:
        def send(delivery: Delivery) -> None:
            if callable(delivery):
                delivery()
                return
            request, wanted = delivery
            answer = request.send(http)
            self.statuses[answer.status_code] += 1
            if answer.status_code != wanted:
                self.wrong.append(
                    f"{request.path} wanted {wanted}: {answer.status_code} {answer.text[:200]}"
                )
            elif wanted == 400:
                # refused with a JSON error body, saying why
                try:
                    error = answer.json()["error"]
                except (ValueError, KeyError, TypeError):
                    self.wrong.append(f"{request.path} 400 without a JSON error: {answer.text!r}")
                else:
                    if not error.get("code"):
                        self.wrong.append(f"{request.path} 400 without an error code: {error}")

        with ThreadPoolExecutor(SENDERS) as pool:
            list(pool.map(send, deliveries))


def lines_for(count: int) -> list[Line]:
    return [MUG if n % 2 == 0 else TEE for n in range(count)]


def orders_of(http: httpx.Client, channel: str, external_id: str) -> list[dict[str, Any]]:
    answer = http.get("/api/v1/orders", params={"channel": channel, "external_id": external_id})
    assert answer.status_code == 200, answer.text
    return answer.json()["items"]  # type: ignore[no-any-return]


def view_of(http: httpx.Client, order_id: str) -> dict[str, Any]:
    answer = http.get(f"/api/v1/orders/{order_id}")
    assert answer.status_code == 200, answer.text
    return answer.json()  # type: ignore[no-any-return]


def shipments_of(http: httpx.Client, order_id: str) -> list[dict[str, Any]]:
    answer = http.get(f"/api/v1/orders/{order_id}/shipments")
    assert answer.status_code == 200, answer.text
    return answer.json()["items"]  # type: ignore[no-any-return]


def reserved(http: httpx.Client, sku: str) -> int:
    answer = http.get(f"/api/v1/stock/{sku}")
    assert answer.status_code == 200, answer.text
    return int(answer.json()["reserved"])


def run_poller(stack: EmbeddedStack, provider: str) -> dict[str, Any]:
    """What the provider's EventBridge schedule does: run its poller once, to the end."""
    construct = "".join(part.capitalize() for part in provider.split("_"))
    name = stack._physical("AWS::Lambda::Function", f"{construct}Poller")
    answer = stack.client("lambda").invoke(FunctionName=name, Payload=b"{}")
    report: dict[str, Any] = json.loads(answer["Payload"].read())
    assert "FunctionError" not in answer, report
    return report


def inbox_failures(stack: EmbeddedStack) -> set[str]:
    """The channel deliveries whose processing failed (INBOX#FAILED), as source#event id."""
    items = stack.client("dynamodb").query(
        TableName=stack.table_name,
        KeyConditionExpression="PK = :pk",
        ExpressionAttributeValues={":pk": {"S": "INBOX#FAILED"}},
        ConsistentRead=True,
    )["Items"]
    return {
        item["SK"]["S"] for item in items if item["SK"]["S"].split("#", 1)[0] in CHANNEL_SOURCES
    }


def inbox_status(stack: EmbeddedStack, source: str, event_id: str) -> str | None:
    item = (
        stack.client("dynamodb")
        .get_item(
            TableName=stack.table_name,
            Key={"PK": {"S": f"INBOX#{source}#{event_id}"}, "SK": {"S": "INBOX"}},
            ConsistentRead=True,
        )
        .get("Item")
    )
    return str(item["status"]["S"]) if item else None


def stock_available(http: httpx.Client, sku: str, wanted: int) -> None:
    """Enough units for the storm's orders (nothing backordered), topping WAW-1 up if not."""
    stock = http.get(f"/api/v1/stock/{sku}").json()
    if stock["available"] >= wanted:
        return
    waw = next((w["on_hand"] for w in stock["warehouses"] if w["warehouse"] == "WAW-1"), 0)
    answer = http.put(f"/api/v1/stock/{sku}", json={"warehouse": "WAW-1", "on_hand": waw + wanted})
    assert answer.status_code == 200, answer.text


# -- Shopify ----------------------------------------------------------------------------------
def shopify_storm(
    rng: random.Random, stack: EmbeddedStack, base: int
) -> tuple[list[Expected], list[tuple[SignedRequest, int]], list[tuple[SignedRequest, int]]]:
    """(the orders, their updates that go out first, every other delivery)."""
    shopify = stack.simulator("shopify")
    secret = stack.provider_secrets["shopify"]["webhook_secret"]
    expected: list[Expected] = []
    early: list[tuple[SignedRequest, int]] = []
    rest: list[tuple[SignedRequest, int]] = []
    cancelled = set(rng.sample(range(SHOPIFY_ORDERS), SHOPIFY_CANCELLED))
    overtaking = set(rng.sample(range(SHOPIFY_ORDERS), 4))
    for n, line in enumerate(lines_for(SHOPIFY_ORDERS)):
        created = shopify.order(base + n, [line], cash_on_delivery=True)
        street, city = f"ul. Storm {n + 1}", f"Gdańsk-{n + 1}"
        moved = dict(created["shipping_address"], address1=street, city=city)
        updated = shopify.updated(created, shipping_address=moved)
        bodies = [("orders/create", created), ("orders/updated", updated)]
        if n in cancelled:
            bodies.append(("orders/cancelled", shopify.cancelled(updated)))
        for topic, body in bodies:
            first = shopify.webhook(topic, body)
            copies = [first, first, shopify.webhook(topic, body)]  # again; a new webhook id
            if topic == "orders/updated" and n in overtaking:
                early.append((copies.pop(), 200))
            rest += [(copy, 200) for copy in copies]
        expected.append(Expected("shopify", str(created["id"]), line, n in cancelled, street, city))
    # Refused, and nothing stored: a body changed in transit; a signed body that is not JSON.
    refused = shopify.order(base + SHOPIFY_ORDERS, [MUG], cash_on_delivery=True)
    signed = shopify.webhook("orders/create", refused)
    not_json = b'{"id": ' + str(refused["id"]).encode() + b', "line_items": [oops'
    rest += [
        (signed.tampered(), 401),
        (
            SignedRequest(
                signed.path,
                not_json,
                {**signed.headers, "X-Shopify-Hmac-Sha256": shopify_sign(not_json, secret)},
            ),
            400,
        ),
    ]
    expected.append(Expected("shopify", str(refused["id"]), MUG, stored=False))
    return expected, early, rest


# -- WooCommerce ------------------------------------------------------------------------------
def woocommerce_storm(
    rng: random.Random, stack: EmbeddedStack, base: int
) -> tuple[list[Expected], list[tuple[SignedRequest, int]], list[tuple[SignedRequest, int]]]:
    woo = stack.simulator("woocommerce")
    secret = stack.provider_secrets["woocommerce"]["webhook_secret"]
    expected: list[Expected] = []
    early: list[tuple[SignedRequest, int]] = []
    rest: list[tuple[SignedRequest, int]] = []
    cancelled = set(rng.sample(range(WOO_ORDERS), WOO_CANCELLED))
    overtaking = set(rng.sample(range(WOO_ORDERS), 3))
    for n, line in enumerate(lines_for(WOO_ORDERS)):
        created = woo.put(woo.order(base + n, [line], cash_on_delivery=True))
        street, city = f"ul. Sztormowa {n + 1}", f"Szczecin-{n + 1}"
        updated = woo.put(
            dict(created, shipping=dict(created["shipping"], address_1=street, city=city))
        )
        bodies = [("order.created", created), ("order.updated", updated)]
        if n in cancelled:
            bodies.append(("order.updated", woo.put(dict(updated, status="cancelled"))))
        for index, (topic, body) in enumerate(bodies):
            first = woo.webhook(topic, body)
            # again; and as a second webhook subscribed to the same topic delivers it
            copies = [first, first, woo.webhook(topic, body, webhook_id=woo.webhook_id + 1)]
            if index == 1 and n in overtaking:
                early.append((copies.pop(), 200))
            rest += [(copy, 200) for copy in copies]
        expected.append(
            Expected("woocommerce", str(created["id"]), line, n in cancelled, street, city)
        )
    refused = woo.order(base + WOO_ORDERS, [TEE], cash_on_delivery=True)
    signed = woo.webhook("order.created", refused)
    not_json = b'{"id": ' + str(refused["id"]).encode() + b', "status": processing}'
    rest += [
        (signed.tampered(), 401),
        (
            SignedRequest(
                signed.path,
                not_json,
                {**signed.headers, "X-WC-Webhook-Signature": woo_sign(not_json, secret)},
            ),
            400,
        ),
        (woo.ping(), 200),
    ]
    expected.append(Expected("woocommerce", str(refused["id"]), TEE, stored=False))
    return expected, early, rest


# -- Amazon -----------------------------------------------------------------------------------
def amazon_storm(rng: random.Random, stack: EmbeddedStack) -> tuple[list[Expected], str, str]:
    """Each order's notification twice; one more about the first naming another seller; and an
    order only another seller's notification names. (expected, that order, its notification)"""
    amazon = stack.simulator("amazon")
    sqs, url = stack.client("sqs"), stack.queue_url("amazon")
    expected, messages = [], []
    for line in lines_for(AMAZON_ORDERS):
        order_id = amazon.place_order([line])
        notice = amazon.notification(order_id)
        messages += [notice, notice]
        expected.append(Expected("amazon", order_id, line))
    messages.append(amazon.notification(expected[0].external_id, seller_id=FOREIGN_SELLER))
    foreign_order = amazon.place_order([MUG])
    foreign_notice = f"foreign-{uuid.uuid4()}"
    messages.append(
        amazon.notification(foreign_order, seller_id=FOREIGN_SELLER, notification_id=foreign_notice)
    )
    rng.shuffle(messages)
    for body in messages:
        sqs.send_message(QueueUrl=url, MessageBody=body)
    return expected, foreign_order, foreign_notice


def our_seller(stack: EmbeddedStack, seller_id: str) -> None:
    """Name the seller this deployment serves in its Amazon secret (the seeded secret leaves the
    optional seller_id out, which accepts every seller), as an operator sets it; through the
    product's own writer, which also refreshes the functions' cached copy. "" unsets it."""
    secret_id = stack.deployment.secrets[f"{stack.stack_name}/amazon"]  # type: ignore[union-attr]
    update_provider_secret(secret_id, {"seller_id": seller_id})


# -- Allegro ----------------------------------------------------------------------------------
def allegro_storm(stack: EmbeddedStack) -> list[Expected]:
    """Five purchases (one moves its address) pulled by one poll; one cancelled, pulled by the
    next."""
    allegro = stack.simulator("allegro")
    run_poller(stack, "allegro")  # a first run starts the cursor at the journal's end
    expected = []
    for n, line in enumerate(lines_for(ALLEGRO_ORDERS)):
        form = allegro.buy([line], cod=n == 1)
        expected.append(Expected("allegro", form, line))
    allegro.modify(expected[2].external_id, street="ul. Burzowa 7", city="Poznań-Wilda")
    expected[2].line1, expected[2].city = "ul. Burzowa 7", "Poznań-Wilda"
    run_poller(stack, "allegro")
    allegro.cancel(expected[3].external_id)
    expected[3].cancelled = True
    run_poller(stack, "allegro")
    return expected


# -- the own store ----------------------------------------------------------------------------
@dataclass
class StoreAnswers:
    """What the own store's POSTs got, by external id."""

    same_key: dict[str, list[tuple[int, str | None]]] = field(default_factory=dict)
    other_key: dict[str, tuple[int, dict[str, Any]]] = field(default_factory=dict)
    refused: dict[str, tuple[int, str]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)


def store_body(external_id: str, line: Line) -> dict[str, Any]:
    return {
        "external_id": external_id,
        "currency": "PLN",
        "lines": [
            {
                "sku": line.sku,
                "quantity": 1,
                "unit_price": 4900 if line is MUG else 8900,
                "vat_rate": 23,
            }
        ],
        "buyer": {"email": "burza@example.pl", "name": "Ewa Burza", "phone": "+48500100300"},
        "delivery": {"kind": "pickup_point", "carrier": "inpost", "point_id": "KRA01M"},
        "payment_method": "cash_on_delivery",
    }


def store_storm(
    http: httpx.Client, answers: StoreAnswers, tag: str
) -> tuple[list[Expected], list[Delivery]]:
    """Each order three times under its key (the first, then under another key with the same
    external id), and two bodies that must be refused. (the orders, the requests to send)"""
    expected: list[Expected] = []
    jobs: list[Delivery] = []

    def post(body: dict[str, Any], key: str) -> httpx.Response:
        return http.post("/api/v1/orders", json=body, headers={"Idempotency-Key": key})

    def same_key(external_id: str, body: dict[str, Any], key: str) -> None:
        answer = post(body, key)
        order_id = answer.json().get("order_id") if answer.status_code == 201 else None
        with answers.lock:
            answers.same_key.setdefault(external_id, []).append((answer.status_code, order_id))

    def first_then_other_key(external_id: str, body: dict[str, Any], key: str) -> None:
        same_key(external_id, body, key)
        answer = post(body, f"{key}-again")
        with answers.lock:
            answers.other_key[external_id] = (answer.status_code, answer.json())

    def refused(external_id: str, body: dict[str, Any]) -> None:
        answer = post(body, f"storm-{external_id}")
        with answers.lock:
            answers.refused[external_id] = (answer.status_code, answer.text)

    for n, line in enumerate(lines_for(STORE_ORDERS)):
        external_id = f"STORM-{tag}-{n}"
        body, key = store_body(external_id, line), f"storm-{tag}-{n}"
        jobs.append(partial(first_then_other_key, external_id, body, key))
        jobs += [partial(same_key, external_id, body, key)] * 2
        expected.append(Expected("store", external_id, line))
    negative = store_body(f"STORM-{tag}-negative", MUG)
    negative["lines"][0]["unit_price"] = -4900
    no_lines = store_body(f"STORM-{tag}-nolines", TEE)
    del no_lines["lines"]
    for body in (negative, no_lines):
        jobs.append(partial(refused, body["external_id"], body))
        expected.append(Expected("store", body["external_id"], MUG, stored=False))
    return expected, jobs


def store_answers_wrong(answers: StoreAnswers, expected: list[Expected]) -> list[str]:
    """Every own-store answer that is not what it must be."""
    wrong = []
    for plan in expected:
        if not plan.stored:
            status, text = answers.refused[plan.external_id]
            try:
                code = json.loads(text)["error"]["code"]
            except (ValueError, KeyError, TypeError):
                code = None
            if status != 400 or not code:
                wrong.append(f"{plan.external_id} wanted 400 with an error code: {status} {text}")
            continue
        same = answers.same_key[plan.external_id]
        ids = {order_id for _, order_id in same}
        if [status for status, _ in same] != [201] * 3 or len(ids) != 1:
            wrong.append(f"{plan.external_id} under one key: {same}")
        status, body = answers.other_key[plan.external_id]
        if status == 201:
            if body.get("order_id") not in ids:
                wrong.append(f"{plan.external_id} under another key: a new order {body}")
        elif status != 409 or body.get("error", {}).get("code") != "order_exists":
            wrong.append(f"{plan.external_id} under another key: {status} {body}")
    return wrong


# -- the shipments ----------------------------------------------------------------------------
def stock_of(http: httpx.Client, sku: str) -> tuple[int, int]:
    """(on hand, reserved)"""
    answer = http.get(f"/api/v1/stock/{sku}")
    assert answer.status_code == 200, answer.text
    return int(answer.json()["on_hand"]), int(answer.json()["reserved"])


def ship_all(http: httpx.Client, order_ids: dict[str, str]) -> tuple[dict[str, str], list[str]]:
    """Each order's shipment (order id to tracking number) reported three times at once.
    (order id to shipment id, the answers that were not one 201 and two 200 of one shipment)"""
    answers: dict[str, list[tuple[int, str | None]]] = {order_id: [] for order_id in order_ids}

    def post(order_id: str) -> None:
        answer = http.post(
            f"/api/v1/orders/{order_id}/shipments",
            json={"carrier": "inpost", "tracking_number": order_ids[order_id]},
        )
        shipment = answer.json().get("shipment_id") if answer.status_code in (200, 201) else None
        answers[order_id].append((answer.status_code, shipment or answer.text[:200]))

    with ThreadPoolExecutor(SENDERS) as pool:
        list(pool.map(post, [order_id for order_id in order_ids for _ in range(3)]))
    wrong, shipments = [], {}
    for order_id, got in answers.items():
        if sorted(status for status, _ in got) != [200, 200, 201] or len({s for _, s in got}) != 1:
            wrong.append(f"{order_id}: {got}")
        shipments[order_id] = str(got[0][1])
    return shipments, wrong


def channel_told_once(stack: EmbeddedStack, plan: Expected, tracking: str) -> bool:
    """The channel's simulator got exactly one fulfilment/shipment for the order."""
    if plan.channel == "shopify":
        return len(stack.simulator("shopify").fulfillments(plan.external_id)) == 1
    if plan.channel == "woocommerce":
        notes = stack.simulator("woocommerce").notes(int(plan.external_id))
        return len([n for n in notes if tracking in n["note"]]) == 1
    if plan.channel == "allegro":
        return len(stack.simulator("allegro").shipments(plan.external_id)) == 1
    return len(stack.simulator("amazon").packages(plan.external_id)) == 1


# -- the checks -------------------------------------------------------------------------------
def settled(http: httpx.Client, plan: Expected, deadline: float) -> dict[str, Any]:
    """The one order the channel's id names, once its workflow has decided what it can."""
    final = "cancelled" if plan.cancelled else "ready_to_ship"

    def probe() -> dict[str, Any] | None:
        found = orders_of(http, plan.channel, plan.external_id)
        assert len(found) <= 1, f"{plan.channel} {plan.external_id} stored twice: {found}"
        return view_of(http, found[0]["order_id"]) if found else None

    view = eventually(
        probe,
        lambda v: v is not None and v["status"] == final and (plan.cancelled or v["reservations"]),
        timeout=max(1.0, deadline - time.monotonic()),
    )
    assert view is not None
    return view


def check(plan: Expected, view: dict[str, Any]) -> None:
    """Every invariant of one order (a cancelled one too shows the last address sent: the
    cancellation carries it, and the update it overtook is older)."""
    where = f"{plan.channel} {plan.external_id} ({view['order_id']})"
    if plan.line1 is not None:
        assert view["delivery"]["kind"] == "address", where
        last = (view["delivery"]["line1"], view["delivery"]["city"]) == (plan.line1, plan.city)
        assert last, f"{where}: not the last address sent: {view['delivery']}"
    assert [(line["sku"], line["quantity"]) for line in view["lines"]] == [(plan.line.sku, 1)]
    events = [entry["type"] for entry in view["timeline"]]
    assert events.count("OrderReceived") == 1, f"{where}: {events}"
    if plan.cancelled:
        assert view["reservations"] == [], f"{where}: cancelled but holds {view['reservations']}"
    else:
        held = [(r["sku"], r["quantity"]) for r in view["reservations"]]
        assert held == [(plan.line.sku, 1)], f"{where}: holds {held}"


@pytest.mark.e2e
def test_every_channel_at_once_leaves_every_invariant_true(
    http: httpx.Client, embedded: EmbeddedStack
) -> None:
    seed = int(os.environ.get("ORDERHUB_CHANNEL_STORM_SEED", str(random.randrange(10**9))))
    print(f"channel storm seed {seed} (ORDERHUB_CHANNEL_STORM_SEED={seed} reproduces it)")
    rng = random.Random(seed)
    started = time.monotonic()
    orders = SHOPIFY_ORDERS + WOO_ORDERS + AMAZON_ORDERS + ALLEGRO_ORDERS + STORE_ORDERS
    for sku in SKUS:
        stock_available(http, sku, orders)
    before = {sku: reserved(http, sku) for sku in SKUS}
    failures_before = inbox_failures(embedded)
    dead_before = embedded.dead_letter_depths()

    # GIVEN Shopify and WooCommerce deliveries, duplicated, shuffled, some updates first
    shopify, shopify_early, shopify_rest = shopify_storm(
        rng, embedded, 8_000_000_000 + rng.randrange(10**7) * 100
    )
    woo, woo_early, woo_rest = woocommerce_storm(rng, embedded, 10**7 + rng.randrange(10**5) * 100)
    # AND the own store's checkout POSTing its orders meanwhile
    store_answers = StoreAnswers()
    store, store_jobs = store_storm(http, store_answers, f"{seed}-{uuid.uuid4().hex[:8]}")
    early: list[Delivery] = [*shopify_early, *woo_early]
    rest: list[Delivery] = [*shopify_rest, *woo_rest, *store_jobs]
    rng.shuffle(early)
    rng.shuffle(rest)
    # AND a deployment that knows which Amazon seller it serves
    our_seller(embedded, embedded.simulator("amazon").seller_id)
    try:
        # WHEN Amazon's notifications are queued, the webhooks sent from eight threads, and
        # Allegro's journal pulled meanwhile
        amazon, foreign_order, foreign_notice = amazon_storm(rng, embedded)
        sent = Sent()
        with ThreadPoolExecutor(1) as background:
            pulled = background.submit(allegro_storm, embedded)
            sent.send_all(http, early + rest)
            allegro = pulled.result()
        print(f"channel storm: {dict(sent.statuses)} sent in {time.monotonic() - started:.1f} s")

        # THEN every delivery got its answer: 200, or 401/400 for the forged and the broken
        assert sent.wrong == []
        # AND the own store's: one order per key and per external id, the broken refused
        assert store_answers_wrong(store_answers, store) == []
        # AND once quiet, every channel order exists once, in its final state
        deadline = time.monotonic() + QUIET_TIMEOUT
        everything = shopify + woo + amazon + allegro + store
        live = [p for p in everything if p.stored]
        views = {(p.channel, p.external_id): settled(http, p, deadline) for p in live}
        # (the notification naming another seller is kept, ignored, and fetched nothing)
        eventually(
            lambda: inbox_status(embedded, "amazon", foreign_notice),
            lambda status: status == "ignored",
            timeout=max(1.0, deadline - time.monotonic()),
        )
    finally:
        our_seller(embedded, "")
    print(f"channel storm: quiet after {time.monotonic() - started:.1f} s")

    # AND a second look (nothing late changed them) finds every invariant true
    for plan in live:
        view = view_of(http, views[(plan.channel, plan.external_id)]["order_id"])
        assert view["status"] == ("cancelled" if plan.cancelled else "ready_to_ship"), plan
        if plan.cancelled and plan.channel == "shopify":
            assert view["status_reason"] == "cancelled_on_channel"
        assert len(orders_of(http, plan.channel, plan.external_id)) == 1, plan
        check(plan, view)
    # AND what was refused, or named another seller, stored no order
    for plan in everything:
        if not plan.stored:
            assert orders_of(http, plan.channel, plan.external_id) == [], plan
    assert orders_of(http, "amazon", foreign_order) == []
    # AND reserved stock rose by exactly the units of the orders not cancelled
    held = Counter(p.line.sku for p in live if not p.cancelled)
    rose = {sku: reserved(http, sku) - before[sku] for sku in SKUS}
    assert rose == {sku: held[sku] for sku in SKUS}

    # WHEN every live channel order's shipment is reported three times at once
    shipping = [p for p in live if not p.cancelled and p.channel in CHANNEL_SOURCES]
    tracking = {
        views[(p.channel, p.external_id)]["order_id"]: f"STORM{n}-{uuid.uuid4().hex[:12]}"
        for n, p in enumerate(shipping)
    }
    stock_before = {sku: stock_of(http, sku) for sku in SKUS}
    shipment_ids, wrong = ship_all(http, tracking)
    # THEN each is one shipment: one 201, the others 200 naming it
    assert wrong == []
    # AND once each channel is told, the orders are shipped and their units out of stock
    deadline = time.monotonic() + NOTIFIED_TIMEOUT
    for order_id, shipment_id in shipment_ids.items():
        items = eventually(
            partial(shipments_of, http, order_id),
            lambda items: bool(items) and all(s["channel_notified"] for s in items),
            timeout=max(1.0, deadline - time.monotonic()),
        )
        assert [s["shipment_id"] for s in items] == [shipment_id], order_id
    for plan in shipping:
        order_id = views[(plan.channel, plan.external_id)]["order_id"]
        view = eventually(
            partial(view_of, http, order_id),
            lambda v: v["status"] == "shipped",
            timeout=max(1.0, deadline - time.monotonic()),
        )
        assert view["reservations"] == [], f"{plan}: shipped but holds {view['reservations']}"
    shipped = Counter(p.line.sku for p in shipping)
    stock_after = {sku: stock_of(http, sku) for sku in SKUS}
    assert stock_after == {
        sku: (on_hand - shipped[sku], held - shipped[sku])
        for sku, (on_hand, held) in stock_before.items()
    }
    # AND each channel got exactly one fulfilment/shipment per order
    told = {
        plan.external_id: channel_told_once(
            embedded, plan, tracking[views[(plan.channel, plan.external_id)]["order_id"]]
        )
        for plan in shipping
    }
    assert [f"{p.channel} {p.external_id}" for p in shipping if not told[p.external_id]] == []
    print(f"channel storm: shipped after {time.monotonic() - started:.1f} s")

    # AND nothing is stuck in the inbox or dead-lettered
    assert inbox_failures(embedded) - failures_before == set()
    dead_after = embedded.dead_letter_depths()
    grew = {q: n for q, n in dead_after.items() if n != dead_before.get(q, 0)}
    # (other tests' own queues, e.g. an event tap on the bus, are no dead-letter queues)
    assert {q: n for q, n in grew.items() if "DLQ" in q or "Rejected" in q} == {}
    print(f"channel storm: checked in {time.monotonic() - started:.1f} s")
