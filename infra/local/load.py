"""Webhook acknowledgement latency under load, over HTTP, against a running embedded stack.

`webhook_load(stack)` sends signed Shopify orders/create deliveries and, once each order is
visible through the API, a signed Stripe payment_intent.succeeded for it, from `threads` sender
threads; a share of the deliveries are redeliveries (the same delivery sent again, as providers
retry). Only the webhook POSTs are timed: the acknowledgement a provider waits for, while the
stream router and the workflow are busy behind it. Then it waits for the orders to reach
ready_to_ship and reports how many did.

    from infra.local.load import webhook_load
    report = webhook_load(stack, orders=200, threads=8)
    print(report.summary())
"""

from __future__ import annotations

import queue
import random
import statistics
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import httpx

from shared.providers.simulation import Line, SignedRequest

if TYPE_CHECKING:
    from infra.local.stack import EmbeddedStack

LOAD_SKU = "LOAD-MUG-350"
LOAD_LINE = Line(LOAD_SKU, "Kubek testowy", 1, "39.00")


def percentile(values: list[float], share: float) -> float:
    """Nearest-rank percentile (share in 0..1); 0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(share * len(ordered) + 0.5)))
    return ordered[rank - 1]


@dataclass
class LoadReport:
    threads: int
    orders: int
    deliveries: int = 0
    redeliveries: int = 0
    latencies_ms: list[float] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)  # connection errors, timeouts
    send_seconds: float = 0.0
    ready_to_ship: int = 0
    settle_seconds: float = 0.0

    @property
    def p50_ms(self) -> float:
        return percentile(self.latencies_ms, 0.50)

    @property
    def p99_ms(self) -> float:
        return percentile(self.latencies_ms, 0.99)

    @property
    def max_ms(self) -> float:
        return max(self.latencies_ms, default=0.0)

    def summary(self) -> str:
        mean = statistics.fmean(self.latencies_ms) if self.latencies_ms else 0.0
        return (
            f"{self.deliveries} signed deliveries ({self.redeliveries} redeliveries, "
            f"{self.orders} orders) from {self.threads} threads in {self.send_seconds:.1f} s: "
            f"ack p50 {self.p50_ms:.1f} ms, p99 {self.p99_ms:.1f} ms, max {self.max_ms:.1f} ms, "
            f"mean {mean:.1f} ms; statuses {dict(sorted(self.statuses.items()))}; "
            f"{len(self.failures)} failed; {self.ready_to_ship}/{self.orders} ready_to_ship "
            f"{self.settle_seconds:.1f} s after the last delivery"
        )


@dataclass
class _Task:
    kind: str  # "order", "pay", "resend"
    external_id: int
    request: SignedRequest | None = None
    not_before: float = 0.0


def webhook_load(  # noqa: PLR0915 - one scenario, read top to bottom
    stack: EmbeddedStack,
    *,
    orders: int = 200,
    threads: int = 8,
    redelivery_share: float = 0.31,
    first_external_id: int | None = None,
    settle_timeout: float = 300.0,
    seed: int = 7,
) -> LoadReport:
    """Run the scenario against `stack` (started, with its gateway) and measure it."""
    rng = random.Random(seed)  # noqa: S311 - a reproducible mix, not a secret
    base = first_external_id or 9_100_000_000 + rng.randrange(10**8)
    shopify = stack.simulator("shopify")
    stripe = stack.simulator("stripe")
    headers = {"Authorization": f"Bearer {stack.api_key}"}
    with httpx.Client(base_url=stack.url, headers=headers, timeout=30) as admin:
        admin.put(
            f"/api/v1/stock/{LOAD_SKU}", json={"warehouse": "WAW-1", "on_hand": orders * 2 + 10}
        ).raise_for_status()

    report = LoadReport(threads=threads, orders=orders)
    lock = threading.Lock()
    tasks: queue.Queue[_Task | None] = queue.Queue()
    for n in range(orders):
        tasks.put(_Task("order", base + n))
    outstanding = [orders * 2]  # every order and every payment must be acknowledged once
    order_ids: dict[int, str] = {}
    done = threading.Event()

    def finished_one() -> None:
        with lock:
            outstanding[0] -= 1
            if outstanding[0] == 0:
                done.set()
                for _ in range(threads):
                    tasks.put(None)

    def post(client: httpx.Client, request: SignedRequest) -> bool:
        started = time.perf_counter()
        try:
            response = request.send(client)
        except httpx.HTTPError as error:
            with lock:
                report.failures.append(f"{type(error).__name__}: {error}")
            return False
        elapsed = (time.perf_counter() - started) * 1000
        with lock:
            report.deliveries += 1
            report.latencies_ms.append(elapsed)
            report.statuses[response.status_code] += 1
        return response.status_code == 200

    def maybe_redeliver(task: _Task, request: SignedRequest) -> None:
        if rng.random() < redelivery_share:
            tasks.put(_Task("resend", task.external_id, request))

    def order_id(client: httpx.Client, external_id: int) -> str | None:
        found = order_ids.get(external_id)
        if found is None:
            listing = client.get(
                "/api/v1/orders", params={"channel": "shopify", "external_id": str(external_id)}
            )
            items = listing.json().get("items", []) if listing.status_code == 200 else []
            if not items:
                return None
            found = order_ids[external_id] = str(items[0]["order_id"])
        return found

    def step(client: httpx.Client, task: _Task) -> None:
        if task.kind == "resend":
            assert task.request is not None
            post(client, task.request)
            with lock:
                report.redeliveries += 1
        elif task.kind == "order":
            request = shopify.webhook("orders/create", shopify.order(task.external_id, [LOAD_LINE]))
            finished_one()
            if post(client, request):
                maybe_redeliver(task, request)
                tasks.put(_Task("pay", task.external_id, None, time.monotonic() + 0.2))
            else:
                finished_one()  # no payment will follow
        else:
            found = order_id(client, task.external_id)
            if found is None:  # not stored yet: the stream router is behind
                tasks.put(_Task("pay", task.external_id, None, time.monotonic() + 0.5))
                return
            stored = client.get(f"/api/v1/orders/{found}").json()
            amount = int(stored["totals"]["total"]["amount"])
            request = stripe.event(
                "payment_intent.succeeded", stripe.payment_intent(found, amount, "pln")
            )
            finished_one()
            if post(client, request):
                maybe_redeliver(task, request)

    def work() -> None:
        with httpx.Client(base_url=stack.url, headers=headers, timeout=30) as client:
            while True:
                task = tasks.get()
                if task is None:
                    return
                wait = task.not_before - time.monotonic()
                if wait > 0:
                    if tasks.empty():
                        time.sleep(wait)
                    else:
                        tasks.put(task)
                        continue
                try:
                    step(client, task)
                except httpx.HTTPError as error:  # an API lookup failed: try the payment later
                    with lock:
                        report.failures.append(f"lookup: {type(error).__name__}: {error}")
                    if task.kind == "pay":
                        tasks.put(_Task("pay", task.external_id, None, time.monotonic() + 1))

    started = time.perf_counter()
    workers = [threading.Thread(target=work, name=f"load-{i}", daemon=True) for i in range(threads)]
    for worker in workers:
        worker.start()
    done.wait(timeout=settle_timeout)
    for _ in range(threads):
        tasks.put(None)
    for worker in workers:
        worker.join(timeout=30)
    report.send_seconds = time.perf_counter() - started

    settled = time.perf_counter()
    deadline = time.monotonic() + settle_timeout
    with httpx.Client(base_url=stack.url, headers=headers, timeout=30) as client:
        pending = set(order_ids.values())
        while pending and time.monotonic() < deadline:
            for found in list(pending):
                try:
                    status = client.get(f"/api/v1/orders/{found}").json().get("status")
                except httpx.HTTPError:
                    continue
                if status == "ready_to_ship":
                    pending.discard(found)
            if pending:
                time.sleep(0.5)
        report.ready_to_ship = len(order_ids) - len(pending)
    report.settle_seconds = time.perf_counter() - settled
    return report


def main(argv: list[str] | None = None) -> int:
    """python -m infra.local.load [orders] [threads]: a fresh embedded stack, one run."""
    import sys

    from infra.local.stack import EmbeddedStack
    from infra.local.synth import synth_template

    args = sys.argv[1:] if argv is None else argv
    orders = int(args[0]) if args else 200
    threads = int(args[1]) if len(args) > 1 else 8
    with EmbeddedStack(synth_template(), gateway_port=0, log_level="ERROR") as stack:
        report = webhook_load(stack, orders=orders, threads=threads)
        print(report.summary())
        errors: Any = list(getattr(stack, "errors", []))
        if errors:
            print(f"{len(errors)} embedded-stack errors, first: {errors[0]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
