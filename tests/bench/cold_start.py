"""1. Cold start per handler: import + first request in a fresh process, as the packages ship.

Every sample is a fresh interpreter running a function's own package built by
infra.bundling.build_function the way it ships (the same files, the same .pyc kinds: ours
unchecked-hash beside their sources, third-party sourceless), except that its native wheels are
for this machine instead of Lambda's arm64. One webhook function per provider: the same handler
module, `functions.webhooks.handler`, with PROVIDER=shopify or stripe, each with its own package.
The interpreter runs with `-S` and PYTHONPATH = the package, then a copy of the venv's
boto3/botocore standing in for the ones the Lambda runtime provides, so nothing else can be
imported; PYTHONDONTWRITEBYTECODE is set, as Lambda's /var/task is read-only (a .pyc that did
not validate would be recompiled every time).

AWS is answered locally by a stub HTTP server on loopback (AWS_ENDPOINT_URL), which returns
canned responses (DynamoDB PutItem: `{}`; Secrets Manager GetSecretValue: the secret): the
clients, signing, urllib3 connection and response parsing are real, the service is not.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from tests.bench import before
from tests.bench.report import heading, how, note, percentile, table

# 30: with 12, two runs on the shared 2-core machine differed by up to 0.2x (docs/performance.md)
SAMPLES = int(os.environ.get("BENCH_COLD_SAMPLES", "30"))
IMPORTTIME_RUNS = 3
# ../shared/DESIGN.md, "Budgets": import + first request within 1.3x of the floor.
BUDGET_RATIO = 1.3
REGION = "eu-central-1"
TABLE = "bench-table"
SHOPIFY_SECRET = "bench-shopify-client-secret"
STRIPE_SECRET = "whsec_bench0123456789abcdef0123456789abcdef01234567"
SECRETS = {
    "bench/shopify": {"webhook_secret": SHOPIFY_SECRET},
    "bench/stripe": {"webhook_secret": STRIPE_SECRET},
}
# The libraries the Lambda Python runtime provides (infra.bundling leaves them out).
RUNTIME_LIBRARIES = ("boto3", "botocore", "s3transfer", "jmespath", "urllib3", "dateutil", "six")
WEBHOOK_HANDLER = "functions.webhooks.handler.lambda_handler"
WEBHOOKS = ("shopify", "stripe")  # the PROVIDER of each webhook function measured
IMPORT_ONLY = {
    "api": "functions.api.handler.lambda_handler",
    "stream_router": "functions.stream_router.handler.lambda_handler",
    "fulfilment": "functions.workflow.fulfilment.lambda_handler",
    "pollers": "functions.pollers.reconcile.lambda_handler",
}
PYC_KINDS = {0: "timestamp", 1: "unchecked-hash", 3: "checked-hash"}
MARK = "BENCH-RESULT "

# What a fresh process runs. Everything before `started` is the harness (the event as a literal,
# a context object); the timed part starts with the first import.
_HANDLER_SCRIPT = """\
import time
EVENT = {event!r}
class Context:
    function_name = {function!r}
    function_version = "$LATEST"
    invoked_function_arn = "arn:aws:lambda:{region}:123456789012:function:" + function_name
    memory_limit_in_mb = 512
    aws_request_id = "bench-cold-request"
    log_group_name = "/aws/lambda/" + function_name
    log_stream_name = "bench"
    def get_remaining_time_in_millis(self):
        return 10000
started, started_cpu = time.perf_counter(), time.process_time()
import {module} as handler_module
imported, imported_cpu = time.perf_counter(), time.process_time()
response = handler_module.lambda_handler(EVENT, Context()) if {request!r} else None
done, done_cpu = time.perf_counter(), time.process_time()
{report}
"""
_FLOOR_SCRIPT = """\
import time
ITEM = {item!r}
started, started_cpu = time.perf_counter(), time.process_time()
from pydantic import BaseModel
import botocore.session
from botocore.config import Config
client = botocore.session.get_session().create_client("dynamodb", config=Config(**{config!r}))
imported, imported_cpu = time.perf_counter(), time.process_time()
client.put_item(TableName={table!r}, Item=ITEM, ConditionExpression="attribute_not_exists(PK)")
response = {{"statusCode": 200}}
done, done_cpu = time.perf_counter(), time.process_time()
{report}
"""
# Which .pyc each module imported from the package was loaded with (PEP 552 flags; a
# sourceless module's __file__ is its .pyc).
_REPORT = """\
import json, os, sys
root = os.environ["LAMBDA_TASK_ROOT"] + os.sep
kinds = {}
outside = 0
for module in list(sys.modules.values()):
    path = getattr(module, "__file__", None) or ""
    if not path.endswith((".py", ".pyc")):
        continue
    if not path.startswith(root):
        outside += not path.startswith(tuple(p + os.sep for p in sys.path[1:] if p))
        continue
    sourceless = path.endswith(".pyc")
    cached = path if sourceless else getattr(module, "__cached__", None)
    kind = "none"
    if cached and os.path.exists(cached):
        with open(cached, "rb") as handle:
            kind = str(int.from_bytes(handle.read(8)[4:8], "little"))
    kind = ("sourceless " if sourceless else "") + kind
    kinds[kind] = kinds.get(kind, 0) + 1
