"""EmbeddedStack: the whole system on this machine, from the same template `cdk deploy` uses."""

from __future__ import annotations

import functools
import gc
import json
import logging
import os
import threading
import time
from typing import Any
from unittest import mock

import httpx
from botocore.config import Config

from infra.local import (
    dynamodb_expressions,
    dynamodb_items,
    dynamodb_wire,
    ids,
    patching,
    state_machines,
    transactions,
)
from infra.local.deployer import Deployer, Deployment
from infra.local.errors import HarnessErrors
from infra.local.gateway import HttpGateway, routes_from_template
from infra.local.lambda_runtime import FOREGROUND, FOREGROUND_HEADER, InProcessLambdas
from infra.local.queues import QueuePoller, wake_on_arrival
from infra.local.scheduler import LocalClock, Scheduler
from infra.local.seed import DEMO_CATALOGUE, Seeded, seed
from infra.local.streams import StreamPoller
from infra.local.template import resources_of_type
from infra.local.transport import InProcessTransport
from shared import registry

REGION = "eu-central-1"
ACCOUNT = "123456789012"
DEFAULT_STACK_NAME = "orderhub-dev"
SHARD_ITERATOR_LIFETIME_SECONDS = 15 * 60
# Execution environments a webhook function may have at once. Lambda scales a function out to
# absorb a provider's burst; its module state (resolver, router) is per copy of its module.
WEBHOOK_ENVIRONMENTS = 8  # DynamoDB Streams: an iterator expires after 15 min


class PriorityLock:
    """A mutex where urgent acquirers go before waiting ordinary ones (no pre-emption)."""

    def __init__(self) -> None:
        self._condition = threading.Condition(threading.Lock())
        self._held = False
        self._urgent_waiting = 0

    def acquire(self, urgent: bool = False) -> None:
        with self._condition:
            if urgent:
                self._urgent_waiting += 1
                try:
                    while self._held:
                        self._condition.wait()
                finally:
                    self._urgent_waiting -= 1
            else:
                while self._held or self._urgent_waiting:
                    self._condition.wait()
            self._held = True

    def release(self) -> None:
        with self._condition:
            self._held = False
            self._condition.notify_all()

    def __enter__(self) -> PriorityLock:
        self.acquire()
        return self

    def __exit__(self, *_: object) -> None:
        self.release()


_dynamodb_lock = PriorityLock()


def _serialise_dynamodb(patches: list[Any]) -> None:
    """moto's DynamoDB is not atomic under threads (conditional writes and transactions race);
    real DynamoDB is. One lock around its request handling restores the semantics we rely on.
    What runs under it is one request's work: transactions touch their items, not a copy of
    the table (infra/local/transactions.py). Requests from an invocation the HTTP API is
    waiting for (marked by the runtime, FOREGROUND_HEADER) go before the stream router's and
    the workflow's: in AWS they would not queue behind them."""
    from moto.dynamodb.responses import DynamoHandler
    from moto.dynamodbstreams.responses import DynamoDBStreamsHandler

    for handler in (DynamoHandler, DynamoDBStreamsHandler):
        original = handler.call_action

        def locked(self: Any, _original: Any = original) -> Any:
            urgent = bool(self.headers.get(FOREGROUND_HEADER))
            _dynamodb_lock.acquire(urgent)
            try:
                return _original(self)
            finally:
                _dynamodb_lock.release()

        patching.start(patches, mock.patch.object(handler, "call_action", locked))


def _cache_backend_lookup(patches: list[Any]) -> None:
    """moto's server resolves the backend of every request by listing its package directory
    (~150 stat calls) and trying every service's URL patterns, under one lock that all requests
    share. The answer depends only on the host: remember it."""
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication

    original = DomainDispatcherApplication.get_backend_for_host
    known: dict[str | None, Any] = {}

    def get_backend_for_host(self: Any, host: str | None) -> Any:
        try:
            return known[host]
        except KeyError:
            found = known[host] = original(self, host)
            return found

    patching.start(
        patches,
        mock.patch.object(
            DomainDispatcherApplication, "get_backend_for_host", get_backend_for_host
        ),
    )


