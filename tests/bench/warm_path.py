"""2. Warm compute per webhook: the real handler with real botocore, beside its floor.

For every webhook provider in shared/registry.py, a real signed request from its simulator
(tests/bench/deliveries.py) goes through the real `lambda_handler` with its
real botocore clients (built by shared/platform/aws.py with the shipped client config): parameter
validation, serialisation, endpoint rules, SigV4 signing, retry bookkeeping and response
parsing all run. Only the socket is replaced: a `before-send` hook on that botocore session
answers each HTTP request botocore is about to send with a canned botocore AWSResponse
(PutItem: 200 `{}`; GetSecretValue: the secret, which shared/platform/secrets.py caches).

PayPal's webhook also asks PayPal's API (verify-webhook-signature, OAuth): there only httpx's
transport is replaced (deliveries.FakePayPalApi, an httpx.MockTransport), and those requests
are reported apart from AWS's.

The webhook functions share one handler module, `functions.webhooks.handler`, and are told apart
by PROVIDER (and SECRET_ID), set around each function's calls as Lambda would set them.

The floor is what no webhook handler can avoid: routing (method and path), the provider's
authenticity check (an HMAC or hash with the adapter's own function; PayPal's verify POST),
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
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from tests.bench.deliveries import BUILDERS, Delivery, bench_secret
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

    def __init__(self) -> None:
        self.secrets: dict[str, dict[str, str]] = {}  # SecretId -> the secret document
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
                    "SecretString": json.dumps(self.secrets[secret_id]),
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


def build_webhook(provider: Any, delivery: Delivery, canned: CannedAws, devnull: Any) -> Webhook:
    """One provider's webhook function, its floor and the steps between, on its delivery."""
    import botocore.session

    from infra.local.lambda_runtime import LambdaContext
    from shared.inbox.route import WebhookSettings, route_for, webhook_request
    from shared.inbox.service import record
    from shared.platform.table import Table, from_item

    name, signed, check = provider.name, delivery.signed, delivery.check
    function_name = f"bench-{name}-webhook"
    with lambda_environment(function_name, name):
        module = importlib.import_module(WEBHOOK_MODULE)
        lambda_handler = module.lambda_handler
        event = http_api_event(signed.path, signed.body, signed.headers)
        context = LambdaContext(
            function_name=function_name,
            invoked_function_arn=f"arn:aws:lambda:{REGION}:123456789012:function:{function_name}",
            memory_limit_in_mb=MEMORY_MB,
            timeout_seconds=10,
        )
        routes: dict[tuple[str, str], Callable[[dict[str, Any]], None]] = {
            ("POST", signed.path): check
        }
        # A client of its own (credentials from the same environment), same config.
        floor_client: Any = botocore.session.Session().create_client("dynamodb", region_name=REGION)
        floor_client.meta.events.register("before-send", canned, unique_id="bench-canned")

        def run_handler() -> object:
            result = lambda_handler(event, context)
            if result.get("statusCode") != 200 or '"accepted"' not in result.get("body", ""):
                raise RuntimeError(f"handler did not accept the webhook: {result}")
            return result

        with contextlib.redirect_stdout(devnull):
            put = _captured_put(run_handler)

        def route_and_check() -> None:
            routes[(event["requestContext"]["http"]["method"], event["rawPath"])](event)

        def bare_put() -> object:
            return floor_client.put_item(**put)

        def floor() -> object:
            route_and_check()
            return floor_client.put_item(**put)

        settings = WebhookSettings.load()
        route = route_for(settings.provider)
        table = Table(put["TableName"])
        item = from_item(put["Item"])

        def floor_with_table_put() -> object:
            route_and_check()
            table.put(item, condition="attribute_not_exists(PK)")
            return None

        def authenticate_and_record() -> object:
            request = webhook_request(event)
            route.verify_signature(request, settings)
            return record(route.adapter, request, route.inbox(settings))

        def route_handle() -> object:
            return route.handle(event)

        def part(check: Callable[[dict[str, Any]], None]) -> Callable[[], object]:
            return lambda: check(event)

    return Webhook(
        name=delivery.label,
        body_bytes=len(signed.body),
        function_name=function_name,
        provider=name,
        floor=Case(
            f"floor: routing + {delivery.check_name} + provider model + bare PutItem", floor
        ),
        floor_parts=[
            Case(
                f"  floor part: routing + {delivery.check_name} + provider model", route_and_check
            ),
            *(Case(label, part(extra)) for label, extra in delivery.parts),
            Case("  floor part: bare botocore PutItem", bare_put),
        ],
        steps=[
            Case("  step: floor, PutItem through Table.put", floor_with_table_put),
            Case("  step: webhook_inbox.authenticate + record", authenticate_and_record),
            Case("  step: WebhookRoute.handle", route_handle),
        ],
        handler=Case("lambda_handler (real botocore, socket faked)", run_handler),
    )


def install_canned_aws(canned: CannedAws, devnull: Any) -> None:
    """The hook on shared/platform/aws.py's session; Powertools' log lines into /dev/null."""
    from shared.platform import aws
    from shared.platform.observability import logger

    # Lambda ships log lines and EMF metrics to CloudWatch through stdout; formatting and
    # writing them is part of the handler's compute, so it runs, into /dev/null.
    handler_stream = logger.registered_handler
    if hasattr(handler_stream, "setStream"):
        handler_stream.setStream(devnull)
    aws.session().register("before-send", canned, unique_id="bench-canned-aws")
    aws.reset_clients()  # clients copy the session's hooks when they are built


