"""3. AWS work per webhook and per order on the embedded stack (and 4. what it costs).

One prepaid order goes through the whole system over HTTP as in infra/local/demo.py main_flow:
Shopify orders/create -> awaiting_payment -> Stripe payment_intent.succeeded -> ready_to_ship,
then the stream poller drains so the outbox is published. It runs twice: the first order meets
cold containers (clients built, secrets fetched), the second is the steady state that is
reported and priced. Every AWS call the handlers make is seen by botocore event hooks on the
botocore session shared/platform/aws.py builds clients from; each call is attributed to
the Lambda invocation running on the calling thread.

Then every payment provider in shared/registry.py (those with a gateway) is paid through as a
shop's checkout does it (tests/e2e/test_payments.py): a payment session through the API, the
buyer paying on the provider simulator's page, the provider's notifications over HTTP to its
webhook, whatever orderhub then asks the provider (P24's transaction/verify, PayPal's capture
and its verify-webhook-signature), until nothing more arrives. Two rounds, one order per
provider each: the first meets cold containers, the second is reported. Calls to a provider's
API are seen by wrapping httpx.HTTPTransport.handle_request (observed, not answered: the
simulators serve them over 127.0.0.1) and reported apart from AWS calls.
"""

from __future__ import annotations

import contextlib
import copy
import os
import re
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any
from unittest import mock

import httpx

from tests.bench import capacity
from tests.bench.cost import FunctionUsage, OrderUsage, order_cost, print_cost
from tests.bench.report import heading, how, note, table

WAIT_SECONDS = 30
POLL_SECONDS = 0.1
OUTSIDE = "(outside any invocation)"
_PARAMS = "bench_api_params"
_CALL = "bench_call"
DYNAMODB_WRITES = {"PutItem", "UpdateItem", "DeleteItem", "TransactWriteItems", "BatchWriteItem"}
DYNAMODB_READS = {"GetItem", "Query", "Scan", "BatchGetItem", "TransactGetItems"}
ORDER_LINES = (
    ("MUG-KRAKOW-350", "Kubek Kraków 350 ml", 2, "49.00"),
    ("TEE-ORGANIC-M", "Koszulka organiczna M", 1, "89.00"),
)
RETURN_URL = "https://shop.example/thanks"
# How the buyer pays at each provider (BLIK where the provider offers it, as the e2e tests do);
# a provider not named here gets the gateway's default.
PAY_METHODS = {"stripe": "blik", "payu": "blik", "przelewy24": "blik"}
QUIET_SECONDS = 0.5  # no invocation for this long after the drain: the order's work is done
_ID_SEGMENT = re.compile(r"^(?=.*[0-9])[A-Za-z0-9_-]{8,}$")


# -- what is recorded --------------------------------------------------------------------------
@dataclass(eq=False)
class Run:
    """One Lambda invocation, timed inside the in-process runtime (after its lock is taken)."""

    function: str
    handler_ms: float = 0.0
    hook_ms: float = 0.0  # time the bench's own hooks spent inside this invocation
    error: str | None = None
    status: int | None = None  # an HTTP handler's statusCode
    stored: str | None = None  # what a webhook put in the inbox: "<source> <topic>"

    @property
    def net_ms(self) -> float:
        return max(0.0, self.handler_ms - self.hook_ms)


@dataclass
class WriteTarget:
    kind: str  # Put | Update | Delete | ConditionCheck
    table: str
    key: dict[str, Any]
    new_item: dict[str, Any] | None = None
    before: dict[str, Any] | None = None
    size: int = 0
    wru: int = 0
    gsi_wru: int = 0

    @property
    def item_type(self) -> str:
        """'ORDER#x' / 'EVENT#0001' -> 'ORDER / EVENT': what kind of item was written."""
        parts = [str(next(iter(v.values()))).split("#", 1)[0] for v in self.key.values()]
        return " / ".join(parts)


@dataclass
class Call:
    origin: str
    run: Run | None
    service: str
    operation: str
    attempts: int = 0
    error: str | None = None
    wru: int = 0
    gsi_wru: int = 0
    rru: float = 0.0
    events: int = 0
    targets: list[WriteTarget] = field(default_factory=list)
    sent: float = 0.0
    ms: float = 0.0  # from the end of before-call to the start of after-call

    @property
    def name(self) -> str:
        return f"{self.service}.{self.operation}"


@dataclass
class ProviderCall:
    """One HTTP request made through httpx inside a Lambda invocation (a provider's API)."""

    run: Run
    provider: str
    method: str
    path: str
    status: int | None = None
    error: str | None = None
    ms: float = 0.0  # until the response's headers (httpx reads the body after)

    @property
    def name(self) -> str:
        return f"{self.provider} {self.method} {self.path}"