def _lean_moto_apps(patches: list[Any]) -> None:
    """moto builds each service's Flask app in debug mode with CORS, and looks up its handler's
    method names with `inspect.getmembers` on every request: together about a third of an
    in-process request's CPU. Debug mode only adds request helpers for browsers and lets an
    exception escape Flask (the HTTP server would have turned it into a 500); without it Flask
    answers 500 and logs on "moto", which the harness captures. CORS serves browsers, which
    never call the embedded moto. Method names depend only on the handler class."""
    from moto.core import responses as moto_responses
    from moto.core import utils as moto_utils
    from moto.moto_server import threaded_moto_server, werkzeug_app

    original = werkzeug_app.create_backend_app

    def create_backend_app(service: Any) -> Any:
        app = original(service)
        app.debug = False
        return app

    names = functools.cache(moto_utils.method_names_from_class)
    patching.start(
        patches,
        mock.patch.object(werkzeug_app, "create_backend_app", create_backend_app),
        mock.patch.object(threaded_moto_server, "create_backend_app", create_backend_app),
        mock.patch.object(werkzeug_app, "DISABLE_GLOBAL_CORS", True),
        mock.patch.object(moto_responses, "method_names_from_class", names),
    )


def _step_aside(**_: Any) -> None:
    FOREGROUND.step_aside()


class _CachedClients:
    """Stands in for the `boto3` module where moto's Step Functions interpreter builds a client
    for every task it runs (~20 ms of CPU and thousands of long-lived objects each, which then
    cost long garbage-collector pauses): the same client for the same service and endpoint."""

    def __init__(self, real: Any) -> None:
        self._real = real
        self._clients: dict[tuple[Any, ...], Any] = {}
        self._lock = threading.Lock()
        # The stack's in-process transport, once moto is up (infra/local/transport.py).
        self.transport: InProcessTransport | None = None

    def client(self, *args: Any, **kwargs: Any) -> Any:
        key = (args, tuple(sorted((k, v) for k, v in kwargs.items() if k != "config")))
        with self._lock:
            found = self._clients.get(key)
            if found is None:
                config = kwargs.get("config")
                pool = Config(max_pool_connections=64)
                kwargs["config"] = config.merge(pool) if config is not None else pool
                found = self._clients[key] = self._real.client(*args, **kwargs)
                if self.transport is not None:
                    # moto's interpreter runs the workflow: background work, like a task's.
                    found.meta.events.register("before-send", _step_aside)
                    found.meta.events.register_last("before-send", self.transport)
            return found

    def warm(self, region: str) -> None:
        """Build the Lambda client the interpreter's tasks use now, while the stack is idle:
        built on the first task under load it took a second, every other execution waiting
        on the lock meanwhile. (The workflow's tasks are all Lambda functions.)"""
        from moto.stepfunctions.parser.asl.utils.boto_client import boto_client_for

        boto_client_for(region, "lambda")

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)


def _cache_step_functions_clients(patches: list[Any]) -> _CachedClients:
    import boto3
    from moto.stepfunctions.parser.asl.utils import boto_client

    cached = _CachedClients(boto3)
    patching.start(patches, mock.patch.object(boto_client, "boto3", cached))
    return cached


_partition = threading.local()


def _query_one_partition(patches: list[Any]) -> None:
    """moto answers every Query by sorting *all* the table's items and filtering them (O(table)
    per Query, under the DynamoDB lock: the biggest cost of a busy embedded stack). A Query on
    the table's own key reads one partition: give it only that partition. Index queries and
    scans keep moto's path."""
    import inspect

    from moto.dynamodb.models.table import Table

    original_query = Table.query
    original_all_items = Table.all_items
    signature = inspect.signature(original_query)

    def query(self: Any, *args: Any, **kwargs: Any) -> Any:
        bound = signature.bind(self, *args, **kwargs)
        hash_key = bound.arguments.get("hash_key")
        if bound.arguments.get("index_name") is not None or hash_key is None:
            return original_query(self, *args, **kwargs)
        previous = getattr(_partition, "current", None)
        _partition.current = (self, hash_key)
        try:
            return original_query(self, *args, **kwargs)
        finally:
            _partition.current = previous

    def all_items(self: Any) -> Any:
        current = getattr(_partition, "current", None)
        if current is None or current[0] is not self:
            return original_all_items(self)
        bucket = self.items.get(current[1])  # .get: the items dict is a defaultdict
        if bucket is None:
            return []
        if not self.range_key_attr:
            return [bucket]
        return sorted(bucket.values(), key=lambda item: item.range_key)

    patching.start(
        patches,
        mock.patch.object(Table, "query", query),
        mock.patch.object(Table, "all_items", all_items),
    )


