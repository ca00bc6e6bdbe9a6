"""The Lambda packages as they ship: each function carries only what it imports (infra/bundling.py).

Each package is built once per module: the Stripe and Shopify webhooks for arm64 exactly as
`make synth` ships them, and every function of the template for this machine's platform, to
import and run here. The wheels are installed once per requirement set under .build/lambda-deps,
so only the first run on a machine downloads them.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest

from infra import bundling
from infra.bundling import PackagePlan, build_function, host_platform
from shared import registry

MB = 1024 * 1024  # the unit `make bench` reports package sizes in
WEBHOOK_ZIPPED_LIMIT = 3 * MB  # the shape issue: at most 3 MB zipped (6.7 MB before it)
WEBHOOK_HANDLER = "functions.webhooks.handler.lambda_handler"
# PayPal's webhook calls PayPal's verify API (httpx) and can check offline (cryptography):
# its package is larger and is checked on its own below.
WEBHOOK_PROVIDERS = ("stripe", "shopify", "payu", "przelewy24")
# Libraries no webhook imports: the simulators' HTTP client, and what invoicing will bring.
NEVER_IN_A_WEBHOOK = ("httpx", "httpcore", "anyio", "h11", "lxml", "cryptography", "certifi")
RUNTIME_LIBRARIES = ("boto3", "botocore", "s3transfer", "jmespath", "urllib3", "dateutil", "six")


def _python313() -> str:
    if sys.version_info[:2] == (3, 13):
        return str(sys._base_executable)  # type: ignore[attr-defined]
    found = shutil.which("python3.13")
    if found is None:
        pytest.skip("no python3.13 here to import the packages with (Lambda's runtime)")
    return found


def _functions(template: dict[str, Any]) -> dict[str, tuple[str, dict[str, str]]]:
    """Every Lambda function of the template: logical id -> (handler, {PROVIDER} if any)."""
    found: dict[str, tuple[str, dict[str, str]]] = {}
    for logical_id, resource in template["Resources"].items():
        if resource["Type"] != "AWS::Lambda::Function":
            continue
        properties = resource["Properties"]
        variables = properties.get("Environment", {}).get("Variables", {})
        provider = variables.get("PROVIDER")
        found[logical_id] = (
            properties["Handler"],
            {"PROVIDER": provider} if isinstance(provider, str) else {},
        )
    return found


def _zipped_size(directory: Path, archive: Path) -> int:
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zipped:
        for path in sorted(directory.rglob("*")):
            if path.is_file():
                zipped.write(path, path.relative_to(directory).as_posix())
    return archive.stat().st_size


def _pyc_flags(path: Path) -> int:
    return int.from_bytes(path.read_bytes()[4:8], "little")


@pytest.fixture(scope="module")
def arm64(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The webhook packages exactly as `make synth` ships them (aarch64-manylinux_2_34)."""
    root = tmp_path_factory.mktemp("arm64")
    for provider in WEBHOOK_PROVIDERS:
        build_function(WEBHOOK_HANDLER, root / provider, environment={"PROVIDER": provider})
    return {provider: root / provider for provider in WEBHOOK_PROVIDERS}


@pytest.fixture(scope="module")
def here(
    template: dict[str, Any], tmp_path_factory: pytest.TempPathFactory
) -> dict[str, tuple[PackagePlan, Path]]:
    """Every function of the template, built the same way with wheels this machine imports."""
    root = tmp_path_factory.mktemp("here")
    built: dict[str, tuple[PackagePlan, Path]] = {}
    for logical_id, (handler, environment) in sorted(_functions(template).items()):
        output = root / logical_id
        plan = build_function(handler, output, environment=environment, platform=host_platform())
        built[logical_id] = (plan, output)
    return built


