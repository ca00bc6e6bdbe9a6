"""2. Warm compute per webhook: the real handler with real botocore, beside its floor.

Real signed requests from the provider simulators go through the real `lambda_handler` with its
real botocore clients (built by shared/platform/aws.py with the shipped client config): parameter
validation, serialisation, endpoint rules, SigV4 signing, retry bookkeeping and response
parsing all run. Only the socket is replaced: a `before-send` hook on that botocore session
answers each HTTP request botocore is about to send with a canned botocore AWSResponse
(PutItem: 200 `{}`; GetSecretValue: the secret, which shared/platform/secrets.py caches).

Both webhook functions share one handler module, `functions.webhooks.handler`, and are told apart
by PROVIDER (and SECRET_ID), set around each function's calls as Lambda would set them.

The floor is what no webhook handler can avoid: routing (method and path), the provider's HMAC,
validating the body into the provider's pydantic model, and one bare botocore PutItem of the
very item the handler wrote, from a client with the same config, answered by the same hook.
"""

from __future__ import annotations

import contextlib
import copy
import gc
import importlib
import json
import os
import statistics
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from tests.bench.report import ROOT, heading, how, note, percentile, table

ITERATIONS = int(os.environ.get("BENCH_WARM_ITERATIONS", "2000"))
BLOCK = 25  # calls per case in a row; the cases of one webhook take turns block by block
WARMUP = 200
# ../shared/DESIGN.md, "Budgets": warm compute per webhook within 1.2x of its floor.
BUDGET_RATIO = 1.2
# Lambda allocates CPU in proportion to memory: one full vCPU at 1,769 MB (AWS documentation).
FULL_VCPU_MB = 1769
MEMORY_MB = 512  # the webhook functions' MemorySize in the template
REGION = "eu-central-1"
SHOPIFY_SECRET = "bench-shopify-client-secret"
STRIPE_SECRET = "whsec_bench0123456789abcdef0123456789abcdef01234567"
TABLE = "bench-table"