def _expire_shard_iterators(patches: list[Any]) -> None:
    """moto keeps every shard iterator it ever issued (a poller takes a new one per read: ~1 MB
    a minute); DynamoDB expires them after 15 minutes with ExpiredIteratorException."""
    from moto.core.exceptions import JsonRESTError
    from moto.dynamodbstreams.models import DynamoDBStreamsBackend, ShardIterator

    original_init = ShardIterator.__init__

    def init(self: Any, *args: Any, **kwargs: Any) -> None:
        original_init(self, *args, **kwargs)
        self.issued_at = time.monotonic()

    def get_records(self: Any, iterator_arn: str, limit: int) -> dict[str, Any]:
        now = time.monotonic()
        iterators = self.shard_iterators
        while iterators:  # oldest first: dicts keep insertion order
            arn, oldest = next(iter(iterators.items()))
            if now - getattr(oldest, "issued_at", now) < SHARD_ITERATOR_LIFETIME_SECONDS:
                break
            del iterators[arn]
        found = iterators.get(iterator_arn)
        if found is None:
            raise JsonRESTError(
                "ExpiredIteratorException",
                "Iterator expired. The iterator was created over 15 minutes ago.",
            )
        return found.get(limit)  # type: ignore[no-any-return]

    patching.start(
        patches,
        mock.patch.object(ShardIterator, "__init__", init),
        mock.patch.object(DynamoDBStreamsBackend, "get_records", get_records),
    )


class _LongLivedHeap:
    """Keeps the garbage collector out of the requests' way. Everything the stack holds lives
    as long as the stack (moto's items, streams, the modules it imported), and the collector's
    automatic runs walked ever more of it: under load a young-generation pass every few
    requests (10-50 ms each on this machine) and full passes of 200-500 ms, which every request
    in flight waited out. So while the stack runs the automatic collector is off; a thread
    collects the young generations every COLLECT_EVERY_SECONDS and freezes what survives, so
    each pass walks only what is new (reference counting still frees everything acyclic at
    once). Cyclic garbage among frozen objects waits for `stop`, which unfreezes and collects:
    the stack lives for a session, not for months."""

    COLLECT_EVERY_SECONDS = 1.0

    def __init__(self) -> None:
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._was_enabled: bool | None = None  # None: not started

    def start(self) -> None:
        if self._was_enabled is not None:
            return  # already running
        self._was_enabled = gc.isenabled()
        self._stop.clear()
        gc.collect()
        gc.freeze()
        gc.disable()
        self._thread = threading.Thread(target=self._run, name="gc-freezer", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.COLLECT_EVERY_SECONDS):
            gc.collect(1)
            gc.freeze()

    def stop(self) -> None:
        if self._was_enabled is None:
            return  # never started: the collector is as the stack found it
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        gc.unfreeze()
        if self._was_enabled:
            gc.enable()
        self._was_enabled = None


