"""`make demo`: the main job on the embedded stack, narrated, ending in a one-line verdict.

A Shopify order arrives (signed), is delivered twice and once tampered with; stock is reserved
and the workflow waits for payment; a Stripe payment (signed, also delivered twice) pays it
exactly once and the workflow resumes to ready_to_ship. Then two orders race for the last
poster on the shelf: one gets it, the other is backordered, nothing is oversold.
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


class Demo:
    def __init__(self, stack: EmbeddedStack) -> None:
        self.stack = stack
        self.http = httpx.Client(
            base_url=stack.url, timeout=15, headers={"Authorization": f"Bearer {stack.api_key}"}
        )
        self.shopify = stack.simulator("shopify")
        self.stripe = stack.simulator("stripe")
        self.results: list[tuple[str, bool]] = []

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