LAMBDA_ENVIRONMENT = {
    "LAMBDA_TASK_ROOT": str(ROOT),
    "AWS_REGION": REGION,
    "AWS_DEFAULT_REGION": REGION,
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(MEMORY_MB),
    # Lambda hands the function temporary credentials in these three variables.
    "AWS_ACCESS_KEY_ID": "ASIABENCHBENCHBENCH0",
    "AWS_SECRET_ACCESS_KEY": "bench/secret/access/key/0123456789abcdef",
    "AWS_SESSION_TOKEN": "bench-session-token-" + "x" * 300,
    "POWERTOOLS_METRICS_NAMESPACE": "orderhub",
    "TABLE_NAME": TABLE,
    "DOCUMENTS_BUCKET": "bench-documents",
}
WEBHOOK_MODULE = "functions.webhooks.handler"  # one function per provider, told apart by PROVIDER
# Never inherit a local endpoint: the hook answers requests addressed to the real endpoints.
UNSET = ("AWS_ENDPOINT_URL", "AWS_PROFILE", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE")


# -- AWS answered before the socket --------------------------------------------------------------
class _Body:
    def __init__(self, data: bytes) -> None:
        self._data = data

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._data


class CannedAws:
    """A `before-send` hook: answers the request botocore built, signed and is about to send.

    Anything it does not expect raises, so a bench run can never reach a real endpoint."""

    def __init__(self, secrets: dict[str, dict[str, str]]) -> None:
        self._secrets = secrets
        self.answered: dict[str, int] = {}

    def __call__(self, **kwargs: Any) -> Any:
        from botocore.awsrequest import AWSResponse

        request = kwargs["request"]
        target = request.headers.get("X-Amz-Target", b"")
        operation = (target.decode() if isinstance(target, bytes) else target).rpartition(".")[2]
        if operation == "PutItem":
            body = b"{}"
        elif operation == "GetSecretValue":
            secret_id = json.loads(request.body)["SecretId"]
            body = json.dumps(
                {
                    "ARN": f"arn:aws:secretsmanager:{REGION}:123456789012:secret:{secret_id}",
                    "Name": secret_id,
                    "VersionId": "bench-version",
                    "SecretString": json.dumps(self._secrets[secret_id]),
                    "VersionStages": ["AWSCURRENT"],
                    "CreatedDate": 1764547200.0,
                }
            ).encode()
        else:
            raise RuntimeError(f"bench: unexpected AWS request {target!r} to {request.url}")
        self.answered[operation] = self.answered.get(operation, 0) + 1
        headers = {
            "x-amzn-RequestId": "bench-request",
            "Content-Type": "application/x-amz-json-1.1",
            "Content-Length": str(len(body)),
        }
        # AWSResponse wraps any mapping in its own HeadersDict; the stubs ask for HTTPHeaders.
        return AWSResponse(request.url, 200, headers, _Body(body))  # type: ignore[arg-type]


@contextlib.contextmanager
def lambda_environment(function_name: str, provider: str) -> Iterator[None]:
    """The variables Lambda and the stack set for one webhook function (PROVIDER, its secret)."""
    function = {"PROVIDER": provider, "SECRET_ID": f"bench/{provider}"}
    saved = {key: os.environ.get(key) for key in (*LAMBDA_ENVIRONMENT, *function, *UNSET)}
    for key in UNSET:
        os.environ.pop(key, None)
    os.environ.update(
        {
            **LAMBDA_ENVIRONMENT,
            **function,
            "AWS_LAMBDA_FUNCTION_NAME": function_name,
            "POWERTOOLS_SERVICE_NAME": function_name,
        }
    )
    try:
        yield
    finally:
        for key, old in saved.items():
            if old is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = old


# -- what is timed -------------------------------------------------------------------------------
@dataclass
class Case:
    label: str
    run: Callable[[], object]
    wall_us: list[float] = field(default_factory=list)
    cpu_us: list[float] = field(default_factory=list)
    rounds: list[float] = field(default_factory=list)  # median cpu of each round's block


@dataclass
class Webhook:
    name: str
    body_bytes: int
    function_name: str
    provider: str
    floor: Case
    handler: Case
    floor_parts: list[Case]
    steps: list[Case]  # from the floor towards the handler, one layer of ours at a time

    @property
    def cases(self) -> list[Case]:
        return [self.floor, *self.floor_parts, *self.steps, self.handler]

    def ratio(self, case: Case) -> float:
        """Median over rounds of case / floor (each round's blocks ran back to back)."""
        return statistics.median(c / f for c, f in zip(case.rounds, self.floor.rounds, strict=True))


def measure(cases: list[Case], iterations: int) -> None:
    """Each case `iterations` times, the cases taking turns in rounds of BLOCK calls each (drift
    on a shared machine hits all alike); wall = perf_counter_ns, cpu = this thread's CPU time."""
    wall_clock, cpu_clock = time.perf_counter_ns, time.thread_time_ns
    for case in cases:
        for _ in range(WARMUP):
            case.run()
    gc.collect()
    for _ in range(max(1, iterations // BLOCK)):
        for case in cases:
            run, wall, cpu = case.run, case.wall_us, case.cpu_us
            for _ in range(BLOCK):
                wall_start, cpu_start = wall_clock(), cpu_clock()
                run()
                cpu_end, wall_end = cpu_clock(), wall_clock()
                wall.append((wall_end - wall_start) / 1000)
                cpu.append((cpu_end - cpu_start) / 1000)
            case.rounds.append(statistics.median(cpu[-BLOCK:]))


def http_api_event(path: str, body: bytes, headers: dict[str, str]) -> dict[str, Any]:
    """An API Gateway HTTP API payload v2.0 event, shaped like infra/local/gateway.py's."""
    now = time.time()
    lowered = {k.lower(): v for k, v in headers.items()}
    lowered.update(
        {"host": "bench.local", "content-length": str(len(body)), "user-agent": "bench/1.0"}
    )
    return {
        "version": "2.0",
        "routeKey": f"POST {path}",
        "rawPath": path,
        "rawQueryString": "",
        "headers": lowered,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "bench",
            "domainName": "bench.local",
            "domainPrefix": "bench",
            "http": {
                "method": "POST",
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "127.0.0.1",
                "userAgent": "bench/1.0",
            },
            "requestId": "bench-request",
            "routeKey": f"POST {path}",
            "stage": "$default",
            "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
            "timeEpoch": int(now * 1000),
        },
        "isBase64Encoded": False,
        "body": body.decode(),
    }


def _captured_put(call: Callable[[], object]) -> dict[str, Any]:
    """The PutItem parameters the handler passes to botocore (once, untimed)."""
    from shared.platform import aws

    client_events = aws.dynamodb().meta.events  # the handler's own (cached) client
    seen: list[dict[str, Any]] = []

    def keep(params: dict[str, Any], **_: Any) -> None:
        seen.append(copy.deepcopy(params))

    client_events.register("provide-client-params.dynamodb.PutItem", keep, unique_id="bench-keep")
    try:
        call()
    finally:
        client_events.unregister("provide-client-params.dynamodb.PutItem", unique_id="bench-keep")
    if len(seen) != 1:
        raise RuntimeError(f"expected one PutItem from the handler, saw {len(seen)}")
    return seen[0]


def build_webhooks(canned: CannedAws, devnull: Any) -> list[Webhook]:
    import botocore.session

    from infra.local.lambda_runtime import LambdaContext
    from shared.inbox.route import WebhookSettings, route_for, webhook_request
    from shared.inbox.service import record
    from shared.platform import aws
    from shared.platform.observability import logger
    from shared.platform.table import Table, from_item
    from shared.providers.channels.shopify.simulator import ShopifySimulator
    from shared.providers.channels.shopify.webhook import ShopifyOrder, sign
    from shared.providers.payments.stripe.simulator import StripeSimulator
    from shared.providers.payments.stripe.webhook import (
        StripeEvent,
        StripePaymentIntent,
        verify_signature,
    )
    from shared.providers.simulation import Line

    # Lambda ships log lines and EMF metrics to CloudWatch through stdout; formatting and
    # writing them is part of the handler's compute, so it runs, into /dev/null.
    handler_stream = logger.registered_handler
    if hasattr(handler_stream, "setStream"):
        handler_stream.setStream(devnull)

    session_events = aws.session()
    session_events.register("before-send", canned, unique_id="bench-canned-aws")
    aws.reset_clients()  # clients copy the session's hooks when they are built

    shopify = ShopifySimulator(SHOPIFY_SECRET)
    stripe = StripeSimulator(STRIPE_SECRET)
    lines = [
        Line("MUG-KRAKOW-350", "Kubek Kraków 350 ml", 2, "49.00"),
        Line("TEE-ORGANIC-M", "Koszulka organiczna M", 1, "89.00"),
    ]
    shopify_request = shopify.webhook(
        "orders/create", shopify.order(5770019001, lines), webhook_id="bench-wh-1"
    )
    stripe_request = stripe.event(
        "payment_intent.succeeded",
        stripe.payment_intent("ord_01BENCH0000000000000000000", 24200, "pln"),
    )

    def shopify_check(event: dict[str, Any]) -> None:
        body = event["body"].encode()
        expected = sign(body, SHOPIFY_SECRET).encode()
        if not hmac_equal(expected, event["headers"]["x-shopify-hmac-sha256"].encode()):
            raise RuntimeError("floor: bad signature")
        ShopifyOrder.model_validate_json(body)

    def stripe_check(event: dict[str, Any]) -> None:
        body = event["body"].encode()
        verify_signature(body, event["headers"]["stripe-signature"], STRIPE_SECRET)
        parsed = StripeEvent.model_validate_json(body)
        StripePaymentIntent.model_validate(parsed.data.object)

    specs = [
        (
            "Shopify orders/create",
            "shopify",
            "bench-shopify-webhook",
            shopify_request,
            shopify_check,
        ),
        (
            "Stripe payment_intent.succeeded",
            "stripe",
            "bench-stripe-webhook",
            stripe_request,
            stripe_check,
        ),
    ]
    webhooks: list[Webhook] = []
    for name, provider, function_name, signed, check in specs:
        with lambda_environment(function_name, provider):
            module = importlib.import_module(WEBHOOK_MODULE)
            lambda_handler = module.lambda_handler
            event = http_api_event(signed.path, signed.body, signed.headers)
            context = LambdaContext(
                function_name=function_name,
                invoked_function_arn=(
                    f"arn:aws:lambda:{REGION}:123456789012:function:{function_name}"
                ),
                memory_limit_in_mb=MEMORY_MB,
                timeout_seconds=10,
            )
            routes = {("POST", signed.path): check}
            # A client of its own (credentials from the same environment), same config.
            floor_client = botocore.session.Session().create_client(
                "dynamodb", region_name=REGION, config=aws.client_config("dynamodb")
            )
            floor_client.meta.events.register("before-send", canned, unique_id="bench-canned")

            def run_handler(
                lambda_handler: Any = lambda_handler,
                event: dict[str, Any] = event,
                context: Any = context,
            ) -> object:
                result = lambda_handler(event, context)
                if result.get("statusCode") != 200 or '"accepted"' not in result.get("body", ""):
                    raise RuntimeError(f"handler did not accept the webhook: {result}")
                return result

            with contextlib.redirect_stdout(devnull):
                put = _captured_put(run_handler)

            def route_and_check(
                event: dict[str, Any] = event,
                routes: Mapping[tuple[str, str], Callable[[dict[str, Any]], None]] = routes,
            ) -> None:
                routes[(event["requestContext"]["http"]["method"], event["rawPath"])](event)

            def bare_put(put: dict[str, Any] = put, client: Any = floor_client) -> object:
                return client.put_item(**put)

            def floor(
                route_and_check: Callable[[], None] = route_and_check,
                put: dict[str, Any] = put,
                client: Any = floor_client,
            ) -> object:
                route_and_check()
                return client.put_item(**put)

            settings = WebhookSettings.load()
            route = route_for(settings.provider)
            table = Table(put["TableName"])
            item = from_item(put["Item"])

            def floor_with_table_put(
                route_and_check: Callable[[], None] = route_and_check,
                table: Table = table,
                item: dict[str, Any] = item,
            ) -> object:
                route_and_check()
                table.put(item, condition="attribute_not_exists(PK)")
                return None

            def authenticate_and_record(
                route: Any = route, event: dict[str, Any] = event, settings: Any = settings
            ) -> object:
                request = webhook_request(event)
                route.verify_signature(request, settings)
                return record(route.adapter, request, route.inbox(settings))

            def route_handle(route: Any = route, event: dict[str, Any] = event) -> object:
                return route.handle(event)

            webhooks.append(
                Webhook(
                    name=name,
                    body_bytes=len(signed.body),
                    function_name=function_name,
                    provider=provider,
                    floor=Case("floor: routing + HMAC + provider model + bare PutItem", floor),
                    floor_parts=[
                        Case("  floor part: routing + HMAC + provider model", route_and_check),
                        Case("  floor part: bare botocore PutItem", bare_put),
                    ],
                    steps=[
                        Case("  step: floor, PutItem through Table.put", floor_with_table_put),
                        Case(
                            "  step: webhook_inbox.authenticate + record",
                            authenticate_and_record,
                        ),
                        Case("  step: WebhookRoute.handle", route_handle),
                    ],
                    handler=Case("lambda_handler (real botocore, socket faked)", run_handler),
                )
            )
    return webhooks


def hmac_equal(left: bytes, right: bytes) -> bool:
    import hmac

    return hmac.compare_digest(left, right)


def main() -> int:
    from shared.platform import aws

    heading("2", "Warm compute per webhook, real botocore with the socket faked (microseconds)")
    started = time.perf_counter()
    canned = CannedAws(
        {
            "bench/shopify": {"webhook_secret": SHOPIFY_SECRET},
            "bench/stripe": {"webhook_secret": STRIPE_SECRET},
        }
    )
    devnull = open(os.devnull, "w")  # noqa: SIM115 - lives for the whole process
    webhooks = build_webhooks(canned, devnull)
    rows: list[list[object]] = []
    verdicts: list[str] = []
    for webhook in webhooks:
        with (
            lambda_environment(webhook.function_name, webhook.provider),
            contextlib.redirect_stdout(devnull),
        ):
            measure(webhook.cases, ITERATIONS)
        for case in webhook.cases:
            in_floor = case in webhook.floor_parts
            rows.append(
                [
                    webhook.name,
                    case.label,
                    len(case.cpu_us),
                    percentile(case.wall_us, 50),
                    percentile(case.wall_us, 99),
                    percentile(case.cpu_us, 50),
                    percentile(case.cpu_us, 99),
                    "" if in_floor else f"{webhook.ratio(case):.2f}x",
                ]
            )
        ratio = webhook.ratio(webhook.handler)
        verdicts.append(
            f"{webhook.name} ({webhook.body_bytes:,} B body): lambda_handler / floor = "
            f"{ratio:.2f}x ({'within' if ratio <= BUDGET_RATIO else 'over'} DESIGN.md's "
            f"{BUDGET_RATIO}x); cpu p99 {percentile(webhook.handler.cpu_us, 99):.0f} us vs the "
            f"floor's {percentile(webhook.floor.cpu_us, 99):.0f} us"
        )
    table(
        ["webhook", "path", "n", "wall p50", "wall p99", "cpu p50", "cpu p99", "/ floor"],
        rows,
    )
    options = aws.client_options("dynamodb")
    how(
        f"in one process, {WARMUP} untimed calls per path, then {ITERATIONS} timed calls per "
        f"path in rounds: each round runs every path of the webhook {BLOCK} times in a row "
        "(wall = perf_counter_ns, cpu = thread_time_ns of the calling thread, GC on as on "
        "Lambda); '/ floor' = the median over rounds of (the path's median cpu in the round / "
        "the floor's in the same round), so drift on this shared machine cancels out; the "
        "same signed request from shared/providers/*/*/simulator.py as an API Gateway v2 "
        "event throughout. 'lambda_handler' = the function's real handler (Powertools Logger "
        "context and EMF metrics, WebhookRoute, the secret from shared/platform/secrets.py's "
        "cache, the inbox "
        "item, the real botocore client from shared/platform/aws.py) with only the socket faked: a "
        "`before-send` hook on that botocore session returns a canned AWSResponse "
        "(PutItem 200 {}, GetSecretValue the secret). 'floor' = a dict lookup on (method, "
        "path) + the adapter's HMAC function + the provider's pydantic model "
        "(model_validate_json; Stripe also its PaymentIntent) + botocore "
        "`put_item(**<the handler's own PutItem parameters>)` on a botocore client built with "
        f"shared.platform.aws.client_config('dynamodb') (parameter_validation="
        f"{options['parameter_validation']}), answered by the same hook. The steps add our "
        "layers to the floor one at a time: the PutItem through shared.platform.table.Table.put, "
        "then webhook_inbox.authenticate + record (parsing, canonical mapping, inbox item, "
        "zlib), then WebhookRoute.handle (routing, settings, metrics, JSON response); "
        "lambda_handler adds the Powertools decorators. Log lines and EMF go to /dev/null; "
        "all times in microseconds."
    )
    for verdict in verdicts:
        note(verdict)
    note(
        f"budget from ../shared/DESIGN.md: warm compute within {BUDGET_RATIO}x of the floor, "
        f"judged on CPU time (wall time on this shared {os.cpu_count()}-CPU machine, 1-min "
        f"load {os.getloadavg()[0]:.1f}, also holds other processes' turns). CPython "
        f"{sys.version.split()[0]} here, not Lambda's arm64; a {MEMORY_MB} MB function gets "
        f"~{MEMORY_MB / FULL_VCPU_MB:.0%} of a vCPU, so its wall time for the same CPU work is "
        f"several times longer. Requests answered by the hook: {canned.answered}."
    )
    print(f"(section 2 took {time.perf_counter() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