class EmbeddedStack:
    def __init__(
        self,
        template: dict[str, Any],
        *,
        stack_name: str = DEFAULT_STACK_NAME,
        gateway_port: int | None = 0,
        api_key: str | None = None,
        provider_secrets: dict[str, dict[str, str]] | None = None,
        catalogue: dict[str, dict[str, int]] | None = None,
        log_level: str = "WARNING",
        background: bool = True,
    ) -> None:
        self.template = template
        self.stack_name = stack_name
        self._gateway_port = gateway_port
        self._api_key = api_key
        self._provider_secrets = provider_secrets
        self._catalogue = DEMO_CATALOGUE if catalogue is None else catalogue
        self._log_level = log_level
        self._background = background
        self._patches: list[Any] = []
        self._undo: list[Any] = []
        self._saved_env: dict[str, str | None] = {}
        self.errors = HarnessErrors()
        self._heap = _LongLivedHeap()
        self.clock = LocalClock()
        self.moto: Any = None
        self.runtime: InProcessLambdas | None = None
        self.deployment: Deployment | None = None
        self.poller: StreamPoller | None = None
        self.queues: QueuePoller | None = None
        self.scheduler: Scheduler | None = None
        # Poll providers' simulators: the provider APIs their pollers call, served locally.
        self._api_simulators: dict[str, Any] = {}
        self.gateway: HttpGateway | None = None
        self.seeded: Seeded | None = None
        self.session: Any = None
        self.deployer: Deployer | None = None
        self.endpoint = ""

    # -- lifecycle ----------------------------------------------------------------------------
    def start(self) -> EmbeddedStack:
        import boto3
        from moto.moto_server.threaded_moto_server import ThreadedMotoServer
        from moto.moto_server.werkzeug_app import MotoRequestHandler

        MotoRequestHandler.disable_nagle_algorithm = True
        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per moto request
        # A 500 inside moto (Flask logs it on "moto") or a thread that dies is the harness's.
        for name in ("moto", "werkzeug"):
            handler = self.errors.capture_logger(name, "moto")
            self._undo.append(lambda n=name, h=handler: logging.getLogger(n).removeHandler(h))
        self._undo.append(self.errors.capture_threads())
        step_functions_clients = self._patch_moto()
        self.runtime = InProcessLambdas(
            region=REGION,
            extra_environment={
                "POWERTOOLS_TRACE_DISABLED": "true",
                "POWERTOOLS_METRICS_DISABLED": "true",
                "POWERTOOLS_LOG_LEVEL": self._log_level,
            },
        )
        self.runtime.install()
        self.moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self.moto.start()
        host, port = self.moto.get_host_and_port()
        self.endpoint = f"http://{host}:{port}"
        self._answer_in_process(step_functions_clients)
        self._set_env(
            {
                "AWS_ENDPOINT_URL": self.endpoint,
                "MOTO_PORT": str(port),
                "AWS_ACCESS_KEY_ID": "testing",
                "AWS_SECRET_ACCESS_KEY": "testing",
                "AWS_SESSION_TOKEN": None,
                "AWS_PROFILE": None,
                "AWS_REGION": REGION,
                "AWS_DEFAULT_REGION": REGION,
                "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
                "POWERTOOLS_LOG_LEVEL": self._log_level,
            }
        )
        step_functions_clients.warm(REGION)
        # moto executes state machines only when asked to.
        httpx.post(
            f"{self.endpoint}/moto-api/config",
            json={"stepfunctions": {"execute_state_machine": True}},
            timeout=10,
        ).raise_for_status()
        self.session = boto3.Session(
            region_name=REGION,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",  # noqa: S106 - moto accepts any credentials
        )
        self.session.events.register_last(
            "before-send", self._transport, unique_id="orderhub-local-transport"
        )
        deployer = Deployer(
            self.template,
            self.session,
            endpoint=self.endpoint,
            region=REGION,
            account=ACCOUNT,
            stack_name=self.stack_name,
        )
        try:
            self.deployment = deployer.deploy()
        except Exception as error:
            self.errors.record("deployer", error, "deploying the template")
            raise
        self.deployer = deployer
        self.seeded = seed(
            self.client("secretsmanager"),
            self.table_name,
            self.deployment.secrets,
            api_key=self._api_key,
            provider_secrets=self._provider_secrets,
            catalogue=self._catalogue,
        )
        self._serve_provider_apis()
        self.poller = StreamPoller(
            self.deployment.stream_mappings,
            self.session,
            endpoint=self.endpoint,
            region=REGION,
            report=self.errors.reporter("stream-poller"),
        )
        self.queues = QueuePoller(
            self.deployment.queue_mappings,
            self.session,
            endpoint=self.endpoint,
            region=REGION,
            report=self.errors.reporter("queue-poller"),
        )
        wake_on_arrival(self._patches, self.queues.wake)
        self.scheduler = Scheduler(
            self.deployment.schedules,
            self.session,
            endpoint=self.endpoint,
            region=REGION,
            account=ACCOUNT,
            clock=self.clock,
            report=self.errors.reporter("scheduler"),
        )
        if self._background:
            self.poller.start()
            self.queues.start()
            self.scheduler.start()
        else:
            for state in self.poller.states:
                self.poller._discover_shards(state)
        routes = routes_from_template(self.template, deployer.resolver)
        self._scale_out_webhooks(routes)
        if self._gateway_port is not None:
            # API Gateway does not retry an integration and gives it at most 30 s.
            invoke = Config(
                read_timeout=30, retries={"total_max_attempts": 1}, max_pool_connections=64
            )
            self.gateway = HttpGateway(
                routes,
                self.session.client("lambda", endpoint_url=self.endpoint, config=invoke),
                port=self._gateway_port,
                account=ACCOUNT,
                report=self.errors.reporter("gateway"),
                invoke=self._invoke_in_process,
                in_flight=FOREGROUND.serving,
            )
            self.gateway.start()
            self._point_at_gateway()
        self.outputs = {
            name: deployer.resolver.resolve(output["Value"])
            for name, output in self.template.get("Outputs", {}).items()
        }
        self._heap.start()
        return self

    def _serve_provider_apis(self) -> None:
        """Each provider whose API orderhub calls (a poller's, a payment gateway's) gets its
        simulator served here, and the provider's secret points at it, unless the developer
        named a sandbox of their own (the secret's base URL field set from its environment
        variable)."""
        assert self.seeded is not None
        assert self.deployment is not None
        secrets = self.client("secretsmanager")
        for provider in registry.providers():
            field = provider.api_url_field
            if field is None:
                continue
            document = self.seeded.provider_secrets[provider.name]
            simulator = provider.simulator_class().from_secret(document)
            url = simulator.start()
            self._api_simulators[provider.name] = simulator
            if not document.get(field):
                document[field] = url
                secrets.put_secret_value(
                    SecretId=self.deployment.secrets[f"{self.stack_name}/{provider.name}"],
                    SecretString=json.dumps(document),
                )

    def _point_at_gateway(self) -> None:
        """What only the gateway's address completes: the functions' PUBLIC_URL (the
        notification URLs they give payment providers) and where simulators of providers
        with dashboard-configured webhooks (Stripe, PayPal) deliver them."""
        from moto.awslambda.models import lambda_backends

        assert self.gateway is not None
        for function in lambda_backends[ACCOUNT][REGION].list_functions():
            variables = function.environment_vars or {}
            if "PUBLIC_URL" in variables:
                variables["PUBLIC_URL"] = self.gateway.url
        for simulator in self._api_simulators.values():
            deliver_to = getattr(simulator, "deliver_to", None)
            if deliver_to is not None:
                deliver_to(self.gateway.url)

    def _scale_out_webhooks(self, routes: list[Any]) -> None:
        """Webhook functions get several execution environments (module copies); every other
        function one, so their invocations run one at a time as in one warm container."""
        from moto.awslambda.models import lambda_backends

        assert self.runtime is not None
        functions = lambda_backends[ACCOUNT][REGION]
        for route in routes:
            if route.path.startswith("/webhooks/"):
                function = functions.get_function(route.function_name)
                handler = str(function.handler)
                self.runtime.concurrency[handler.rpartition(".")[0]] = WEBHOOK_ENVIRONMENTS
                self.runtime.warm(function)

    def _patch_moto(self) -> _CachedClients:
        """Where moto's behaviour or cost differs from what the stack must stand in for."""
        _serialise_dynamodb(self._patches)
        self.transaction_tokens = transactions.install(self._patches)
        _expire_shard_iterators(self._patches)
        _cache_backend_lookup(self._patches)
        _query_one_partition(self._patches)
        _lean_moto_apps(self._patches)
        ids.install(self._patches)
        dynamodb_items.install(self._patches)
        dynamodb_expressions.install(self._patches)
        dynamodb_wire.install(self._patches)
        state_machines.install(self._patches)
        return _cache_step_functions_clients(self._patches)

    def _answer_in_process(self, step_functions_clients: _CachedClients) -> None:
        """Every AWS request made inside this process is answered by moto on its own thread
        (infra/local/transport.py); the HTTP server stays for clients outside the process. The
        hook goes last on each event chain, after the foreground tag and any bench hook."""
        from shared.platform import aws

        transport = InProcessTransport(self.moto._server.app, self.endpoint)
        unique_id = f"orderhub-local-transport-{id(self)}"
        events = aws.session().get_component("event_emitter")
        events.register_last("before-send", transport, unique_id=unique_id)
        self._undo.append(lambda: events.unregister("before-send", unique_id=unique_id))
        self._transport = transport
        step_functions_clients.transport = transport
        aws.reset_clients()  # clients copy the session's hooks when they are built

    def _invoke_in_process(self, function_name: str, event: dict[str, Any]) -> tuple[bytes, bool]:
        """What API Gateway's Lambda integration does: call the function, skipping moto's HTTP
        Lambda API (one local HTTP round trip and a server thread less per request)."""
        from moto.awslambda.models import lambda_backends

        assert self.runtime is not None
        function = lambda_backends[ACCOUNT][REGION].get_function(function_name)
        body, errored, _ = self.runtime.invoke(function, event, foreground=True)
        return body.encode(), errored

    def stop(self) -> None:
        self._heap.stop()
        for part in (self.gateway, self.scheduler, self.queues, self.poller):
            if part is not None:
                part.stop()
        for simulator in self._api_simulators.values():
            simulator.stop()
        self._api_simulators.clear()
        if self.moto is not None:
            self.moto.stop()
            self.moto = None
        if self.runtime is not None:
            self.runtime.uninstall()
        patching.stop(self._patches)
        for undo in reversed(self._undo):
            undo()
        self._undo.clear()
        for key, value in self._saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        self._saved_env.clear()

    def __enter__(self) -> EmbeddedStack:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    def _set_env(self, values: dict[str, str | None]) -> None:
        for key, value in values.items():
            self._saved_env.setdefault(key, os.environ.get(key))
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value

    # -- what callers need ----------------------------------------------------------------------
    def client(self, service: str) -> Any:
        return self.session.client(service, endpoint_url=self.endpoint)

    def _physical(self, resource_type: str, contains: str = "") -> str:
        assert self.deployment is not None
        for logical in resources_of_type(self.template, resource_type):
            if contains in logical:
                return self.deployment.physical[logical].ref
        raise KeyError(f"no {resource_type} matching {contains!r}")

    @property
    def table_name(self) -> str:
        return self._physical("AWS::DynamoDB::Table", "StorageTable")

    @property
    def state_machine_arn(self) -> str:
        return self._physical("AWS::StepFunctions::StateMachine")

    @property
    def event_bus_name(self) -> str:
        return self._physical("AWS::Events::EventBus")

    @property
    def url(self) -> str:
        assert self.gateway is not None, "started without a gateway"
        return self.gateway.url

    @property
    def api_key(self) -> str:
        assert self.seeded is not None
        return self.seeded.api_key

    @property
    def provider_secrets(self) -> dict[str, dict[str, str]]:
        """Each provider's seeded secret document (shared/registry.py names its fields)."""
        assert self.seeded is not None
        return self.seeded.provider_secrets

    def simulator(self, provider: str) -> Any:
        """The provider's simulator, signing with this stack's secret for it; for a poll
        provider, the one serving the API its poller calls."""
        if provider in self._api_simulators:
            return self._api_simulators[provider]
        entry = registry.provider(provider)
        return entry.simulator_class().from_secret(self.provider_secrets[provider])

    def queue_url(self, provider: str) -> str:
        """The SQS queue a queue provider sends to (the stack's `<Name>QueueUrl` output)."""
        return str(self.outputs[f"{registry.provider(provider).construct_name}QueueUrl"])

    def poll_schedule(self, provider: str) -> str:
        """The name of the EventBridge rule that runs a poll provider's poller."""
        assert self.deployment is not None
        logical = f"{registry.provider(provider).construct_name}PollSchedule"
        for schedule in self.deployment.schedules:
            if schedule.rule_name.startswith(f"Ingress{logical}"):
                return schedule.rule_name
        raise KeyError(f"{provider} has no poll schedule")

    def schedule_of(self, logical: str) -> str:
        """The name of the EventBridge rule whose logical id contains `logical`
        (e.g. "PaymentReconcileSchedule")."""
        assert self.deployment is not None
        for schedule in self.deployment.schedules:
            if logical in schedule.rule_name:
                return schedule.rule_name
        raise KeyError(f"no schedule named like {logical}")

    def webhook_paths(self) -> list[str]:
        assert self.gateway is not None
        return [r.path for r in self.gateway.routes if r.path.startswith("/webhooks/")]

    def dead_letter_depths(self) -> dict[str, int]:
        """Messages in each dead-letter queue (a queue providers send to is not one: it has a
        redrive policy of its own)."""
        sqs = self.client("sqs")
        depths = {}
        for url in sqs.list_queues().get("QueueUrls", []):
            attributes = sqs.get_queue_attributes(
                QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "RedrivePolicy"]
            )["Attributes"]
            if "RedrivePolicy" not in attributes:
                depths[url.rsplit("/", 1)[-1]] = int(attributes["ApproximateNumberOfMessages"])
        return depths
