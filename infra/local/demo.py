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
"""

from __future__ import annotations

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