def main() -> int:
    from shared import registry
    from shared.platform import aws

    heading("2", "Warm compute per webhook, real botocore with the socket faked (microseconds)")
    started = time.perf_counter()
    canned = CannedAws()
    devnull = open(os.devnull, "w")  # noqa: SIM115 - lives for the whole process
    install_canned_aws(canned, devnull)
    rows: list[list[object]] = []
    verdicts: list[str] = []
    outbound: list[str] = []
    measured: list[Delivery] = []
    missing: list[str] = []
    for provider in registry.webhook_providers():
        builder = BUILDERS.get(provider.name)
        if builder is None:
            missing.append(provider.name)
            continue
        secret = bench_secret(provider)
        canned.secrets[f"bench/{provider.name}"] = secret
        # Built just before it is timed: Stripe's signature is good for 300 s.
        delivery = builder(provider.simulator_class().from_secret(secret), secret)
        measured.append(delivery)
        with contextlib.ExitStack() as stack:
            if delivery.outbound is not None:
                stack.enter_context(delivery.outbound.installed())
            webhook = build_webhook(provider, delivery, canned, devnull)
            with (
                lambda_environment(webhook.function_name, webhook.provider),
                contextlib.redirect_stdout(devnull),
            ):
                measure(webhook.cases, ITERATIONS)
        if delivery.outbound is not None:
            outbound.append(f"{delivery.label}: {delivery.outbound.summary()}")
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
    checks = "; ".join(f"{d.label}: {d.check_name}" for d in measured)
    how(
        f"in one process, {WARMUP} untimed calls per path, then {ITERATIONS} timed calls per "
        f"path in rounds: each round runs every path of the webhook {BLOCK} times in a row "
        "(wall = perf_counter_ns, cpu = thread_time_ns of the calling thread, GC on as on "
        "Lambda); '/ floor' = the median over rounds of (the path's median cpu in the round / "
        "the floor's in the same round), so drift on this shared machine cancels out. Every "
        "webhook provider in shared/registry.py, each with a secret in the registry's shape "
        "(infra/local/seed.py, generated) and one signed delivery built by its simulator "
        "(tests/bench/deliveries.py: a new order, or a payment that succeeded), as an API "
        "Gateway v2 event throughout. 'lambda_handler' = the function's real handler "
        "(functions.webhooks.handler with the provider's PROVIDER and SECRET_ID: "
        "WebhookRoute with its one EMF count line and the Lambda context on logged lines "
        "(docs/decisions.md 63), the secret from "
        "shared/platform/secrets.py's cache, the inbox item, the real botocore client from "
        "shared/platform/aws.py) with only the socket faked: a `before-send` hook on that "
        "botocore session returns a canned AWSResponse (PutItem 200 {}, GetSecretValue the "
        "secret). PayPal's webhook also calls PayPal (verify-webhook-signature, with an OAuth "
        "token it caches): there only httpx's transport is faked, an httpx.MockTransport on "
        "a client built as verification.default_http() builds it (5 s timeout, no "
        "redirects) in its place; httpx builds each request and parses each answer, each "
        "distinct request is answered once by PayPalSimulator.handle (credentials, token, the "
        "transmission checked) and replayed after that; no TLS, no socket, no round trip to "
        "PayPal. 'floor' = a dict lookup on (method, path) + the provider's authenticity "
        f"check with the adapter's own function ({checks}) + the provider's pydantic model "
        "(model_validate_json; Stripe also its PaymentIntent, PayPal its Capture) + botocore "
        "`put_item(**<the handler's own PutItem parameters>)` on a bare botocore client "
        "(botocore's defaults: parameter validation on), answered by the same hook; the "
        "handler's own client (shared.platform.aws.client, from client_config('dynamodb')) has "
        f"parameter_validation={options['parameter_validation']} and its User-Agent computed "
        "once (shared.platform.aws.frozen_user_agent; botocore builds it twice per request "
        "otherwise). The steps add our "
        "layers to the floor one at a time: the PutItem through shared.platform.table.Table.put, "
        "then webhook_inbox.authenticate + record (parsing, the screen or the canonical "
        "mapping, inbox item, "
        "zlib), then WebhookRoute.handle (routing, settings, metrics, JSON response); "
        "lambda_handler adds the settings and the handler's own frame. Log lines and EMF go "
        "to /dev/null; "
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
        f"several times longer. AWS requests answered by the hook: {canned.answered}."
    )
    for line in outbound:
        note(
            f"outbound, not AWS: {line}. Each PayPal delivery costs one verify-webhook-"
            "signature POST (the token is fetched once and cached); on Lambda its wall time "
            "adds a round trip to PayPal, which no figure here includes."
        )
    if missing:
        note(
            f"NOT MEASURED: webhook provider(s) {', '.join(missing)} of shared/registry.py have "
            "no delivery in tests/bench/deliveries.py BUILDERS; add one"
        )
    print(f"(section 2 took {time.perf_counter() - started:.0f} s)")
    return 1 if missing else 0


if __name__ == "__main__":
    raise SystemExit(main())