print("BENCH-RESULT " + json.dumps({
    "import_ms": (imported - started) * 1000,
    "total_ms": (done - started) * 1000,
    "import_cpu_ms": (imported_cpu - started_cpu) * 1000,
    "total_cpu_ms": (done_cpu - started_cpu) * 1000,
    "status": response.get("statusCode") if response else None,
    "pyc": kinds,
    "outside": outside,
}))
"""


# -- AWS answered on loopback -------------------------------------------------------------------
class _StubHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        operation = (self.headers.get("X-Amz-Target") or "").rpartition(".")[2]
        status, answer = 200, b"{}"
        if operation == "GetSecretValue":
            secret_id = json.loads(body)["SecretId"]
            answer = json.dumps(
                {
                    "ARN": f"arn:aws:secretsmanager:{REGION}:123456789012:secret:{secret_id}",
                    "Name": secret_id,
                    "VersionId": "bench",
                    "SecretString": json.dumps(SECRETS[secret_id]),
                    "VersionStages": ["AWSCURRENT"],
                    "CreatedDate": 1764547200.0,
                }
            ).encode()
        elif operation != "PutItem":
            status = 400
            answer = json.dumps({"__type": "UnknownOperationException"}).encode()
        assert isinstance(self.server, _StubServer)
        self.server.answered[operation] += 1
        self.send_response(status)
        self.send_header("Content-Type", "application/x-amz-json-1.0")
        self.send_header("x-amzn-RequestId", "bench")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *_: Any) -> None:
        pass


class _StubServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler]) -> None:
        super().__init__(address, handler)
        self.answered: Counter[str] = Counter()


@contextlib.contextmanager
def stub_aws() -> Iterator[_StubServer]:
    server = _StubServer(("127.0.0.1", 0), _StubHandler)
    thread = threading.Thread(target=server.serve_forever, name="stub-aws", daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


# -- what is measured ---------------------------------------------------------------------------
@dataclass
class Target:
    label: str
    package: str  # the function package the process runs from
    function_name: str
    script: str
    first_request: bool
    environment: dict[str, str] = field(default_factory=dict)  # the function's own settings
    import_ms: list[float] = field(default_factory=list)
    total_ms: list[float] = field(default_factory=list)
    import_cpu_ms: list[float] = field(default_factory=list)
    total_cpu_ms: list[float] = field(default_factory=list)
    process_ms: list[float] = field(default_factory=list)
    pyc: dict[str, int] = field(default_factory=dict)
    outside: int = 0


def functions_measured() -> dict[str, tuple[str, dict[str, str]]]:
    """name -> (handler, the environment that shapes its package)."""
    return {
        **{provider: (WEBHOOK_HANDLER, {"PROVIDER": provider}) for provider in WEBHOOKS},
        **{name: (handler, {}) for name, handler in IMPORT_ONLY.items()},
    }


def build_packages(
    functions: dict[str, tuple[str, dict[str, str]]], output: Path, platform: str
) -> dict[str, Path]:
    from infra.bundling import build_function

    built = {}
    for name, (handler, environment) in functions.items():
        build_function(handler, output / name, environment=environment, platform=platform)
        built[name] = output / name
    return built


def runtime_dir() -> Path:
    """boto3 and its dependencies as the Lambda runtime provides them: the venv's copy, with
    .pyc (the runtime image ships them compiled); built once per version."""
    import boto3
    import botocore

    from infra.paths import BUILD

    tag = (
        f"boto3-{boto3.__version__}-botocore-{botocore.__version__}-{sys.implementation.cache_tag}"
    )
    target = BUILD / "bench-runtime" / tag
    if target.exists():
        return target
    staging = target.with_suffix(".partial")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    for name in RUNTIME_LIBRARIES:
        spec = importlib.util.find_spec(name)
        if spec is None or spec.origin is None:
            raise RuntimeError(f"{name} is not installed in this environment")
        origin = Path(spec.origin)
        if origin.name == "__init__.py":
            shutil.copytree(origin.parent, staging / name, ignore=shutil.ignore_patterns("*.pyc"))
        else:
            shutil.copy2(origin, staging / origin.name)
    subprocess.run(  # noqa: S603 - our interpreter, the stdlib compiler
        [sys.executable, "-m", "compileall", "-q", "-j", "0", str(staging)], check=True
    )
    staging.rename(target)
    return target


def child_environment(
    target: Target, package: Path, runtime: Path, endpoint: str
) -> dict[str, str]:
    """What the Lambda runtime sets (and what Powertools and the function read)."""
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "LANG": "en_US.UTF-8",
        "TZ": ":UTC",
        "PYTHONPATH": os.pathsep.join([str(package), str(runtime)]),
        "PYTHONDONTWRITEBYTECODE": "1",
        "LAMBDA_TASK_ROOT": str(package),
        "AWS_LAMBDA_FUNCTION_NAME": target.function_name,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "512",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_EXECUTION_ENV": "AWS_Lambda_python3.13",
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "ASIABENCHBENCHBENCH0",
        "AWS_SECRET_ACCESS_KEY": "bench/secret/access/key/0123456789abcdef",
        "AWS_SESSION_TOKEN": "bench-session-token-" + "x" * 300,
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "POWERTOOLS_SERVICE_NAME": target.function_name,
        "POWERTOOLS_METRICS_NAMESPACE": "orderhub",
        "TABLE_NAME": TABLE,
        "DOCUMENTS_BUCKET": "bench-documents",
        **target.environment,
    }


def run_once(target: Target, env: dict[str, str]) -> None:
    started = time.perf_counter()
    result = subprocess.run(  # noqa: S603 - the base interpreter with a fixed script
        [sys._base_executable, "-S", "-c", target.script],  # type: ignore[attr-defined]
        cwd=env["LAMBDA_TASK_ROOT"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    wall_ms = (time.perf_counter() - started) * 1000
    lines = [line for line in result.stdout.splitlines() if line.startswith(MARK)]
    if result.returncode != 0 or not lines:
        raise RuntimeError(f"{target.label} failed:\n{(result.stderr or result.stdout)[-2000:]}")
    found = json.loads(lines[-1].removeprefix(MARK))
    if found["status"] not in (200, None):
        raise RuntimeError(f"{target.label}: first request answered {found['status']}")
    target.process_ms.append(wall_ms)
    target.import_ms.append(found["import_ms"])
    target.total_ms.append(found["total_ms"])
    target.import_cpu_ms.append(found["import_cpu_ms"])
    target.total_cpu_ms.append(found["total_cpu_ms"])
    target.pyc = {_pyc_kind(kind): count for kind, count in found["pyc"].items()}
    target.outside = found["outside"]


def _pyc_kind(reported: str) -> str:
    sourceless, _, flags = reported.rpartition(" ")
    name = PYC_KINDS.get(int(flags), "no .pyc") if flags.lstrip("-").isdigit() else "no .pyc"
    return f"{sourceless} {name}".strip()


def signed_events() -> dict[str, dict[str, Any]]:
    from shared.providers.channels.shopify.simulator import ShopifySimulator
    from shared.providers.payments.stripe.simulator import StripeSimulator
    from shared.providers.simulation import Line
    from tests.bench.warm_path import http_api_event

    shopify = ShopifySimulator(SHOPIFY_SECRET)
    stripe = StripeSimulator(STRIPE_SECRET)
    order = shopify.order(
        5770019001,
        [
            Line("MUG-KRAKOW-350", "Kubek Kraków 350 ml", 2, "49.00"),
            Line("TEE-ORGANIC-M", "Koszulka organiczna M", 1, "89.00"),
        ],
    )
    requests = {
        "shopify": shopify.webhook("orders/create", order, webhook_id="bench-cold-1"),
        "stripe": stripe.event(
            "payment_intent.succeeded",
            stripe.payment_intent("ord_01BENCH0000000000000000000", 24200, "pln"),
        ),
    }
    return {
        name: http_api_event(signed.path, signed.body, signed.headers)
        for name, signed in requests.items()
    }


def floor_item() -> dict[str, Any]:
    """An inbox-sized item (keys, a few strings, a compressed body of the same size)."""
    import zlib

    from shared.providers.channels.shopify.simulator import ShopifySimulator
    from shared.providers.simulation import Line

    body = json.dumps(
        ShopifySimulator(SHOPIFY_SECRET).order(5770019001, [Line("MUG", "Kubek", 2, "49.00")])
    ).encode()
    return {
        "PK": {"S": "INBOX#shopify#bench-cold-floor"},
        "SK": {"S": "INBOX"},
        "type": {"S": "inbox"},
        "source": {"S": "shopify"},
        "event_id": {"S": "bench-cold-floor"},
        "topic": {"S": "orders/create"},
        "status": {"S": "accepted"},
        "received_at": {"S": "2026-12-01T09:00:00.000Z"},
        "expires_at": {"N": "1772528400"},
        "raw_zlib": {"B": zlib.compress(body, level=1)},
    }


def import_breakdown(module: str, env: dict[str, str]) -> dict[str, float]:
    """Self time (ms) by top-level package from `python -X importtime`, median of a few runs."""
    pattern = re.compile(r"^import time:\s+(\d+)\s+\|\s+(\d+)\s+\|(\s*)(\S+)")
    runs: list[dict[str, float]] = []
    for _ in range(IMPORTTIME_RUNS):
        result = subprocess.run(  # noqa: S603
            [sys._base_executable, "-S", "-X", "importtime", "-c", f"import {module}"],  # type: ignore[attr-defined]
            cwd=env["LAMBDA_TASK_ROOT"],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        totals: dict[str, float] = defaultdict(float)
        for line in result.stderr.splitlines():
            found = pattern.match(line)
            if not found:
                continue
            root = found.group(4).split(".")[0]
            group = "stdlib" if root in sys.stdlib_module_names or root == "_" else root
            totals[group] += int(found.group(1)) / 1000
        runs.append(totals)
    groups = {name for run in runs for name in run}
    return {name: statistics.median(run.get(name, 0.0) for run in runs) for name in groups}


def compare_with_before(
    webhooks: list[Target], floor: Target, sizes: dict[str, Any], mb: int
) -> None:
    """Each webhook function beside the function that served its provider before."""
    floor_cpu = statistics.median(floor.total_cpu_ms)
    floor_wall = statistics.median(floor.total_ms)
    rows: list[list[object]] = []
    for target in webhooks:
        then = before.WEBHOOK_COLD_START[target.package]
        zipped = sizes[target.package].zipped / mb
        ratio = statistics.median(target.total_cpu_ms) / floor_cpu
        wall_ratio = statistics.median(target.total_ms) / floor_wall
        # The cold-start ratio moved between runs that day (the page gives the range): it grew
        # if it is above the highest of them.
        grew = [
            what
            for what, now, was in (
                ("package", round(zipped, 1), before.PACKAGE_ZIPPED_MB),
                ("cold start", round(ratio, 2), then.ratio_range[1]),
            )
            if now > was
        ]
        rows.append(
            [
                f"PROVIDER={target.package}",
                then.handler.removeprefix("functions."),
                before.PACKAGE_ZIPPED_MB,
                zipped,
                f"{then.ratio_cpu:.2f}x ({then.ratio_range[0]:.2f}-{then.ratio_range[1]:.2f}x)",
                f"{ratio:.2f}x",
                f"{then.ratio_wall:.2f}x",
                f"{wall_ratio:.2f}x",
                then.import_ms,
                statistics.median(target.import_ms),
                "grew: " + ", ".join(grew) if grew else "neither grew",
            ]
        )
    table(
        [
            "webhook function",
            "served before by",
            "zipped MB before",
            "now",
            "import+1st / floor (cpu) before",
            "now",
            "(wall) before",
            "now",
            "import ms before",
            "now",
            "",
        ],
        rows,
        title=f"Beside the figures recorded before one function per provider ({before.SOURCE}):",
    )
    how(
        "'zipped MB now' = the function's arm64 package exactly as `make synth` ships it "
        "(infra.bundling.build_function with Lambda's platform), zipped as section 5 zips; "
        "'before' figures: 6.7 MB for every function then, and section 1's medians of that "
        "run (12 samples, CPU-time ratios to that run's floor; in brackets what three runs "
        "measured that day: 'grew' means above the highest). Milliseconds from two runs on a "
        "shared machine compare loosely; the ratios are each to their own run's floor."
    )


def _script(target_name: str, handler: str, *, event: dict[str, Any], request: bool) -> str:
    return _HANDLER_SCRIPT.format(
        event=event,
        request=request,
        module=handler.rpartition(".")[0],
        function=target_name,
        region=REGION,
        report=_REPORT,
    )


def main() -> int:
    from infra.bundling import LAMBDA_PLATFORM, PYC_INVALIDATION_MODE, host_platform
    from shared.platform import aws
    from tests.bench.packages import MB, measure

    heading("1", "Cold start per handler: import + first request, packages as shipped")
    started = time.perf_counter()
    scratch = Path(tempfile.mkdtemp(prefix="orderhub-cold-"))
    try:
        functions = functions_measured()
        platform = host_platform()
        packages = build_packages(functions, scratch / "here", platform)
        # The same webhook packages as `make synth` ships them, for their size.
        shipped = build_packages(
            {provider: functions[provider] for provider in WEBHOOKS},
            scratch / "arm64",
            LAMBDA_PLATFORM,
        )
        sizes = {p: measure(shipped[p], scratch / f"{p}.zip") for p in WEBHOOKS}
        runtime = runtime_dir()
        events = signed_events()  # signed now: Stripe's 5-minute tolerance covers the section
        build_s = time.perf_counter() - started
        floor_config = aws.client_options("dynamodb")
        floor = Target(
            "floor: pydantic + botocore, 1 client, 1 PutItem",
            WEBHOOKS[0],
            "bench-floor",
            _FLOOR_SCRIPT.format(
                item=floor_item(), config=floor_config, table=TABLE, report=_REPORT
            ),
            first_request=True,
        )
        webhooks = [
            Target(
                f"functions.webhooks.handler, PROVIDER={provider}",
                provider,
                f"bench-{provider}-webhook",
                _script(
                    f"bench-{provider}-webhook",
                    WEBHOOK_HANDLER,
                    event=events[provider],
                    request=True,
                ),
                first_request=True,
                environment={"PROVIDER": provider, "SECRET_ID": f"bench/{provider}"},
            )
            for provider in WEBHOOKS
        ]
        others = [
            Target(
                f"{handler.rpartition('.')[0]} (import only)",
                name,
                "bench-" + name.replace("_", "-"),
                _script("bench-" + name.replace("_", "-"), handler, event={}, request=False),
                first_request=False,
            )
            for name, handler in IMPORT_ONLY.items()
        ]
        targets = [floor, *webhooks, *others]
        with stub_aws() as server:
            endpoint = f"http://127.0.0.1:{server.server_address[1]}"
            envs = {
                id(t): child_environment(t, packages[t.package], runtime, endpoint) for t in targets
            }
            for target in targets:  # untimed: the page cache holds every file afterwards
                run_once(target, envs[id(target)])
            for target in targets:
                for samples in (
                    target.import_ms,
                    target.total_ms,
                    target.import_cpu_ms,
                    target.total_cpu_ms,
                    target.process_ms,
                ):
                    samples.clear()
            for _ in range(SAMPLES):  # round-robin: drift on the machine hits every row alike
                for target in targets:
                    run_once(target, envs[id(target)])
            answered = dict(server.answered)

        floor_cpu = statistics.median(floor.total_cpu_ms)
        floor_wall = statistics.median(floor.total_ms)
        rows: list[list[object]] = []
        for target in targets:
            first = target.first_request
            cpu = statistics.median(target.total_cpu_ms)
            wall = statistics.median(target.total_ms)
            rows.append(
                [
                    target.label,
                    len(target.total_ms),
                    statistics.median(target.import_ms),
                    statistics.median(target.import_cpu_ms),
                    wall if first else "-",
                    percentile(target.total_ms, 90) if first else "-",
                    cpu if first else "-",
                    f"{wall / floor_wall:.2f}x" if first else "-",
                    f"{cpu / floor_cpu:.2f}x" if first else "-",
                    statistics.median(target.process_ms),
                    ", ".join(f"{v} {k}" for k, v in sorted(target.pyc.items())) or "-",
                ]
            )
        table(
            [
                "process",
                "n",
                "import ms",
                "import cpu ms",
                "import+1st ms",
                "import+1st p90",
                "import+1st cpu ms",
                "/ floor",
                "/ floor cpu",
                "process ms",
                "package modules by .pyc kind",
            ],
            rows,
        )
        how(
            f"{SAMPLES} fresh `{Path(sys._base_executable).name} -S -c <script>` processes per "  # type: ignore[attr-defined]
            "row, round-robin after one untimed run each; medians unless marked p90; packages "
            "built now by infra.bundling.build_function(<handler>, tmpdir, environment="
            f"{{PROVIDER: <provider>}} for a webhook, platform={platform!r}) in {build_s:.0f} s "
            "(with the arm64 webhook packages measured below): the shipped files and .pyc kinds "
            f"({PYC_INVALIDATION_MODE}; third-party modules sourceless), native wheels for this "
            "machine instead of arm64; "
            f"boto3/botocore from a compiled copy of the venv's ({runtime.name}) standing in for "
            "the runtime's; PYTHONPATH = package, then that copy; PYTHONDONTWRITEBYTECODE=1; "
            "Lambda's variables set (AWS_EXECUTION_ENV, LAMBDA_TASK_ROOT, credentials, "
            "POWERTOOLS_*, the function's settings). 'import' = perf_counter (cpu: "
            "process_time) around `import <handler module>`; 'import+1st' = from before that "
            "import to the end of the first lambda_handler(event, context) with a signed "
            "webhook, which builds the Secrets Manager and DynamoDB clients from one botocore "
            "session, "
            "fetches the secret and writes the inbox item; the floor: `from pydantic import "
            "BaseModel; import botocore.session`, create_client('dynamodb', "
            "config=Config(**shared.platform.aws.client_options('dynamodb'))), then one "
            "put_item of an "
            "inbox-sized item; 'process' = the parent's wall time of the whole child "
            "(interpreter start and exit included). AWS answered by a stub HTTP server on "
            f"127.0.0.1 via AWS_ENDPOINT_URL (requests answered: {answered}): real clients, "
            "signing, urllib3 connection and response parsing, canned answers."
        )
        for target in webhooks:
            ratio = statistics.median(target.total_cpu_ms) / floor_cpu
            verdict = "within" if ratio <= BUDGET_RATIO else "over"
            note(
                f"{target.label}: import + first request / floor = {ratio:.2f}x in CPU time, "
                f"{statistics.median(target.total_ms) / floor_wall:.2f}x in wall time "
                f"({verdict} DESIGN.md's {BUDGET_RATIO}x, judged on CPU time: wall time on "
                f"this shared machine, 1-min load {os.getloadavg()[0]:.1f}, also holds other "
                "processes' turns)"
            )
        leaks = {t.label: t.outside for t in targets if t.outside}
        if leaks:
            note(f"modules imported from outside the package and the runtime copy: {leaks}")
        note(
            f"Python {sys.version.split()[0]} on this machine ({os.cpu_count()} CPUs), not "
            "Lambda's arm64 with a fraction of a vCPU: read the ratios, not the milliseconds."
        )

        compare_with_before(webhooks, floor, sizes, MB)

        breakdown_env = envs[id(webhooks[0])]
        breakdown = import_breakdown("functions.webhooks.handler", breakdown_env)
        shown = sorted(breakdown, key=lambda name: -breakdown[name])[:8]
        table(
            ["module", *(f"{name} ms" for name in shown), "rest ms", "total ms"],
            [
                [
                    webhooks[0].label,
                    *(breakdown[name] for name in shown),
                    sum(breakdown.values()) - sum(breakdown[name] for name in shown),
                    sum(breakdown.values()),
                ]
            ],
            title="Where the webhook handler's import time goes (self time by top-level package):",
        )
        how(
            "`python -S -X importtime -c 'import <module>'` in the shipped package, self time of "
            f"every imported module summed by top-level package (stdlib grouped), median of "
            f"{IMPORTTIME_RUNS} runs; -X importtime adds its own overhead."
        )
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    print(f"(section 1 took {time.perf_counter() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