@pytest.fixture(scope="module")
def runtime(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """boto3 and its dependencies, standing in for the Lambda runtime's: the venv's copies."""
    directory = tmp_path_factory.mktemp("runtime")
    for name in RUNTIME_LIBRARIES:
        spec = importlib.util.find_spec(name)
        assert spec is not None and spec.origin is not None, f"{name} is not installed"
        origin = Path(spec.origin)
        source = origin.parent if origin.name == "__init__.py" else origin
        (directory / source.name).symlink_to(source)
    return directory


def _by_provider(here: dict[str, tuple[PackagePlan, Path]], provider: str) -> Path:
    package = registry.provider(provider).package
    webhook = WEBHOOK_HANDLER.rpartition(".")[0]
    (found,) = [path for plan, path in here.values() if plan.roots == (webhook, package)]
    return found


def _by_handler(here: dict[str, tuple[PackagePlan, Path]], prefix: str) -> Path:
    (found,) = [path for plan, path in here.values() if plan.roots[0].startswith(prefix)]
    return found


def _run(
    script: str, package: Path, runtime: Path, *args: str, env: dict[str, str] | None = None
) -> Any:
    """A fresh `python3.13 -S` whose path is the package, then the runtime stand-in, and
    the standard library: nothing else from this machine can be imported."""
    result = subprocess.run(  # noqa: S603 - python3.13 with a fixed script
        [_python313(), "-S", "-c", script, str(package), str(runtime), *args],
        cwd=package,
        env={
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "PYTHONPATH": os.pathsep.join([str(package), str(runtime)]),
            "PYTHONDONTWRITEBYTECODE": "1",  # /var/task is read-only
            "LAMBDA_TASK_ROOT": str(package),
            "AWS_REGION": "eu-central-1",
            "AWS_DEFAULT_REGION": "eu-central-1",
            "AWS_ACCESS_KEY_ID": "ASIATESTTESTTESTTEST",
            "AWS_SECRET_ACCESS_KEY": "test/secret/access/key",
            "AWS_SESSION_TOKEN": "test-session-token",
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            "POWERTOOLS_METRICS_NAMESPACE": "orderhub",
            "POWERTOOLS_SERVICE_NAME": "package-test",
            **(env or {}),
        },
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


# -- what a webhook ships ------------------------------------------------------------------------
def test_a_webhook_package_is_built_without_docker_for_arm64(arm64: dict[str, Path]) -> None:
    out = arm64["stripe"]

    assert (out / "functions" / "webhooks" / "handler.py").exists()
    assert (out / "shared" / "inbox" / "store.py").exists()
    assert (out / "shared" / "providers" / "payments" / "stripe" / "webhook.py").exists()
    assert not (out / "functions" / "api").exists()  # only its own function
    assert not any((out / name).exists() for name in RUNTIME_LIBRARIES)  # the runtime has them
    native = list(out.glob("pydantic_core/_pydantic_core.*.so"))
    assert native and "aarch64" in native[0].name
    ours = list(out.glob("shared/**/__pycache__/*.cpython-313.pyc"))
    theirs = list(out.glob("pydantic/*.pyc"))  # sourceless: the .pyc in the source's place
    assert ours and theirs and not list(out.glob("pydantic/*.py"))
    # unchecked-hash (flags 1): valid on Lambda's read-only, mtime-reset file system, and no
    # source is hashed at import (the package never changes in place)
    assert {_pyc_flags(path) for path in [*ours, *theirs]} == {1}
    # the wheels are the ones uv.lock pins, nothing more
    installed = {
        tuple(p.name.removesuffix(".dist-info").lower().replace("_", "-").rsplit("-", 1))
        for p in out.glob("*.dist-info")
    }
    plan = bundling.plan_package(bundling.package_roots(WEBHOOK_HANDLER, {"PROVIDER": "stripe"}))
    assert installed == {(pin.name, pin.version) for pin in plan.pins}


@pytest.mark.parametrize("provider", WEBHOOK_PROVIDERS)
def test_a_webhook_package_is_at_most_3_mb_zipped(
    arm64: dict[str, Path], provider: str, tmp_path: Path
) -> None:
    size = _zipped_size(arm64[provider], tmp_path / "package.zip")
    assert size <= WEBHOOK_ZIPPED_LIMIT, f"{provider}: {size / MB:.2f} MB zipped"


@pytest.mark.parametrize("provider", WEBHOOK_PROVIDERS)
def test_a_webhook_carries_its_own_provider_and_nothing_it_does_not_import(
    arm64: dict[str, Path], provider: str
) -> None:
    out = arm64[provider]
    own = registry.provider(provider).package
    assert (out / own.replace(".", "/") / "__init__.py").exists()
    for other in registry.providers():
        if other.name != provider:
            assert not (out / other.package.replace(".", "/")).exists(), other.name
    # the simulators sign test deliveries and send them with httpx
    assert not list(out.glob("shared/providers/**/simulator.py"))
    assert not (out / "shared" / "providers" / "simulation.py").exists()
    present = {path.name.split(".")[0] for path in out.iterdir()}
    assert not present & set(NEVER_IN_A_WEBHOOK)
    # one POST route: no Powertools HTTP resolver (its package import is about 100 ms), no
    # pydantic v1 copy
    assert not (out / "aws_lambda_powertools" / "event_handler").exists()
    assert not (out / "pydantic" / "v1").exists()
    # the secret is read with the function's own client: no Powertools parameters, no boto3
    assert not (out / "aws_lambda_powertools" / "utilities" / "parameters").exists()


def test_the_stripe_webhook_has_no_channel_code(arm64: dict[str, Path]) -> None:
    assert not (arm64["stripe"] / "shared" / "providers" / "channels").exists()
    assert not (arm64["shopify"] / "shared" / "providers" / "payments").exists()


def test_the_stream_router_carries_every_adapter_and_no_simulator(
    here: dict[str, tuple[PackagePlan, Path]],
) -> None:
    """It maps the stored raw body of any source with that provider's adapter (by name)."""
    out = _by_handler(here, "functions.stream_router.")
    for entry in registry.providers():
        adapter_module = entry.adapter.partition(":")[0]
        assert (out / entry.package.replace(".", "/") / f"{adapter_module}.py").exists()
    assert not list(out.glob("shared/providers/**/simulator.py"))
    assert not (out / "shared" / "providers" / "simulation.py").exists()


def test_the_api_package_carries_what_it_serves(here: dict[str, tuple[PackagePlan, Path]]) -> None:
    out = _by_handler(here, "functions.api.")
    assert (out / "functions" / "api" / "handler.py").exists()
    assert (out / "aws_lambda_powertools" / "event_handler" / "api_gateway.pyc").exists()
    assert (out / "aws_lambda_powertools" / "event_handler" / "openapi").is_dir()
    assert (out / "pydantic" / "main.pyc").exists()
    assert not (out / "functions" / "webhooks").exists()
    assert not (out / "functions" / "api" / "openapi.py").exists()  # writes docs/, a dev tool
    assert not list(out.glob("shared/providers/**/simulator.py"))


def test_every_webhook_function_gets_its_own_asset(template: dict[str, Any]) -> None:
    keys = {
        environment["PROVIDER"]: template["Resources"][logical_id]["Properties"]["Code"]["S3Key"]
        for logical_id, (handler, environment) in _functions(template).items()
        if handler == WEBHOOK_HANDLER
    }
    assert set(keys) >= set(WEBHOOK_PROVIDERS)
    assert len(set(keys.values())) == len(keys), keys


# -- what the packages import and run, here, from themselves alone -------------------------------
_IMPORTS = r"""
import importlib, importlib.util, json, os, sys, sysconfig
package, runtime = sys.argv[1], sys.argv[2]
modules, third_party, providers = map(json.loads, sys.argv[3:])

def importable(name):
    try:
        if importlib.util.find_spec(name) is not None:
            return True
    except ImportError:  # a parent that is a module, not a package
        pass
    parent, _, attribute = name.rpartition(".")  # `from parent import attribute`
    return bool(parent) and hasattr(importlib.import_module(parent), attribute)

failed = {}
for name in modules:
    try:
        importlib.import_module(name)
    except Exception as error:
        failed[name] = repr(error)
for name in third_party:
    try:
        if not importable(name):
            failed[name] = "not importable"
    except Exception as error:
        failed[name] = repr(error)
if providers:  # what the registry imports by name: each adapter this function may load
    from shared import registry
    for name in providers:
        try:
            registry.provider(name).load_adapter()
        except Exception as error:
            failed["adapter " + name] = repr(error)
allowed = (package, runtime, sysconfig.get_paths()["stdlib"], sysconfig.get_paths()["platstdlib"])
outside = sorted(
    name for name, module in list(sys.modules.items())
    if getattr(module, "__file__", None) and not module.__file__.startswith(allowed)
)
print(json.dumps({"failed": failed, "outside": outside}))
"""


def test_every_function_imports_everything_it_needs_from_its_package(
    here: dict[str, tuple[PackagePlan, Path]], runtime: Path
) -> None:
    """Every module of ours in the package imports, every third-party name those modules
    import anywhere (inside functions too) is there, and so is every provider adapter the
    registry may load by name: the static graph missed nothing."""
    for logical_id, (plan, out) in here.items():
        providers = _loadable_providers(plan)
        found = _run(
            _IMPORTS,
            out,
            runtime,
            json.dumps(plan.modules),
            json.dumps(plan.imports),
            json.dumps(providers),
        )
        assert found == {"failed": {}, "outside": []}, logical_id


def _loadable_providers(plan: PackagePlan) -> list[str]:
    """The providers whose adapter this function may load: its own (PROVIDER), or every one
    if it reaches the registry without one (the stream router)."""
    if "shared.registry" not in plan.modules:
        return []
    own = [p.name for p in registry.providers() if p.package in plan.roots]
    return own if len(own) == 1 else [p.name for p in registry.providers()]


_DELIVER = r"""
import json, sys
from botocore.awsrequest import AWSResponse

secret, events = json.loads(sys.argv[3]), json.loads(sys.argv[4])
answered = []

class Body:
    def __init__(self, data):
        self.data = data
    def stream(self, **_):
        yield self.data

def answer(request, **_):
    target = request.headers.get("X-Amz-Target", b"")
    operation = (target.decode() if isinstance(target, bytes) else target).rpartition(".")[2]
    answered.append(operation)
    if operation == "GetSecretValue":
        body = json.dumps({"ARN": "arn:aws:secretsmanager:eu-central-1:1:secret:s", "Name": "s",
            "SecretString": json.dumps(secret), "VersionId": "v",
            "VersionStages": ["AWSCURRENT"], "CreatedDate": 1764547200.0}).encode()
    elif operation == "PutItem":
        body = b"{}"
    else:
        raise RuntimeError(f"unexpected AWS request {operation} to {request.url}")
    headers = {"Content-Type": "application/x-amz-json-1.1", "x-amzn-RequestId": "r"}
    return AWSResponse(request.url, 200, headers, Body(body))

from shared.platform import aws
aws.session().register("before-send", answer)
from functions.webhooks.handler import lambda_handler

class Context:
    function_name = "package-test"
    function_version = "$LATEST"
    invoked_function_arn = "arn:aws:lambda:eu-central-1:123456789012:function:package-test"
    memory_limit_in_mb = 512
    aws_request_id = "package-test"
    log_group_name = "/aws/lambda/package-test"
    log_stream_name = "test"
    def get_remaining_time_in_millis(self):
        return 10000

statuses = [lambda_handler(event, Context())["statusCode"] for event in events]
print(json.dumps({"statuses": statuses, "answered": answered}))
"""


def _deliveries(provider: str) -> tuple[dict[str, str], list[dict[str, Any]]]:
    """A signed delivery and the same one tampered with, as API Gateway v2 events."""
    from shared.providers.channels.shopify.simulator import ShopifySimulator
    from shared.providers.payments.stripe.simulator import StripeSimulator
    from shared.providers.simulation import Line
    from tests.bench.warm_path import http_api_event

    if provider in ("payu", "przelewy24"):
        from tests.bench.deliveries import BUILDERS, bench_secret

        document = bench_secret(registry.provider(provider))
        simulator = registry.provider(provider).simulator_class().from_secret(document)
        signed = BUILDERS[provider](simulator, document).signed
        # Przelewy24 signs values inside the body, not its bytes: change one it signs.
        tampered = signed.tampered() if provider == "payu" else _tampered_sign(signed)
        return document, [
            http_api_event(request.path, request.body, request.headers)
            for request in (signed, tampered)
        ]
    secret = {"webhook_secret": f"whsec_package_test_{provider}"}
    if provider == "shopify":
        shopify = ShopifySimulator(secret["webhook_secret"])
        order = shopify.order(5770019001, [Line("MUG-KRAKOW-350", "Kubek", 2, "49.00")])
        signed = shopify.webhook("orders/create", order, webhook_id="package-test-1")
    else:
        stripe = StripeSimulator(secret["webhook_secret"])
        intent = stripe.payment_intent("ord_01PACKAGETEST00000000000000", 9800, "pln")
        signed = stripe.event("payment_intent.succeeded", intent)
    tampered = signed.tampered()
    return secret, [
        http_api_event(request.path, request.body, request.headers)
        for request in (signed, tampered)
    ]


def _tampered_sign(signed: Any) -> Any:
    from shared.providers.simulation import SignedRequest

    body = json.loads(signed.body)
    body["amount"] = int(body["amount"]) + 1
    return SignedRequest(signed.path, json.dumps(body).encode(), signed.headers)


@pytest.mark.parametrize("provider", WEBHOOK_PROVIDERS)
def test_a_webhook_answers_deliveries_from_its_package_alone(
    here: dict[str, tuple[PackagePlan, Path]], runtime: Path, provider: str
) -> None:
    """The shipped package serves its route: a signed delivery is stored (the secret fetched,
    one PutItem), a tampered one is refused, with AWS answered before the socket."""
    secret, events = _deliveries(provider)
    environment = {
        "PROVIDER": provider,
        "SECRET_ID": f"test/{provider}",
        "TABLE_NAME": "package-test",
        "DOCUMENTS_BUCKET": "package-test-documents",
    }
    found = _run(
        _DELIVER,
        _by_provider(here, provider),
        runtime,
        json.dumps(secret),
        json.dumps(events),
        env=environment,
    )
    assert found["statuses"] == [200, 401]
    assert found["answered"] == ["GetSecretValue", "PutItem"]


# -- the graph -----------------------------------------------------------------------------------
def test_type_checking_imports_pull_nothing_in_and_lazy_imports_do() -> None:
    source = b"""
from __future__ import annotations
from typing import TYPE_CHECKING
import json
from . import sibling
if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from shared.providers.channels.shopify import webhook
else:
    import runtime_only
def handler():
    from aws_lambda_powertools.utilities.parameters import SecretsProvider
    return SecretsProvider
"""
    found = {
        i.name: i.lazy
        for i in bundling._scan(source, "shared.inbox.route", is_package=False, strings=False)
    }
    assert "mypy_boto3_dynamodb" not in found
    assert "shared.providers.channels.shopify" not in found
    assert found["shared.inbox.sibling"] is False
    assert found["runtime_only"] is False
    assert found["aws_lambda_powertools.utilities.parameters"] is True


def test_a_function_importing_a_dev_only_library_is_not_built(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(
        bundling, "_our_graph", lambda roots: ({}, {"stripe": "shared.providers.payments.x"})
    )
    with pytest.raises(bundling.PackagingError, match=r"stripe.*runtime dependencies"):
        bundling.plan_package(("functions.webhooks.handler",))
