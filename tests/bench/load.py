"""6. Webhook acknowledgements on the embedded stack under load, over HTTP.

One embedded stack (tests/conftest.py starts it the same way) receives 267 signed deliveries
from 8 sender threads: 200 Shopify orders/create deliveries (138 orders, 62 of them delivered
again) and 67 Stripe payment_intent.succeeded deliveries (the first 46 orders are prepaid and
paid once visible through the API, 21 payments delivered again; the other 92 are cash on
delivery). 83 of the 267 (31%) are redeliveries, sent again a little after the first copy was
acknowledged, as providers retry. Only the webhook POSTs are timed: the acknowledgement a
provider waits for, while the stream router and the order workflow work behind it.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import multiprocessing
import os
import random
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from tests.bench.report import heading, how, note, percentile, table

THREADS = 8
ORDERS = 138
PREPAID = 46  # orders paid through Stripe; the rest are cash on delivery
ORDER_REDELIVERIES = 62
PAYMENT_REDELIVERIES = 21
DELIVERIES = ORDERS + PREPAID + ORDER_REDELIVERIES + PAYMENT_REDELIVERIES  # 267
SEND_DEADLINE_S = float(os.environ.get("BENCH_LOAD_DEADLINE", "150"))
RETRY_AFTER_S = (0.05, 0.5)  # a redelivery follows its first copy's acknowledgement by this much
VISIBLE_POLL_S = 0.2
# ../shared/DESIGN.md, "Budgets": p99 under 100 ms with 8 concurrent senders.
BUDGET_P99_MS = 100.0
SKU = "BENCH-LOAD-MUG"
SEED = 20261201


@dataclass(order=True)
class Task:
    ready_at: float
    seq: int
    kind: str = field(compare=False)  # order | pay | resend
    external_id: int = field(compare=False)
    request: Any = field(compare=False, default=None)


@dataclass
class Results:
    latencies_ms: dict[str, list[float]] = field(
        default_factory=lambda: {"Shopify": [], "Stripe": [], "redelivery": []}
    )
    statuses: Counter[str] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)
    lookups: int = 0
    sent: int = 0

    @property
    def all_ms(self) -> list[float]:
        return [v for values in self.latencies_ms.values() for v in values]


class Driver:
    def __init__(self, url: str, api_key: str, secrets: dict[str, dict[str, str]]) -> None:
        from shared import registry

        self.url = url
        self.shopify = (
            registry.provider("shopify").simulator_class().from_secret(secrets["shopify"])
        )
        self.stripe = registry.provider("stripe").simulator_class().from_secret(secrets["stripe"])
        self.headers = {"Authorization": f"Bearer {api_key}"}
        rng = random.Random(SEED)  # a reproducible mix, not a secret
        self.base = 9_200_000_000 + rng.randrange(10**8)
        self.rng = rng
        self.redeliver_orders = set(rng.sample(range(ORDERS), ORDER_REDELIVERIES))
        self.redeliver_payments = set(rng.sample(range(PREPAID), PAYMENT_REDELIVERIES))
        self.results = Results()
        self.planned = DELIVERIES
        self._heap: list[Task] = []
        self._seq = itertools.count()
        self._cond = threading.Condition()
        self._deadline = 0.0

    # the schedule ------------------------------------------------------------------------------
    def push(self, kind: str, n: int, request: Any = None, delay: float = 0.0) -> None:
        with self._cond:
            task = Task(time.monotonic() + delay, next(self._seq), kind, n, request)
            heapq.heappush(self._heap, task)
            self._cond.notify()

    def next_task(self) -> Task | None:
        with self._cond:
            while True:
                if self.results.sent >= self.planned or time.monotonic() > self._deadline:
                    self._cond.notify_all()
                    return None
                if self._heap:
                    wait = self._heap[0].ready_at - time.monotonic()
                    if wait <= 0:
                        return heapq.heappop(self._heap)
                    self._cond.wait(min(wait, 0.5))
                else:
                    self._cond.wait(0.5)

    def unplan(self, count: int) -> None:
        with self._cond:
            self.planned -= count
            self._cond.notify_all()

    # one sender ----------------------------------------------------------------------------------
    def post(self, client: Any, request: Any, kind: str) -> bool:
        started = time.perf_counter()
        try:
            response = request.send(client)
        except Exception as error:  # counted and shown, never fatal
            with self._cond:
                self.results.failures.append(f"{type(error).__name__}: {error}")
                self.results.sent += 1
                self._cond.notify_all()
            return False
        elapsed = (time.perf_counter() - started) * 1000
        with self._cond:
            self.results.latencies_ms[kind].append(elapsed)
            self.results.statuses[str(response.status_code)] += 1
            self.results.sent += 1
            self._cond.notify_all()
        return bool(response.status_code == 200)

    def retry_later(self, request: Any) -> None:
        self.push("resend", 0, request, self.rng.uniform(*RETRY_AFTER_S))

    def order_id(self, client: Any, external_id: int) -> str | None:
        listing = client.get(
            "/api/v1/orders", params={"channel": "shopify", "external_id": str(external_id)}
        )
        with self._cond:
            self.results.lookups += 1
        items = listing.json().get("items", []) if listing.status_code == 200 else []
        return str(items[0]["order_id"]) if items else None

    def work(self) -> None:
        import httpx

        from shared.providers.simulation import Line

        line = Line(SKU, "Kubek testowy", 1, "39.00")
        with httpx.Client(base_url=self.url, headers=self.headers, timeout=30) as client:
            while (task := self.next_task()) is not None:
                n = task.external_id
                if task.kind == "resend":
                    self.post(client, task.request, "redelivery")
                elif task.kind == "order":
                    order = self.shopify.order(self.base + n, [line], cash_on_delivery=n >= PREPAID)
                    request = self.shopify.webhook("orders/create", order)
                    if self.post(client, request, "Shopify"):
                        if n in self.redeliver_orders:
                            self.retry_later(request)
                        if n < PREPAID:
                            self.push("pay", n, delay=VISIBLE_POLL_S)
                    else:  # nothing follows a refused order
                        lost = (n in self.redeliver_orders) + (
                            (n < PREPAID) * (1 + (n in self.redeliver_payments))
                        )
                        self.unplan(lost)
                else:
                    found = self.order_id(client, self.base + n)
                    if found is None:  # not stored yet: the stream router is behind
                        self.push("pay", n, delay=VISIBLE_POLL_S)
                        continue
                    stored = client.get(f"/api/v1/orders/{found}").json()
                    amount = int(stored["totals"]["total"]["amount"])
                    intent = self.stripe.payment_intent(found, amount, "pln")
                    request = self.stripe.event("payment_intent.succeeded", intent)
                    if self.post(client, request, "Stripe"):
                        if n in self.redeliver_payments:
                            self.retry_later(request)
                    elif n in self.redeliver_payments:
                        self.unplan(1)

    def run(self) -> float:
        import httpx

        with httpx.Client(base_url=self.url, headers=self.headers, timeout=30) as admin:
            admin.put(
                f"/api/v1/stock/{SKU}", json={"warehouse": "WAW-1", "on_hand": ORDERS * 2}
            ).raise_for_status()
        for n in range(ORDERS):
            self.push("order", n)
        started = time.perf_counter()
        self._deadline = time.monotonic() + SEND_DEADLINE_S
        senders = [
            threading.Thread(target=self.work, name=f"bench-sender-{i}", daemon=True)
            for i in range(THREADS)
        ]
        for sender in senders:
            sender.start()
        for sender in senders:
            sender.join(timeout=SEND_DEADLINE_S + 60)
        return time.perf_counter() - started


def drive(url: str, api_key: str, secrets: dict[str, dict[str, str]], results: Any) -> None:
    """The providers' side, in a process of its own: senders do not share the embedded stack's
    interpreter lock (in the world they are other companies' servers)."""
    driver = Driver(url, api_key, secrets)
    send_s = driver.run()
    results.send((driver.results, send_s))


def run_senders(stack: Any) -> tuple[Results, float]:
    context = multiprocessing.get_context("spawn")  # never fork a process full of threads
    receive, send = context.Pipe(duplex=False)
    child = context.Process(
        target=drive,
        args=(stack.url, stack.api_key, stack.provider_secrets, send),
        name="bench-providers",
    )
    child.start()
    outcome: tuple[Results, float] = receive.recv()
    child.join(timeout=30)
    return outcome


def main() -> int:
    from infra.local.stack import EmbeddedStack
    from infra.local.synth import synth_template
    from tests.bench.aws_work import preload_handlers

    heading("6", "Webhook acknowledgement under load on the embedded stack (milliseconds)")
    started = time.perf_counter()
    # The functions' log lines and EMF metrics go to stdout, as on Lambda: not into this report.
    with open(os.devnull, "w") as devnull, contextlib.redirect_stdout(devnull):
        template = synth_template()
        preload_handlers(template)
        stack = EmbeddedStack(template, gateway_port=0, log_level="ERROR").start()
        try:
            startup_s = time.perf_counter() - started
            results, send_s = run_senders(stack)
            errors = len(getattr(stack, "errors", ()))
        finally:
            stack.stop()
    rows: list[list[object]] = []
    for label, values in (*results.latencies_ms.items(), ("all", results.all_ms)):
        if not values:
            rows.append([label, 0, "-", "-", "-", "-"])
            continue
        rows.append(
            [
                label,
                len(values),
                percentile(values, 50),
                percentile(values, 90),
                percentile(values, 99),
                max(values),
            ]
        )
    table(["deliveries", "n", "ack p50", "ack p90", "ack p99", "max"], rows)
    complete = results.sent >= DELIVERIES
    how(
        f"EmbeddedStack(synth_template(), gateway_port=0, log_level='ERROR') as in "
        f"tests/conftest.py (started in {startup_s:.0f} s; handler modules imported first, "
        f"see aws_work.preload_handlers); {THREADS} sender threads in a process of their own "
        "(the providers' side: not sharing the stack's interpreter lock), one "
        "httpx.Client each, send signed requests from shared/providers/*/*/simulator.py over "
        f"HTTP: {ORDERS} Shopify orders/create ({PREPAID} prepaid, {ORDERS - PREPAID} cash on "
        f"delivery), a Stripe payment_intent.succeeded for each prepaid order once the API "
        f"lists it ({results.lookups} untimed lookups), and {ORDER_REDELIVERIES} + "
        f"{PAYMENT_REDELIVERIES} redeliveries of the same signed request "
        f"{RETRY_AFTER_S[0]}-{RETRY_AFTER_S[1]} s after the first was acknowledged: "
        f"{DELIVERIES} deliveries, {(ORDER_REDELIVERIES + PAYMENT_REDELIVERIES) / DELIVERIES:.0%} "
        "of them redeliveries; 'ack' = wall time of each webhook POST at the sender (connect, "
        "gateway, Lambda invocation, inbox write on moto, response)."
    )
    p99 = percentile(results.all_ms, 99) if results.all_ms else float("nan")
    note(
        f"{results.sent}/{DELIVERIES} deliveries sent in {send_s:.1f} s"
        + ("" if complete else f" (stopped at the {SEND_DEADLINE_S:.0f} s deadline)")
        + f"; statuses {dict(sorted(results.statuses.items()))}; {len(results.failures)} "
        f"failed to send; {errors} embedded-stack errors. p99 {p99:.0f} ms: "
        f"{'within' if p99 < BUDGET_P99_MS else 'over'} DESIGN.md's {BUDGET_P99_MS:.0f} ms "
        f"with {THREADS} concurrent senders."
    )
    if results.failures:
        note(f"first failure: {results.failures[0]}")
    print(f"(section 6 took {time.perf_counter() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