# -- the hooks -------------------------------------------------------------------------------------
class Tracker:
    def __init__(self, stack: Any) -> None:
        self._stack = stack
        self._reader = stack.client("dynamodb")  # its own session: never seen by the hooks
        self._local = threading.local()
        self._lock = threading.Lock()
        self._shapes: dict[str, capacity.TableShape] = {}
        self.calls: list[Call] = []
        self.runs: list[Run] = []
        self.env_mismatches = 0
        self.side_calls: list[tuple[str, str, float]] = []  # (origin, call name, monotonic)
        self.provider_calls: list[ProviderCall] = []
        self.provider_hosts: dict[str, str] = {}  # "127.0.0.1:port" -> provider title

    # installation
    @contextlib.contextmanager
    def installed(self) -> Iterator[None]:
        from infra.local import lambda_runtime
        from shared.platform import aws

        events = aws.session()
        handlers: list[tuple[str, Callable[..., None]]] = [
            ("provide-client-params.*.*", self._on_params),
            ("before-call.*.*", self._on_before_call),
            ("before-send.*.*", self._on_before_send),
            ("after-call.*.*", self._on_after_call),
            ("after-call-error.*.*", self._on_after_call_error),
        ]
        for event, handler in handlers:
            events.register(event, handler, unique_id=f"bench-{event}")
        # Clients copy the session's hooks when built: rebuild the handlers' cached clients.
        aws.reset_clients()
        self._watch_local_runtime_clients()
        original = lambda_runtime._load_handler
        send = httpx.HTTPTransport.handle_request
        with (
            mock.patch.object(lambda_runtime, "_load_handler", partial(self._load, original)),
            mock.patch.object(httpx.HTTPTransport, "handle_request", self._observed(send)),
        ):
            try:
                yield
            finally:
                for event, _ in handlers:
                    events.unregister(event, unique_id=f"bench-{event}")

    def _observed(
        self, send: Callable[[httpx.HTTPTransport, httpx.Request], httpx.Response]
    ) -> Callable[[httpx.HTTPTransport, httpx.Request], httpx.Response]:
        """httpx's transport, unchanged, with each request made inside an invocation noted."""

        def handle_request(
            transport: httpx.HTTPTransport, request: httpx.Request
        ) -> httpx.Response:
            run: Run | None = getattr(self._local, "run", None)
            if run is None:  # the driver, a simulator's own deliveries: not a function's work
                return send(transport, request)
            host = f"{request.url.host}:{request.url.port}"
            segments = [
                "{id}" if _ID_SEGMENT.match(part) else part for part in request.url.path.split("/")
            ]
            call = ProviderCall(
                run, self.provider_hosts.get(host, host), request.method, "/".join(segments)
            )
            started = time.perf_counter()
            try:
                response = send(transport, request)
            except Exception as error:
                call.error = type(error).__name__
                raise
            else:
                call.status = response.status_code
                return response
            finally:
                call.ms = (time.perf_counter() - started) * 1000
                with self._lock:
                    self.provider_calls.append(call)

        return handle_request

    def _watch_local_runtime_clients(self) -> None:
        """The gateway's and stream poller's own clients (the stack's session), counted only."""
        gateway, poller = self._stack.gateway, self._stack.poller
        watched = {
            "gateway": [getattr(gateway, "_lambda", None)],
            "stream poller": [getattr(poller, f"_{n}", None) for n in ("streams", "lambda", "sqs")],
        }
        for origin, clients in watched.items():
            for client in clients:
                if client is not None:
                    client.meta.events.register(
                        "before-call.*.*", partial(self._on_side_call, origin)
                    )

    def _load(
        self, original: Callable[[str], Callable[[Any, Any], Any]], handler: str
    ) -> Callable[[Any, Any], Any]:
        function = original(handler)

        def timed(event: Any, context: Any) -> Any:
            with self._lock:
                run = Run(context.function_name)
                self.runs.append(run)
            self._local.run = run
            started = time.perf_counter()
            try:
                result = function(event, context)
            except Exception as error:
                run.error = type(error).__name__
                raise
            else:
                if isinstance(result, dict) and isinstance(result.get("statusCode"), int):
                    run.status = result["statusCode"]
                return result
            finally:
                run.handler_ms = (time.perf_counter() - started) * 1000
                self._local.run = None

        return timed

    # hooks on shared/platform/aws.py's botocore session
    def _on_params(self, params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        context[_PARAMS] = copy.deepcopy(params)

    def _on_before_call(self, model: Any, context: dict[str, Any], **_: Any) -> None:
        started = time.perf_counter()
        run: Run | None = getattr(self._local, "run", None)
        if run is not None and os.environ.get("AWS_LAMBDA_FUNCTION_NAME") != run.function:
            self.env_mismatches += 1
        call = Call(
            origin=run.function if run is not None else OUTSIDE,
            run=run,
            service=model.service_model.service_name,
            operation=model.name,
        )
        if call.service == "dynamodb" and call.operation in DYNAMODB_WRITES:
            call.targets = self._write_targets(call.operation, context.get(_PARAMS) or {})
            for target in call.targets:
                target.before = self._read(target.table, target.key)
                self._note_inbox(run, target)
        context[_CALL] = call
        self._charge(run, started)
        call.sent = time.perf_counter()

    def _on_before_send(self, request: Any, **_: Any) -> None:
        call = (getattr(request, "context", None) or {}).get(_CALL)
        if call is not None:
            call.attempts += 1

    def _on_after_call(
        self, parsed: dict[str, Any], model: Any, context: dict[str, Any], **_: Any
    ) -> None:
        started = time.perf_counter()
        call: Call | None = context.get(_CALL)
        if call is None:
            return
        call.ms = (started - call.sent) * 1000
        call.error = (parsed or {}).get("Error", {}).get("Code")
        params = context.get(_PARAMS) or {}
        if call.service == "dynamodb" and call.operation in DYNAMODB_WRITES:
            self._account_writes(call)
        elif call.service == "dynamodb" and call.operation in DYNAMODB_READS and not call.error:
            call.rru = self._read_units(call.operation, params, parsed)
        elif call.service == "events" and call.operation == "PutEvents":
            call.events = len(params.get("Entries", []))
        with self._lock:
            self.calls.append(call)
        self._charge(call.run, started)

    def _on_after_call_error(self, exception: Exception, context: dict[str, Any], **_: Any) -> None:
        call: Call | None = context.get(_CALL)
        if call is not None:
            call.error = type(exception).__name__
            with self._lock:
                self.calls.append(call)

    def _on_side_call(self, origin: str, model: Any, **_: Any) -> None:
        with self._lock:
            self.side_calls.append(
                (origin, f"{model.service_model.service_name}.{model.name}", time.monotonic())
            )

    @staticmethod
    def _note_inbox(run: Run | None, target: WriteTarget) -> None:
        """A webhook's inbox item names what was delivered: INBOX#<source>#<id> and its topic."""
        item = target.new_item or {}
        key = str(item.get("PK", {}).get("S", ""))
        if run is not None and key.startswith("INBOX#"):
            source = key.split("#")[1]
            run.stored = f"{source} {item.get('topic', {}).get('S', '?')}"

    def _charge(self, run: Run | None, started: float) -> None:
        if run is not None:
            run.hook_ms += (time.perf_counter() - started) * 1000

    # DynamoDB accounting
    def _shape(self, table: str) -> capacity.TableShape:
        shape = self._shapes.get(table)
        if shape is None:
            description = self._reader.describe_table(TableName=table)["Table"]
            shape = self._shapes[table] = capacity.TableShape.from_description(description)
        return shape

    def _read(self, table: str, key: dict[str, Any]) -> dict[str, Any] | None:
        item: dict[str, Any] | None = self._reader.get_item(
            TableName=table, Key=key, ConsistentRead=True
        ).get("Item")
        return item

    def _write_targets(self, operation: str, params: dict[str, Any]) -> list[WriteTarget]:
        def target(kind: str, body: dict[str, Any]) -> WriteTarget:
            table = body["TableName"]
            if kind == "Put":
                item = body["Item"]
                return WriteTarget(kind, table, self._shape(table).key_of(item), new_item=item)
            return WriteTarget(kind, table, body["Key"])

        if operation == "TransactWriteItems":
            targets = []
            for action in params.get("TransactItems", []):
                ((kind, body),) = action.items()
                targets.append(target(kind, body))
            return targets
        if operation == "BatchWriteItem":
            targets = []
            for table, requests in params.get("RequestItems", {}).items():
                for request in requests:
                    if "PutRequest" in request:
                        targets.append(target("Put", {"TableName": table, **request["PutRequest"]}))
                    else:
                        body = {"TableName": table, **request["DeleteRequest"]}
                        targets.append(target("Delete", body))
            return targets
        kind = {"PutItem": "Put", "UpdateItem": "Update", "DeleteItem": "Delete"}[operation]
        return [target(kind, params)]

    def _account_writes(self, call: Call) -> None:
        factor = 2 if call.operation == "TransactWriteItems" else 1
        for target in call.targets:
            if call.error:
                target.size = capacity.item_size(target.before)
                target.wru = factor * capacity.write_units(target.size)
                call.wru += target.wru
                continue
            after: dict[str, Any] | None
            if target.kind == "Put":
                after = target.new_item
            elif target.kind == "Update":
                after = self._read(target.table, target.key)
            elif target.kind == "Delete":
                after = None
            else:
                after = target.before
            target.size = max(capacity.item_size(target.before), capacity.item_size(after))
            target.wru = factor * capacity.write_units(target.size)
            if target.kind != "ConditionCheck":
                target.gsi_wru = capacity.index_write_units(
                    self._shape(target.table), target.before, after
                )
            call.wru += target.wru
            call.gsi_wru += target.gsi_wru

    @staticmethod
    def _read_units(operation: str, params: dict[str, Any], parsed: dict[str, Any]) -> float:
        consistent = bool(params.get("ConsistentRead")) and "IndexName" not in params
        if operation == "GetItem":
            return capacity.read_units(
                capacity.item_size(parsed.get("Item")), consistent=consistent
            )
        if operation in ("Query", "Scan"):
            size = sum(capacity.item_size(item) for item in parsed.get("Items", []))
            return capacity.read_units(size, consistent=consistent)
        if operation == "TransactGetItems":
            return sum(
                2 * capacity.read_units(capacity.item_size(r.get("Item")), consistent=True)
                for r in parsed.get("Responses", [])
            )
        return sum(
            capacity.read_units(capacity.item_size(item), consistent=consistent)
            for items in parsed.get("Responses", {}).values()
            for item in items
        )


# -- driving an order ------------------------------------------------------------------------------
@dataclass
class Window:
    """Index ranges of what happened between two marks."""

    calls: tuple[int, int]
    runs: tuple[int, int]
    invocations: tuple[int, int]
    started: float
    ended: float = 0.0


@dataclass
class WebhookDelivery:
    label: str
    status: int
    runs: list[Run]


@dataclass
class OrderResult:
    label: str
    order_id: str
    window: Window
    webhooks: list[WebhookDelivery]
    seconds: float
    requests: list[Any]  # the signed requests sent, for redelivery
    provider: str = "stripe"  # who was paid
    session: list[Run] = field(default_factory=list)  # the API run(s) opening its session


class Driver:
    def __init__(self, stack: Any, tracker: Tracker, webhook_functions: set[str]) -> None:

        self.stack = stack
        self.tracker = tracker
        self.webhook_functions = webhook_functions
        self.http = httpx.Client(
            base_url=stack.url, timeout=15, headers={"Authorization": f"Bearer {stack.api_key}"}
        )
        self.shopify = stack.simulator("shopify")
        self.stripe = stack.simulator("stripe")
        self.sfn = stack.client("stepfunctions")

    def mark(self) -> Window:
        return Window(
            calls=(len(self.tracker.calls), 0),
            runs=(len(self.tracker.runs), 0),
            invocations=(len(self.stack.runtime.invocations), 0),
            started=time.monotonic(),
        )

    def close(self, window: Window) -> Window:
        window.calls = (window.calls[0], len(self.tracker.calls))
        window.runs = (window.runs[0], len(self.tracker.runs))
        window.invocations = (window.invocations[0], len(self.stack.runtime.invocations))
        window.ended = time.monotonic()
        return window

    def deliver(self, label: str, request: Any) -> WebhookDelivery:
        first = len(self.tracker.runs)
        response = request.send(self.http)
        runs = [r for r in self.tracker.runs[first:] if r.function in self.webhook_functions]
        return WebhookDelivery(label, response.status_code, runs)

    def api(self, path: str) -> Any:
        response = self.http.get(path)
        response.raise_for_status()
        return response.json()

    @staticmethod
    def wait_for(what: Callable[[], Any], ready: Callable[[Any], bool], description: str) -> Any:
        deadline = time.monotonic() + WAIT_SECONDS
        value = what()
        while not ready(value):
            if time.monotonic() > deadline:
                raise TimeoutError(f"gave up waiting for {description}: last saw {value!r}")
            time.sleep(POLL_SECONDS)
            value = what()
        return value

    def order(self, label: str, external_id: int) -> OrderResult:
        from shared.providers.simulation import Line

        window = self.mark()
        started = time.perf_counter()
        shopify_order = self.shopify.order(external_id, [Line(*line) for line in ORDER_LINES])
        create_request = self.shopify.webhook("orders/create", shopify_order)
        created = self.deliver("Shopify orders/create", create_request)
        listing = self.wait_for(
            lambda: self.api(f"/api/v1/orders?channel=shopify&external_id={external_id}")["items"],
            bool,
            "the order to be stored",
        )
        order_id = listing[0]["order_id"]
        order = self.wait_for(
            lambda: self.api(f"/api/v1/orders/{order_id}"),
            lambda o: o["status"] != "received",
            "stock reservation",
        )
        if order["status"] != "awaiting_payment":
            raise RuntimeError(f"expected awaiting_payment, got {order['status']}")
        total = order["totals"]["total"]
        intent = self.stripe.payment_intent(order_id, total["amount"], total["currency"].lower())
        pay_request = self.stripe.event("payment_intent.succeeded", intent)
        paid = self.deliver("Stripe payment_intent.succeeded", pay_request)
        self.wait_for(
            lambda: self.api(f"/api/v1/orders/{order_id}")["status"],
            lambda status: status == "ready_to_ship",
            "ready_to_ship",
        )
        execution_arn = self.execution_arn(order_id)
        self.wait_for(
            lambda: self.sfn.describe_execution(executionArn=execution_arn)["status"],
            lambda status: status != "RUNNING",
            "the execution to finish",
        )
        self.stack.poller.drain(timeout=WAIT_SECONDS)
        seconds = time.perf_counter() - started
        for delivery in (created, paid):
            if delivery.status != 200:
                raise RuntimeError(f"{delivery.label} answered HTTP {delivery.status}")
        return OrderResult(
            label,
            order_id,
            self.close(window),
            [created, paid],
            seconds,
            [create_request, pay_request],
        )

    def paid_order(self, label: str, external_id: int, provider: str) -> OrderResult:
        """An order paid through a payment session at `provider`, as a shop's checkout pays:
        the session through the API, the buyer on the simulator's page, then whatever the
        provider sends and orderhub asks it, until the order is ready_to_ship and all is quiet.
        `webhooks` = every webhook invocation of the order (Shopify's included), labelled by
        what it stored; `session` = the API invocation(s) that opened the session."""
        from shared.providers.simulation import Line

        window = self.mark()
        started = time.perf_counter()
        shopify_order = self.shopify.order(external_id, [Line(*line) for line in ORDER_LINES])
        self.deliver("Shopify orders/create", self.shopify.webhook("orders/create", shopify_order))
        listing = self.wait_for(
            lambda: self.api(f"/api/v1/orders?channel=shopify&external_id={external_id}")["items"],
            bool,
            "the order to be stored",
        )
        order_id = listing[0]["order_id"]
        order = self.wait_for(
            lambda: self.api(f"/api/v1/orders/{order_id}"),
            lambda o: o["status"] != "received",
            "stock reservation",
        )
        if order["status"] != "awaiting_payment":
            raise RuntimeError(f"expected awaiting_payment, got {order['status']}")
        body: dict[str, Any] = {"provider": provider, "return_url": RETURN_URL}
        if provider in PAY_METHODS:
            body["method"] = PAY_METHODS[provider]
        first_run = len(self.tracker.runs)
        opened = self.http.post(f"/api/v1/orders/{order_id}/payment-session", json=body)
        if opened.status_code != 201:
            raise RuntimeError(f"payment session at {provider}: HTTP {opened.status_code}")
        session_runs = self.tracker.runs[first_run:]
        self.stack.simulator(provider).pay(opened.json()["session_id"])
        self.wait_for(
            lambda: self.api(f"/api/v1/orders/{order_id}")["status"],
            lambda status: status == "ready_to_ship",
            f"ready_to_ship after paying at {provider}",
        )
        execution_arn = self.execution_arn(order_id)
        self.wait_for(
            lambda: self.sfn.describe_execution(executionArn=execution_arn)["status"],
            lambda status: status != "RUNNING",
            "the execution to finish",
        )
        self.settle()
        seconds = time.perf_counter() - started
        closed = self.close(window)
        runs = self.tracker.runs[closed.runs[0] : closed.runs[1]]
        webhooks = [
            WebhookDelivery(r.stored or "(nothing stored)", r.status or 0, [r])
            for r in runs
            if r.function in self.webhook_functions
        ]
        refused = [w for w in webhooks if w.status != 200]
        if refused:
            raise RuntimeError(f"{provider} order: webhooks answered {refused}")
        return OrderResult(
            label, order_id, closed, webhooks, seconds, [], provider, list(session_runs)
        )

    def settle(self) -> None:
        """Drain the streams until no invocation starts for QUIET_SECONDS: notifications a
        provider sends later (PayPal's after orderhub's capture) and what they cause."""
        deadline = time.monotonic() + WAIT_SECONDS
        while True:
            self.stack.poller.drain(timeout=WAIT_SECONDS)
            seen = len(self.tracker.runs)
            time.sleep(QUIET_SECONDS)
            if len(self.tracker.runs) == seen:
                return
            if time.monotonic() > deadline:
                raise TimeoutError("the order's work did not go quiet")

    def redeliveries(self, order: OrderResult) -> tuple[Window, list[WebhookDelivery]]:
        """What a webhook costs when it is not new: the provider's retry, and a forged body."""
        window = self.mark()
        create_request, pay_request = order.requests
        again = self.deliver("Stripe event redelivered (duplicate)", pay_request)
        forged = self.deliver("Shopify orders/create, tampered body", create_request.tampered())
        self.stack.poller.drain(timeout=WAIT_SECONDS)
        return self.close(window), [again, forged]

    def execution_arn(self, order_id: str) -> str:
        executions = self.sfn.list_executions(stateMachineArn=self.stack.state_machine_arn)
        for execution in executions["executions"]:
            if execution["name"] == order_id:
                return str(execution["executionArn"])
        raise LookupError(f"no execution named {order_id}")

    def states_entered(self, order_id: str) -> list[str]:
        arn = self.execution_arn(order_id)
        entered: list[str] = []
        request: dict[str, Any] = {"executionArn": arn, "maxResults": 1000}
        while True:
            page = self.sfn.get_execution_history(**request)
            for event in page["events"]:
                if event["type"].endswith("StateEntered"):
                    entered.append(event["stateEnteredEventDetails"]["name"])
            if not page.get("nextToken"):
                return entered
            request["nextToken"] = page["nextToken"]


# -- reporting -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class FunctionInfo:
    name: str
    handler: str
    memory_mb: int
    provider: str = ""  # a webhook function's PROVIDER

    @property
    def short(self) -> str:
        """'webhooks.handler (stripe)', 'stream_router.handler'."""
        module = self.handler.rsplit(".", 1)[0].removeprefix("functions.")
        return f"{module} ({self.provider})" if self.provider else module

    @property
    def per_order(self) -> bool:
        """Periodic pollers and the management API (the driver's reads) are not order work."""
        return not self.handler.startswith(("functions.api.", "functions.pollers."))


def preload_handlers(template: dict[str, Any], log_level: str = "ERROR") -> None:
    """Import every function's handler module once, on this thread, before the stack is busy.

    The embedded stack runs different functions concurrently, and two of them importing a
    package for the first time at once can fail (Powertools' data_classes: "partially
    initialized module"). Real Lambda environments never share a process; these sections
    measure AWS work and acknowledgements, not the embedded stack's imports. Powertools reads
    its log level when the shared Logger is built, so the stack's level is set meanwhile."""
    import importlib

    from infra.local.lambda_runtime import environment_overlay

    with environment_overlay({"POWERTOOLS_LOG_LEVEL": log_level}):
        for resource in template["Resources"].values():
            if resource["Type"] == "AWS::Lambda::Function":
                handler = str(resource["Properties"]["Handler"])
                if handler.startswith("functions."):
                    importlib.import_module(handler.rpartition(".")[0])


def functions_of(template: dict[str, Any], deployed: dict[str, str]) -> dict[str, FunctionInfo]:
    found = {}
    for logical, resource in template["Resources"].items():
        if resource["Type"] != "AWS::Lambda::Function" or logical not in deployed:
            continue
        props = resource["Properties"]
        name = deployed[logical]
        variables = props.get("Environment", {}).get("Variables", {})
        provider = variables.get("PROVIDER")
        found[name] = FunctionInfo(
            name,
            props["Handler"],
            int(props.get("MemorySize", 128)),
            provider if isinstance(provider, str) else "",
        )
    return found


def _short(name: str, functions: dict[str, FunctionInfo]) -> str:
    info = functions.get(name)
    return info.short if info else name


def _provider_calls_text(calls: Sequence[ProviderCall]) -> str:
    """'PayPal POST /v1/notifications/verify-webhook-signature x1'"""
    grouped = Counter(call.name for call in calls)
    failed = Counter(call.name for call in calls if call.error or (call.status or 0) >= 400)
    return (
        ", ".join(
            f"{name} x{n}" + (f" ({failed[name]} failed)" if failed[name] else "")
            for name, n in sorted(grouped.items())
        )
        or "-"
    )


def _calls_text(calls: Sequence[Call]) -> str:
    """'dynamodb.PutItem x1 (1 failed: ConditionalCheckFailedException)'"""
    grouped: dict[str, list[Call]] = defaultdict(list)
    for call in calls:
        grouped[call.name].append(call)
    parts = []
    for name, group in sorted(grouped.items()):
        errors = Counter(c.error for c in group if c.error)
        failed = ", ".join(f"{n} {e}" for e, n in sorted(errors.items()))
        parts.append(f"{name} x{len(group)}" + (f" ({failed})" if failed else ""))
    return ", ".join(parts) or "-"


def print_webhooks(
    tracker: Tracker,
    deliveries: list[tuple[str, WebhookDelivery]],
    functions: dict[str, Any],
    *,
    title: str = "",
    explain: bool = True,
) -> None:
    rows: list[list[object]] = []
    for order_label, delivery in deliveries:
        runs = {id(run) for run in delivery.runs}
        calls = [c for c in tracker.calls if c.run is not None and id(c.run) in runs]
        outbound = [c for c in tracker.provider_calls if id(c.run) in runs]
        rows.append(
            [
                order_label,
                delivery.label,
                ", ".join(_short(r.function, functions) for r in delivery.runs),
                delivery.status,
                _calls_text(calls),
                sum(c.wru for c in calls),
                sum(c.gsi_wru for c in calls),
                sum(c.rru for c in calls),
                _provider_calls_text(outbound),
                sum(r.net_ms for r in delivery.runs),
                sum(c.ms for c in outbound),
            ]
        )
    table(
        [
            "order",
            "webhook",
            "function",
            "HTTP",
            "AWS calls in the handler",
            "WRU",
            "GSI WRU",
            "RRU",
            "provider API calls in the handler (not AWS)",
            "handler ms",
            "of which provider calls",
        ],
        rows,
        title=title,
    )
    if not explain:
        return
    how(
        "botocore hooks (provide-client-params/before-call/after-call) registered on "
        "the botocore session of shared/platform/aws.py before reset_clients(); a call belongs "
        "to the webhook "
        "invocation running on the calling thread (tagged by wrapping the in-process runtime's "
        "handler loader; AWS_LAMBDA_FUNCTION_NAME agreed "
        f"{'always' if tracker.env_mismatches == 0 else f'except {tracker.env_mismatches}x'}); "
        "WRU/RRU computed from item sizes (tests/bench/capacity.py), not moto's ConsumedCapacity; "
        "provider API calls = requests through httpx.HTTPTransport.handle_request (wrapped to "
        "note them, then passed on unchanged) made on the invocation's thread, here to the "
        "provider simulators the embedded stack serves on 127.0.0.1 (ids in paths shown as "
        "{id}); handler ms = wall time of the handler call (module import excluded) minus the "
        "bench hooks' own reads, provider calls' ms until their response headers."
    )


def print_order(
    tracker: Tracker,
    driver: Driver,
    result: OrderResult,
    functions: dict[str, FunctionInfo],
) -> OrderUsage:
    window = result.window
    runs = tracker.runs[window.runs[0] : window.runs[1]]
    invocations = list(driver.stack.runtime.invocations)[
        window.invocations[0] : window.invocations[1]
    ]
    order_calls, order_runs = _order_work(tracker, result, functions)
    by_function: dict[str, list[Run]] = defaultdict(list)
    for run in order_runs:
        by_function[run.function].append(run)
    counted = Counter(i.function_name for i in invocations)

    rows: list[list[object]] = []
    for name, function_runs in sorted(by_function.items(), key=lambda kv: kv[0]):
        mine = [c for c in order_calls if c.origin == name]
        rows.append(
            [
                _short(name, functions),
                functions[name].memory_mb,
                counted.get(name, 0),
                sum(r.net_ms for r in function_runs),
                sum(c.ms for c in mine),
                len(mine),
                sum(c.wru for c in mine),
                sum(c.gsi_wru for c in mine),
                sum(c.rru for c in mine),
                sum(c.events for c in mine),
            ]
        )
    rows.append(
        [
            "total per order",
            "",
            sum(counted.get(name, 0) for name in by_function),
            sum(r.net_ms for r in order_runs),
            sum(c.ms for c in order_calls),
            len(order_calls),
            sum(c.wru for c in order_calls),
            sum(c.gsi_wru for c in order_calls),
            sum(c.rru for c in order_calls),
            sum(c.events for c in order_calls),
        ]
    )
    table(
        [
            "function",
            "MB",
            "invocations",
            "handler ms",
            "of which in AWS calls",
            "AWS calls",
            "WRU",
            "GSI WRU",
            "RRU",
            "events published",
        ],
        rows,
        title=f"Per order ({result.label}, {result.order_id}), by function:",
    )

    detail: dict[tuple[str, str], list[Call]] = defaultdict(list)
    for call in order_calls:
        detail[(_short(call.origin, functions), call.name)].append(call)
    detail_rows: list[list[object]] = [
        [
            function,
            operation,
            len(group),
            sum(c.attempts for c in group),
            sum(1 for c in group if c.error),
            sum(c.wru for c in group),
            sum(c.gsi_wru for c in group),
            sum(c.rru for c in group),
            sum(c.ms for c in group),
        ]
        for (function, operation), group in sorted(detail.items())
    ]
    table(
        [
            "function",
            "operation",
            "calls",
            "HTTP attempts",
            "failed",
            "WRU",
            "GSI WRU",
            "RRU",
            "ms in call",
        ],
        detail_rows,
        title="Per order, calls by operation:",
    )
    kinds: dict[str, list[tuple[Call, WriteTarget]]] = defaultdict(list)
    for call in order_calls:
        for target in call.targets:
            kinds[target.item_type].append((call, target))
    table(
        [
            "item (PK / SK prefix)",
            "writes",
            "of which in transactions",
            "max size B",
            "WRU",
            "GSI WRU",
        ],
        [
            [
                kind,
                len(writes),
                sum(1 for c, _ in writes if c.operation == "TransactWriteItems"),
                max(t.size for _, t in writes),
                sum(t.wru for _, t in writes),
                sum(t.gsi_wru for _, t in writes),
            ]
            for kind, writes in sorted(kinds.items())
        ],
        title="Per order, DynamoDB writes by item type:",
    )
    states = driver.states_entered(result.order_id)
    how(
        "all Lambda invocations between sending the Shopify webhook and the drained stream "
        "after ready_to_ship (stack.runtime.invocations; the management API that the driver "
        "polls and the scheduled reconciler are excluded, see below); WRU = 1 per started KB "
        "of the larger of the item before (consistent GetItem in before-call) and after "
        "(the request's Item, or a GetItem after the call) x2 in TransactWriteItems, failed "
        "conditions charged the existing item; GSI WRU = index entries put/deleted/updated, "
        "per started KB of the projected entry, from the table's GSI definitions, at 1x even "
        "inside transactions; RRU = started 4 KB of returned items, x0.5 unless consistent; "
        "ms in call = client-side wall time of the call against the local moto server."
    )
    note(
        f"Step Functions transitions per order: {len(states)} (StateEntered events in "
        f"get_execution_history of the execution named {result.order_id}: "
        f"{' -> '.join(states)})"
    )
    invoked = sum(counted.get(name, 0) for name in by_function)
    table_wru = sum(c.wru for c in order_calls)
    index_wru = sum(c.gsi_wru for c in order_calls)
    note(
        f"per order, in short: {invoked} Lambda invocations, "
        f"{sum(len(d.runs) for d in result.webhooks)} HTTP API requests, {len(order_calls)} AWS "
        f"calls, {table_wru} + {index_wru} GSI = {table_wru + index_wru} WRU, "
        f"{sum(c.rru for c in order_calls):g} RRU, {len(states)} state transitions, "
        f"{sum(c.events for c in order_calls)} EventBridge events"
    )
    errors = [f"{i.function_name}: {i.error}" for i in invocations if i.error]
    if errors:
        note(f"invocations that raised (retried by their trigger): {', '.join(errors)}")
    if len(runs) != len(invocations):
        note(f"runtime recorded {len(invocations)} invocations, the bench timed {len(runs)}")
    return usage_of(tracker, result, functions, len(states))


def usage_of(
    tracker: Tracker, result: OrderResult, functions: dict[str, FunctionInfo], transitions: int
) -> OrderUsage:
    """What section 4 prices: the order's invocations, requests, units, transitions, events."""
    order_calls, order_runs = _order_work(tracker, result, functions)
    by_function: dict[str, list[Run]] = defaultdict(list)
    for run in order_runs:
        by_function[run.function].append(run)
    return OrderUsage(
        functions=tuple(
            FunctionUsage(
                _short(name, functions),
                functions[name].memory_mb,
                tuple(r.net_ms for r in function_runs),
            )
            for name, function_runs in sorted(by_function.items())
        ),
        http_requests=sum(len(d.runs) for d in result.webhooks),
        write_units=sum(c.wru + c.gsi_wru for c in order_calls),
        read_units=sum(c.rru for c in order_calls),
        transitions=transitions,
        events_published=sum(c.events for c in order_calls),
    )


def _by_function(calls: Sequence[ProviderCall], functions: dict[str, FunctionInfo]) -> str:
    """'stream_router.handler: Przelewy24 PUT /api/v1/transaction/verify x1; ...'"""
    grouped: dict[str, list[ProviderCall]] = defaultdict(list)
    for call in calls:
        grouped[_short(call.run.function, functions)].append(call)
    return (
        "; ".join(
            f"{name}: {_provider_calls_text(group)}" for name, group in sorted(grouped.items())
        )
        or "-"
    )


def print_providers(
    tracker: Tracker,
    driver: Driver,
    cold: Sequence[OrderResult],
    warm: Sequence[OrderResult],
    functions: dict[str, FunctionInfo],
) -> None:
    """Round 2 (warm) of the orders paid through a session at each provider; round 1 beside."""
    from shared import registry

    deliveries = [
        (f"{result.provider}, warm", delivery)
        for result in warm
        for delivery in result.webhooks
        if not delivery.label.startswith("shopify ")
    ]
    print_webhooks(
        tracker,
        deliveries,
        functions,
        title="Per webhook, one order paid through a payment session at each provider "
        "(round 2, warm; each order's Shopify orders/create as above, left out):",
        explain=False,
    )
    rows: list[list[object]] = []
    sessions: list[str] = []
    for result in warm:
        calls, runs = _order_work(tracker, result, functions)
        in_order = set(runs)
        outbound = [c for c in tracker.provider_calls if c.run in in_order]
        states = driver.states_entered(result.order_id)
        usage = usage_of(tracker, result, functions, len(states))
        rows.append(
            [
                registry.provider(result.provider).title,
                f"{result.seconds:.1f} s",
                len(result.webhooks),
                len(runs),
                len(calls),
                sum(c.wru + c.gsi_wru for c in calls),
                sum(c.rru for c in calls),
                len(states),
                sum(c.events for c in calls),
                _by_function(outbound, functions),
                f"${order_cost(usage):.4f}",
            ]
        )
        api_runs = {
            r
            for r in result.session
            if functions.get(r.function, _UNKNOWN).handler.startswith("functions.api.")
        }
        session_calls = [c for c in tracker.calls if c.run in api_runs]
        session_outbound = [c for c in tracker.provider_calls if c.run in api_runs]
        sessions.append(
            f"{result.provider}: {len(api_runs)} invocation, AWS {_calls_text(session_calls)}; "
            f"provider {_provider_calls_text(session_outbound)}"
        )
    table(
        [
            "paid at",
            "end to end",
            "webhooks",
            "invocations",
            "AWS calls",
            "WRU incl. GSI",
            "RRU",
            "transitions",
            "events",
            "provider API calls (not AWS), by function",
            "per 1,000 orders",
        ],
        rows,
        title="Per order, by payment provider (round 2, warm; Shopify's webhook included):",
    )
    how(
        "as the Stripe order above (the same hooks, windows and units; the management API's "
        "invocations are left out, the payment-session request too: see the note), for one "
        "order per provider: Shopify orders/create, then POST /api/v1/orders/{id}/payment-"
        "session (method "
        + ", ".join(f"{p} {m}" for p, m in sorted(PAY_METHODS.items()))
        + ", else the gateway's default), then the simulator's pay(session) - the buyer on "
        "the provider's page - which sends the provider's notifications to the webhook over "
        "HTTP (PayPal's capture notification only after orderhub's capture), until the order "
        f"is ready_to_ship, its execution done and no invocation starts for {QUIET_SECONDS} s "
        "after the stream drained; 'per 1,000 orders' = section 4's prices for that order's "
        "counts. Round 1 ran the same orders first, on cold containers."
    )
    note("the payment-session request (API, not counted above): " + "; ".join(sessions))
    for first, second in zip(cold, warm, strict=True):
        first_calls, _ = _order_work(tracker, first, functions)
        second_calls, _ = _order_work(tracker, second, functions)
        extra = Counter(c.name for c in first_calls) - Counter(c.name for c in second_calls)
        first_runs, second_runs = (
            set(_order_work(tracker, r, functions)[1]) for r in (first, second)
        )
        extra_out = Counter(
            c.name for c in tracker.provider_calls if c.run in first_runs
        ) - Counter(c.name for c in tracker.provider_calls if c.run in second_runs)
        beyond = ", ".join(f"{n} x{c}" for n, c in sorted((extra + extra_out).items()))
        note(
            f"{first.provider} round 1 (cold containers): {len(first_calls)} AWS calls; beyond "
            f"round 2's: {beyond or 'none'}"
        )
    note(
        "round 1's webhooks may find their secret already read: the embedded stack runs every "
        "function in one process, and the API's payment-session request filled "
        "shared/platform/secrets.py's cache; on Lambda each webhook container reads its own "
        "once (secretsmanager.GetSecretValue, as order 1 shows)"
    )


_UNKNOWN = FunctionInfo("?", "functions.unknown.handler.lambda_handler", 128)


def print_excluded(
    tracker: Tracker, windows: Sequence[Window], functions: dict[str, FunctionInfo]
) -> None:
    rows: list[list[object]] = []
    per_origin: dict[str, list[str]] = defaultdict(list)
    invocations: Counter[str] = Counter()
    for window in windows:
        for call in tracker.calls[window.calls[0] : window.calls[1]]:
            if call.run is None or not functions.get(call.run.function, _UNKNOWN).per_order:
                origin = call.origin if call.run is None else _short(call.origin, functions)
                per_origin[origin].append(call.name)
        for run in tracker.runs[window.runs[0] : window.runs[1]]:
            if not functions.get(run.function, _UNKNOWN).per_order:
                invocations[_short(run.function, functions)] += 1
        for origin, name, at in tracker.side_calls:
            if window.started <= at <= window.ended:
                per_origin[origin].append(name)
    for origin, names in sorted(per_origin.items()):
        counted = Counter(names)
        rows.append(
            [
                origin,
                invocations.get(origin, "-"),
                ", ".join(f"{n} x{c}" for n, c in sorted(counted.items())),
            ]
        )
    table(
        ["origin", "invocations", "calls"],
        rows,
        title="Not counted as order work (every order above and the redeliveries):",
    )
    how(
        "the same hooks; 'api.handler' = the driver's status polls through the management API "
        "(as the demo does) and the provider orders' payment-session requests, "
        "'(outside any invocation)' = default-session calls made on a "
        "thread running no Lambda (moto's Step Functions interpreter invoking the task Lambda), "
        "'gateway'/'stream poller' = the embedded stack's own clients, counted by a "
        "before-call hook on each; none of these are billed per order like the rows above."
    )


# -- the section -----------------------------------------------------------------------------------
def main() -> int:
    from infra.local.stack import EmbeddedStack
    from infra.local.synth import synth_template
    from shared import registry

    heading("3", "AWS work per webhook and per order (embedded stack)")
    started = time.perf_counter()
    template = synth_template()
    preload_handlers(template)
    stack = EmbeddedStack(template, gateway_port=0, log_level="ERROR").start()
    boot = time.perf_counter() - started
    try:
        assert stack.deployment is not None
        functions = functions_of(template, stack.deployment.functions)
        webhooks = {n for n, f in functions.items() if f.handler.startswith("functions.webhooks")}
        tracker = Tracker(stack)
        payment_providers = [p.name for p in registry.gateway_providers()]
        for name in payment_providers:
            api_url = stack.provider_secrets[name].get(registry.provider(name).api_url_field or "")
            if api_url:
                url = httpx.URL(api_url)
                tracker.provider_hosts[f"{url.host}:{url.port}"] = registry.provider(name).title
        rounds: list[list[OrderResult]] = [[], []]
        with tracker.installed():
            driver = Driver(stack, tracker, webhooks)
            try:
                cold = driver.order("order 1, cold containers", 5770020001)
                warm = driver.order("order 2, warm", 5770020002)
                extra_window, extras = driver.redeliveries(warm)
                external_id = 5770020100
                for number, paid in enumerate(rounds, start=1):
                    for name in payment_providers:
                        external_id += 1
                        label = f"round {number}, paid at {name}"
                        paid.append(driver.paid_order(label, external_id, name))
            finally:
                driver.http.close()
        deliveries = [
            *((cold.label, d) for d in cold.webhooks),
            *((warm.label, d) for d in warm.webhooks),
            *(("order 2, again", d) for d in extras),
        ]
        print(
            f"stack up in {boot:.0f} s; order 1 took {cold.seconds:.1f} s, order 2 "
            f"{warm.seconds:.1f} s end to end (HTTP, stream, workflow, drain)."
        )
        print("\nPer webhook (the HTTP handler invocation only):")
        print_webhooks(tracker, deliveries, functions)
        usage = print_order(tracker, driver, warm, functions)
        cold_calls, cold_runs = _order_work(tracker, cold, functions)
        warm_calls, _ = _order_work(tracker, warm, functions)
        extra = Counter(c.name for c in cold_calls) - Counter(c.name for c in warm_calls)
        note(
            f"order 1 (cold containers) for comparison: {len(cold_calls)} AWS calls, "
            f"{sum(c.wru + c.gsi_wru for c in cold_calls)} WRU incl. GSI, "
            f"{sum(r.net_ms for r in cold_runs):.0f} handler ms; calls beyond order 2's: "
            + (", ".join(f"{n} x{c}" for n, c in sorted(extra.items())) or "none")
        )
        print("\nEvery payment provider in shared/registry.py, paid through a payment session:")
        print_providers(tracker, driver, rounds[0], rounds[1], functions)
        provider_windows = [r.window for paid in rounds for r in paid]
        print_excluded(
            tracker, [cold.window, warm.window, extra_window, *provider_windows], functions
        )
        heading("4", "Cost per 1,000 orders (order 2's counts x list prices)")
        print_cost(usage)
    finally:
        stack.stop()
    print(f"(sections 3-4 took {time.perf_counter() - started:.0f} s)")
    return 0


def _order_work(
    tracker: Tracker, result: OrderResult, functions: dict[str, FunctionInfo]
) -> tuple[list[Call], list[Run]]:
    window = result.window
    runs = [
        r
        for r in tracker.runs[window.runs[0] : window.runs[1]]
        if functions.get(r.function, _UNKNOWN).per_order
    ]
    in_order = set(runs)
    calls = [
        c
        for c in tracker.calls[window.calls[0] : window.calls[1]]
        if c.run is not None and c.run in in_order
    ]
    return calls, runs


if __name__ == "__main__":
    raise SystemExit(main())
