"""`make demo`: the main job on the embedded stack, narrated, ending in a one-line verdict.

A Shopify order arrives (signed), is delivered twice and once tampered with; stock is reserved
and the workflow waits for payment; a Stripe payment (signed, also delivered twice) pays it
exactly once and the workflow resumes to ready_to_ship. Then two orders race for the last
poster on the shelf: one gets it, the other is backordered, nothing is oversold.

Then payments through every provider, offline on their simulators: one Shopify order each is
paid through a payment session at Stripe, PayU, Przelewy24 and PayPal (the buyer pays on the
provider's simulator, which sends the provider's signed notifications to our webhooks); one of
them is partly refunded through the provider that took the money (Idempotency-Key; completed
by the provider's refund notification); a split tender pays one order part on Stripe and the
rest through a PayU session that asks for what is left, paid once; and the listing, with each
order's payment status and method.

Then the sales channels, each over its own transport on its simulator: a Shopify orders/updated
delivered before its orders/create (one current order), a WooCommerce webhook delivered once and
a dropped one repaired by the WooCommerce poller, an Allegro order read from its journal by the
poller, an Amazon ORDER_CHANGE put on the SQS queue twice, and an own-store POST /api/v1/orders
sent twice with one Idempotency-Key: one listing shows all five. One order per channel is
shipped and the tracking number reaches that channel's API (the own store has none to tell); a
Shopify cancellation cancels its order here and gives the stock back; and an unknown Shopify
variant holds its order until PUT /api/v1/listings maps it and the order is released.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from typing import Any

import httpx

from infra.local.stack import EmbeddedStack
from infra.local.synth import synth_template
from shared.providers.simulation import Line

WAIT_SECONDS = 30
PROVIDERS = ("stripe", "payu", "przelewy24", "paypal")
RETURN_URL = "https://shop.example/thanks"
TEE = Line("TEE-ORGANIC-M", "Koszulka organiczna M", 1, "89.00")
MUG = Line("MUG-KRAKOW-350", "Kubek Kraków 350 ml", 1, "49.00")
CHANNELS = ("shopify", "woocommerce", "allegro", "amazon", "store")


def shippable(order: dict[str, Any]) -> bool:
    return bool(order["status"] == "ready_to_ship")


class Demo:
    def __init__(self, stack: EmbeddedStack) -> None:
        self.stack = stack
        self.http = httpx.Client(
            base_url=stack.url, timeout=15, headers={"Authorization": f"Bearer {stack.api_key}"}
        )
        self.shopify = stack.simulator("shopify")
        self.stripe = stack.simulator("stripe")
        self.results: list[tuple[str, bool]] = []
        self.paid_orders: list[str] = []

    def check(self, description: str, held: bool, detail: str = "") -> bool:
        self.results.append((description, held))
        mark = "ok  " if held else "FAIL"
        print(f"  [{mark}] {description}" + (f"  ({detail})" if detail else ""), flush=True)
        return held

    def api(self, path: str) -> Any:
        response = self.http.get(path)
        response.raise_for_status()
        return response.json()

    def wait_for(self, what: Callable[[], Any], ready: Callable[[Any], bool]) -> Any:
        deadline = time.monotonic() + WAIT_SECONDS
        value = what()
        while not ready(value) and time.monotonic() < deadline:
            time.sleep(0.1)
            value = what()
        return value

    def order_by_external_id(self, external_id: int) -> list[dict[str, Any]]:
        listing = self.api(f"/api/v1/orders?channel=shopify&external_id={external_id}")
        return list(listing["items"])

    def inbox_has(self, source: str, event_id: str) -> bool:
        item = self.stack.client("dynamodb").get_item(
            TableName=self.stack.table_name,
            Key={"PK": {"S": f"INBOX#{source}#{event_id}"}, "SK": {"S": "INBOX"}},
        )
        return "Item" in item

    # -- the story -----------------------------------------------------------------------------
    def main_flow(self) -> None:
        print("\n1. A customer orders on the Shopify store", flush=True)
        stock_before = self.api("/api/v1/stock/MUG-KRAKOW-350")["available"]
        shopify_order = self.shopify.order(
            5770010001,
            [
                Line("MUG-KRAKOW-350", "Kubek Kraków 350 ml", 2, "49.00"),
                Line("TEE-ORGANIC-M", "Koszulka organiczna M", 1, "89.00"),
            ],
        )
        delivery = self.shopify.webhook("orders/create", shopify_order, webhook_id="demo-wh-1")
        first = delivery.send(self.http)
        self.check(
            "signed orders/create accepted",
            first.status_code == 200 and first.json()["status"] == "accepted",
            f"HTTP {first.status_code}",
        )
        again = delivery.send(self.http)
        self.check(
            "the same delivery again is a duplicate, no second effect",
            again.status_code == 200 and again.json()["status"] == "duplicate",
        )
        forged = self.shopify.webhook("orders/create", shopify_order, webhook_id="demo-wh-forged")
        tampered = forged.tampered().send(self.http)
        self.check(
            "a tampered body is refused and nothing is stored",
            tampered.status_code == 401 and not self.inbox_has("shopify", "demo-wh-forged"),
            f"HTTP {tampered.status_code}: {tampered.json()['error']['code']}",
        )

        orders = self.wait_for(lambda: self.order_by_external_id(5770010001), bool)
        self.check("the order is stored exactly once", len(orders) == 1, f"{len(orders)} found")
        if not orders:
            return
        order_id = orders[0]["order_id"]
        order = self.wait_for(
            lambda: self.api(f"/api/v1/orders/{order_id}"), lambda o: o["status"] != "received"
        )
        stock_after = self.api("/api/v1/stock/MUG-KRAKOW-350")["available"]
        self.check(
            "stock reserved in one transaction, workflow waits for payment",
            order["status"] == "awaiting_payment" and stock_after == stock_before - 2,
            f"status {order['status']}, mugs available {stock_before} -> {stock_after}",
        )
        executions = self.stack.client("stepfunctions").list_executions(
            stateMachineArn=self.stack.state_machine_arn
        )["executions"]
        named = [e for e in executions if e["name"] == order_id]
        self.check(
            "one fulfilment execution, named after the order",
            len(named) == 1,
            f"execution {order_id}",
        )

        print("\n2. The customer pays with BLIK through Stripe", flush=True)
        total = order["totals"]["total"]
        intent = self.stripe.payment_intent(order_id, total["amount"], total["currency"].lower())
        payment = self.stripe.event("payment_intent.succeeded", intent)
        paid = payment.send(self.http)
        self.check(
            "signed payment_intent.succeeded accepted",
            paid.status_code == 200,
            f"HTTP {paid.status_code}",
        )
        replay = payment.send(self.http)
        self.check(
            "Stripe's retry of the same event is a duplicate",
            replay.json().get("status") == "duplicate",
        )
        order = self.wait_for(
            lambda: self.api(f"/api/v1/orders/{order_id}"), lambda o: o["status"] == "ready_to_ship"
        )
        paid_events = [e for e in order["timeline"] if e["type"] == "OrderPaid"]
        self.check(
            "paid exactly once; the workflow resumed to ready_to_ship",
            order["status"] == "ready_to_ship"
            and len(paid_events) == 1
            and order["payment"]["status"] == "paid",
            f"status {order['status']}, {len(paid_events)} OrderPaid",
        )
        print(f"\n   Timeline of {order_id} (Shopify {order['external_number']}):")
        for entry in order["timeline"]:
            print(
                f"     v{entry['version']:<2} {entry['at']}  {entry['type']:<17} "
                f"-> {entry['status']:<17} by {entry['actor']}"
            )

    def last_item_race(self) -> None:
        print("\n3. Two customers want the last Tatry poster", flush=True)
        ids = (5770010002, 5770010003)
        for external_id in ids:
            poster = self.shopify.order(
                external_id, [Line("POSTER-A2-TATRY", "Plakat A2 Tatry", 1, "59.00")]
            )
            self.shopify.webhook("orders/create", poster).send(self.http)
        statuses = []
        for external_id in ids:
            statuses.append(self._decided_status(external_id))
        stock = self.api("/api/v1/stock/POSTER-A2-TATRY")
        got = sorted(status for status, _ in statuses)
        reason = next((r for s, r in statuses if s == "backordered"), "")
        self.check(
            "one reserved it, the other is backordered with the reason",
            got == ["awaiting_payment", "backordered"],
            reason or str(got),
        )
        self.check(
            "nothing oversold",
            stock["available"] == 0 and stock["reserved"] == 1,
            f"on hand {stock['on_hand']}, reserved {stock['reserved']}",
        )

    def _decided_status(self, external_id: int) -> tuple[str, str | None]:
        found = self.wait_for(lambda: self.order_by_external_id(external_id), bool)
        order_id = found[0]["order_id"]
        order = self.wait_for(
            lambda: self.api(f"/api/v1/orders/{order_id}"), lambda o: o["status"] != "received"
        )
        return order["status"], order.get("status_reason")

    def place(self, external_id: int, *lines: Line) -> dict[str, Any]:
        """A Shopify orders/create (signed); the stored order once its workflow has decided."""
        created = self.shopify.webhook(
            "orders/create", self.shopify.order(external_id, list(lines))
        )
        created.send(self.http)
        return self.order(self._decided_id(external_id))

    def _decided_id(self, external_id: int) -> str:
        found = self.wait_for(lambda: self.order_by_external_id(external_id), bool)
        order_id = str(found[0]["order_id"])
        self.wait_for(
            lambda: self.api(f"/api/v1/orders/{order_id}"), lambda o: o["status"] != "received"
        )
        return order_id

    def order(self, order_id: str) -> dict[str, Any]:
        return dict(self.api(f"/api/v1/orders/{order_id}"))

    def open_session(self, order_id: str, provider: str) -> httpx.Response:
        body: dict[str, Any] = {"provider": provider, "return_url": RETURN_URL}
        if provider != "paypal":
            body["method"] = "blik"
        return self.http.post(f"/api/v1/orders/{order_id}/payment-session", json=body)

    def wait_paid(self, order_id: str) -> dict[str, Any]:
        return dict(
            self.wait_for(lambda: self.order(order_id), lambda o: o["status"] == "ready_to_ship")
        )

    def each_provider(self) -> None:
        print("\n4. Shopify orders paid through a payment session at each provider", flush=True)
        for n, provider in enumerate(PROVIDERS):
            placed = self.place(5770010010 + n, TEE)
            order_id = placed["order_id"]
            opened = self.open_session(order_id, provider)
            session = opened.json()
            total = placed["totals"]["total"]
            self.check(
                f"{provider}: a session for the whole order, the buyer sent to its page",
                placed["status"] == "awaiting_payment"
                and opened.status_code == 201
                and session.get("amount") == total["amount"]
                and str(session.get("redirect_url", "")).startswith("http"),
                f"HTTP {opened.status_code}, {session.get('amount')} {session.get('currency')}",
            )
            if opened.status_code != 201:
                continue
            self.stack.simulator(provider).pay(session["session_id"])
            done = self.wait_paid(order_id)
            paid_events = [e for e in done["timeline"] if e["type"] == "OrderPaid"]
            payment = done["payment"]
            self.check(
                f"{provider}: its signed notifications pay the order once, ready_to_ship",
                done["status"] == "ready_to_ship"
                and payment["status"] == "paid"
                and payment["paid"] == total
                and len(paid_events) == 1,
                f"payment {payment['status']}, method {payment['method']}, "
                f"{len(paid_events)} OrderPaid",
            )
            self.paid_orders.append(order_id)

    def refund(self) -> None:
        print("\n5. Part of the PayPal order goes back through PayPal", flush=True)
        if len(self.paid_orders) < len(PROVIDERS):
            self.check("a paid PayPal order to refund", False)
            return
        order_id = self.paid_orders[-1]
        body = {"amount": 1000, "reason": "damaged on arrival"}
        key = {"Idempotency-Key": f"demo-refund-{order_id}"}
        asked = self.http.post(f"/api/v1/orders/{order_id}/refunds", json=body, headers=key)
        again = self.http.post(f"/api/v1/orders/{order_id}/refunds", json=body, headers=key)
        refund_id = asked.json().get("refund_id")
        self.check(
            "refund accepted; the same Idempotency-Key again is the same refund",
            asked.status_code == 202
            and again.status_code == 202
            and again.json().get("refund_id") == refund_id,
            f"HTTP {asked.status_code}, {refund_id}",
        )
        done = self.wait_for(
            lambda: self.order(order_id),
            lambda o: (
                bool(o["payment"]["refunds"])
                and o["payment"]["refunds"][0]["status"] == "completed"
            ),
        )
        payment = done["payment"]
        completed = [e for e in done["timeline"] if e["type"] == "RefundCompleted"]
        self.check(
            "PayPal's refund notification completes it: 10.00 zł back, once",
            bool(payment["refunds"])
            and payment["refunds"][0]["status"] == "completed"
            and payment["refunded"]["amount"] == 1000
            and payment["status"] == "partially_refunded"
            and len(completed) == 1,
            f"payment {payment['status']}, refunded {payment['refunded']['amount']}",
        )

    def split_tender(self) -> None:
        print("\n6. Split tender: part on Stripe, the rest through a PayU session", flush=True)
        placed = self.place(
            5770010020, TEE, Line("MUG-KRAKOW-350", "Kubek Kraków 350 ml", 1, "49.00")
        )
        order_id = placed["order_id"]
        total = placed["totals"]["total"]
        part = 5000
        # A session always asks for everything still owed, so the Stripe part arrives as
        # Stripe's signed payment_intent.succeeded for 50.00 zł (e.g. a card at the counter).
        intent = self.stripe.payment_intent(order_id, part, total["currency"].lower())
        self.stripe.event("payment_intent.succeeded", intent).send(self.http)
        partly = self.wait_for(
            lambda: self.order(order_id), lambda o: o["payment"]["status"] == "partially_paid"
        )
        self.check(
            "the Stripe part counts toward the total and does not pay it",
            partly["status"] == "awaiting_payment"
            and partly["payment"]["status"] == "partially_paid"
            and partly["payment"]["outstanding"]["amount"] == total["amount"] - part,
            f"paid {partly['payment']['paid']['amount']}, "
            f"outstanding {partly['payment']['outstanding']['amount']}",
        )
        opened = self.open_session(order_id, "payu")
        session = opened.json()
        self.check(
            "the PayU session asks for what is left",
            opened.status_code == 201 and session.get("amount") == total["amount"] - part,
            f"HTTP {opened.status_code}, {session.get('amount')} {session.get('currency')}",
        )
        if opened.status_code != 201:
            return
        self.stack.simulator("payu").pay(session["session_id"])
        done = self.wait_paid(order_id)
        paid_events = [e for e in done["timeline"] if e["type"] == "OrderPaid"]
        providers = sorted(p["provider"] for p in done["payment"]["payments"] if p["decision"])
        self.check(
            "the two parts pay the order once; ready_to_ship",
            done["status"] == "ready_to_ship"
            and done["payment"]["status"] == "paid"
            and done["payment"]["paid"] == total
            and len(paid_events) == 1
            and providers == ["payu", "stripe"],
            f"{' + '.join(providers)}, {len(paid_events)} OrderPaid",
        )
        self.paid_orders.append(order_id)

    def listing(self) -> None:
        print("\n7. The order listing, with each order's money", flush=True)
        listing = self.api("/api/v1/orders?channel=shopify&limit=100")
        rows = {row["order_id"]: row for row in listing["items"]}
        shown = [rows[o] for o in self.paid_orders if o in rows]
        # The listing row carries the order's status and total; its payment, from the order.
        payments = {o: self.order(o)["payment"] for o in self.paid_orders}
        for row in shown:
            payment = payments[row["order_id"]]
            providers = "+".join(sorted({p["provider"] for p in payment["payments"]}))
            print(
                f"     {row['order_id']}  {row['external_number']:<6} {row['status']:<14} "
                f"{row['total']['amount'] / 100:>7.2f} {row['total']['currency']}  "
                f"{payment['status']:<18} {payment['method'] or '-':<6} {providers}"
            )
        self.check(
            "every order paid above is listed, with its payment status and method",
            len(shown) == len(self.paid_orders) == len(PROVIDERS) + 1
            and all(row["status"] == "ready_to_ship" for row in shown)
            and all(payments[o]["status"] in ("paid", "partially_refunded") for o in payments)
            and all(payments[o]["method"] for o in payments),
            f"{len(shown)} of {len(self.paid_orders)} listed",
        )

    # -- sales channels --------------------------------------------------------------------------
    def channel_order(
        self, channel: str, external_id: str, ready: Callable[[dict[str, Any]], bool] = bool
    ) -> dict[str, Any] | None:
        """The one order `channel`'s id names, once `ready` holds (None if it never arrives)."""

        def view() -> dict[str, Any] | None:
            found = self.api(f"/api/v1/orders?channel={channel}&external_id={external_id}")
            items = found["items"]
            return self.order(items[0]["order_id"]) if len(items) == 1 else None

        found = self.wait_for(view, lambda o: o is not None and ready(o))
        return dict(found) if found is not None else None

    def run_poller(self, provider: str) -> None:
        """What the provider's EventBridge schedule does: run its poller Lambda once."""
        construct = "".join(part.capitalize() for part in provider.split("_"))
        name = self.stack._physical("AWS::Lambda::Function", f"{construct}Poller")
        answer = self.stack.client("lambda").invoke(FunctionName=name, Payload=b"{}")
        if "FunctionError" in answer:
            raise RuntimeError(f"{provider} poller failed: {answer['Payload'].read()!r}")

    def sales_channels(self) -> None:
        print("\n8. Orders from all five sales channels, each over its own transport", flush=True)
        # channel -> (its external id, our order id): one order per channel, shipped below
        placed: dict[str, tuple[str, str]] = {}
        for channel, arrives in (
            ("shopify", self.shopify_arrives),
            ("woocommerce", self.woocommerce_arrives),
            ("allegro", self.allegro_arrives),
            ("amazon", self.amazon_arrives),
            ("store", self.store_arrives),
        ):
            arrived = arrives()
            if arrived is not None:
                placed[channel] = arrived
        self.order_book(placed)
        self.ship_each(placed)
        self.channel_cancellation()
        self.unknown_sku()

    def shopify_arrives(self) -> tuple[str, str] | None:
        created = self.shopify.order(5770010030, [MUG], cash_on_delivery=True)
        moved = dict(created["shipping_address"], address1="ul. Nowa 5", city="Gdańsk")
        updated = self.shopify.updated(created, shipping_address=moved)
        self.shopify.webhook("orders/updated", updated).send(self.http)
        self.shopify.webhook("orders/create", created).send(self.http)
        order = self.channel_order("shopify", str(created["id"]), shippable)
        self.check(
            "Shopify: orders/updated before its orders/create, one current order",
            order is not None and order["delivery"]["city"] == "Gdańsk",
            f"delivery to {order['delivery']['city']}" if order else "not stored",
        )
        return (str(created["id"]), order["order_id"]) if order else None

    def woocommerce_arrives(self) -> tuple[str, str] | None:
        woo = self.stack.simulator("woocommerce")
        delivered = woo.put(woo.order(4101, [MUG], cash_on_delivery=True), deliver=True)
        dropped = woo.put(woo.order(4102, [MUG], cash_on_delivery=True))  # its webhook is lost
        order = self.channel_order("woocommerce", str(delivered["id"]), shippable)
        self.check(
            "WooCommerce: its webhook, delivered once, stores the order",
            order is not None,
            f"deliveries {woo.sent}",
        )
        self.run_poller("woocommerce")
        repaired = self.channel_order("woocommerce", str(dropped["id"]), shippable)
        self.check(
            "WooCommerce: a dropped delivery is repaired by the poller", repaired is not None
        )
        return (str(delivered["id"]), order["order_id"]) if order else None

    def allegro_arrives(self) -> tuple[str, str] | None:
        allegro = self.stack.simulator("allegro")
        self.run_poller("allegro")  # the first run starts the cursor at the journal's end
        form_id = allegro.buy([MUG], cod=True, pickup_point="POZ08A")
        self.run_poller("allegro")
        self.run_poller("allegro")
        order = self.channel_order("allegro", form_id, shippable)
        delivery = order["delivery"] if order else {}
        self.check(
            "Allegro: the poller reads it from the order journal once, to a pickup point",
            delivery.get("point_id") == "POZ08A",
            f"{delivery.get('kind')} {delivery.get('point_id')}",
        )
        return (form_id, order["order_id"]) if order else None

    def amazon_arrives(self) -> tuple[str, str] | None:
        amazon = self.stack.simulator("amazon")
        amazon_id = amazon.place_order([MUG])
        notice = amazon.notification(amazon_id)
        sqs, queue = self.stack.client("sqs"), self.stack.queue_url("amazon")
        for _ in range(2):  # SQS delivers at least once
            sqs.send_message(QueueUrl=queue, MessageBody=notice)
        order = self.channel_order("amazon", amazon_id, shippable)
        self.check(
            "Amazon: ORDER_CHANGE twice on the queue, one order, paid on Amazon",
            order is not None and order["payment"]["status"] == "paid",
            f"payment {order['payment']['status']}" if order else "not stored",
        )
        return (amazon_id, order["order_id"]) if order else None

    def store_arrives(self) -> tuple[str, str] | None:
        body = {
            "external_id": "STORE-1001",
            "currency": "PLN",
            "lines": [{"sku": MUG.sku, "quantity": 1, "unit_price": 4900, "vat_rate": 23}],
            "shipping": 1299,
            "buyer": {"email": "anna@example.pl", "name": "Anna Nowak", "phone": "+48500100200"},
            "delivery": {"kind": "pickup_point", "carrier": "inpost", "point_id": "KRA01M"},
            "payment_method": "cash_on_delivery",
        }
        key = {"Idempotency-Key": "demo-checkout-STORE-1001"}
        first = self.http.post("/api/v1/orders", json=body, headers=key)
        again = self.http.post("/api/v1/orders", json=body, headers=key)
        order = self.channel_order("store", "STORE-1001", shippable)
        self.check(
            "own store: POST /api/v1/orders twice with one Idempotency-Key, one order",
            first.status_code == again.status_code == 201
            and again.json().get("order_id") == first.json().get("order_id")
            and order is not None,
            f"HTTP {first.status_code}, {again.status_code}",
        )
        return ("STORE-1001", order["order_id"]) if order else None

    def order_book(self, placed: dict[str, tuple[str, str]]) -> None:
        print("\n   One listing, GET /api/v1/orders:")
        ours = {order_id for _, order_id in placed.values()}
        rows = [r for r in self.api("/api/v1/orders?limit=100")["items"] if r["order_id"] in ours]
        for row in sorted(rows, key=lambda r: list(CHANNELS).index(r["channel"])):
            print(
                f"     {row['channel']:<12} {row['external_id']:<37} {row['status']:<14} "
                f"{row['total']['amount'] / 100:>7.2f} {row['total']['currency']}"
            )
        channels = {row["channel"] for row in rows}
        self.check(
            "all five channels in one listing",
            channels == set(CHANNELS),
            ", ".join(sorted(channels)),
        )

    def ship_each(self, placed: dict[str, tuple[str, str]]) -> None:
        print("\n9. One shipment per channel; the tracking number reaches the channel", flush=True)
        for channel, (_, order_id) in placed.items():
            body = {"carrier": "inpost", "tracking_number": f"DEMO-{channel.upper()}-1"}
            answer = self.http.post(f"/api/v1/orders/{order_id}/shipments", json=body)
            if answer.status_code != 201:
                self.check(f"{channel}: shipment accepted", False, f"HTTP {answer.status_code}")
        for channel, (external_id, order_id) in placed.items():
            if channel == "store":
                continue
            tracking = f"DEMO-{channel.upper()}-1"
            shipments = self.wait_for(
                functools.partial(self.shipments, order_id),
                lambda items: bool(items) and all(s["channel_notified"] for s in items),
            )
            self.check(
                f"{channel}: shipped here; its API got tracking number {tracking}",
                bool(shipments)
                and shipments[0]["channel_notified"]
                and self.channel_saw(channel, external_id, tracking),
            )
        if "store" in placed:
            order_id = placed["store"][1]
            shipments = self.shipments(order_id)
            self.check(
                "store: shipped; no channel to tell (channel_notified false)",
                len(shipments) == 1 and shipments[0]["channel_notified"] is False,
            )

    def shipments(self, order_id: str) -> list[dict[str, Any]]:
        return list(self.api(f"/api/v1/orders/{order_id}/shipments")["items"])

    def channel_saw(self, channel: str, external_id: str, tracking: str) -> bool:
        simulator = self.stack.simulator(channel)
        if channel == "shopify":
            fulfillments = simulator.fulfillments(external_id)
            return [f["trackingInfo"][0]["number"] for f in fulfillments] == [tracking]
        if channel == "woocommerce":
            notes = [n["note"] for n in simulator.notes(int(external_id))]
            return any(tracking in note for note in notes) and (
                simulator.stored(int(external_id))["status"] == "completed"
            )
        if channel == "allegro":
            return [s["waybill"] for s in simulator.shipments(external_id)] == [tracking]
        if channel == "amazon":
            return [p["trackingNumber"] for p in simulator.packages(external_id)] == [tracking]
        return False

    def channel_cancellation(self) -> None:
        print("\n10. Cancelled on Shopify: cancelled here, the stock goes back", flush=True)
        before = self.api("/api/v1/stock/TEE-ORGANIC-M")["reserved"]
        tees = Line("TEE-ORGANIC-M", "Koszulka organiczna M", 2, "89.00")
        created = self.shopify.order(5770010031, [tees], cash_on_delivery=True)
        self.shopify.webhook("orders/create", created).send(self.http)
        ready = self.channel_order("shopify", str(created["id"]), shippable)
        reserved = self.api("/api/v1/stock/TEE-ORGANIC-M")["reserved"]
        self.shopify.webhook("orders/cancelled", self.shopify.cancelled(created)).send(self.http)
        cancelled = self.channel_order(
            "shopify", str(created["id"]), lambda o: o["status"] == "cancelled"
        )
        after = self.api("/api/v1/stock/TEE-ORGANIC-M")["reserved"]
        self.check(
            "orders/cancelled cancels the order and releases its two tees",
            ready is not None
            and reserved == before + 2
            and cancelled is not None
            and cancelled["status_reason"] == "cancelled_on_channel"
            and after == before,
            f"tees reserved {before} -> {reserved} -> {after}",
        )

    def unknown_sku(self) -> None:
        print("\n11. A Shopify variant we do not know: held until the shop maps it", flush=True)
        odd = Line("SHOPIFY-ONLY-VARIANT", "Kubek (wariant)", 1, "49.00")
        created = self.shopify.order(5770010032, [odd], cash_on_delivery=True)
        self.shopify.webhook("orders/create", created).send(self.http)
        held = self.channel_order("shopify", str(created["id"]), lambda o: o["held"] is not None)
        self.check(
            "the order is held, naming the unknown line",
            held is not None and held["status"] == "received",
            str(held["held"]) if held else "not stored",
        )
        if held is None:
            return
        variant = created["line_items"][0]["variant_id"]
        mapped = self.http.put(
            f"/api/v1/listings/shopify/{variant}", json={"sku": "MUG-KRAKOW-350"}
        )
        released = self.http.post(f"/api/v1/orders/{held['order_id']}/release", json={})
        ready = self.channel_order("shopify", str(created["id"]), shippable)
        self.check(
            "mapped to MUG-KRAKOW-350 and released: ready_to_ship",
            mapped.status_code == 200
            and released.status_code == 200
            and ready is not None
            and ready["lines"][0]["sku"] == "MUG-KRAKOW-350"
            and ready["held"] is None,
            f"PUT listing HTTP {mapped.status_code}, release HTTP {released.status_code}",
        )

    def nothing_dead_lettered(self) -> None:
        depths = self.stack.dead_letter_depths()
        self.check("no dead-lettered messages", not any(depths.values()), str(depths))


def run_demo() -> int:
    print("orderhub demo: synthesising the CDK app and deploying it into the embedded stack")
    started = time.perf_counter()
    template = synth_template()
    held = False
    with EmbeddedStack(template, gateway_port=0, log_level="ERROR") as stack:
        print(
            f"  up in {time.perf_counter() - started:.1f} s: "
            f"{len(template['Resources'])} resources, HTTP API at {stack.url}"
        )
        demo = Demo(stack)
        try:
            demo.main_flow()
            demo.last_item_race()
            demo.each_provider()
            demo.refund()
            demo.split_tender()
            demo.listing()
            demo.sales_channels()
            demo.nothing_dead_lettered()
        except Exception as error:
            demo.check(f"demo ran to the end ({type(error).__name__}: {error})", False)
        finally:
            demo.http.close()
        failed = [name for name, ok in demo.results if not ok]
        held = not failed
        seconds = time.perf_counter() - started
        print()
        if held:
            print(f"VERDICT: PASS - all {len(demo.results)} checks held ({seconds:.1f} s)")
        else:
            print(
                f"VERDICT: FAIL - {len(failed)} of {len(demo.results)} checks failed: "
                + "; ".join(failed)
            )
    return 0 if held else 1
