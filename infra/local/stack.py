"""EmbeddedStack: the whole system on this machine, from the same template `cdk deploy` uses."""

from __future__ import annotations

import logging
import os
import threading
from typing import Any
from unittest import mock

import httpx

from infra.local.deployer import Deployer, Deployment
from infra.local.gateway import HttpGateway, routes_from_template
from infra.local.lambda_runtime import InProcessLambdas
from infra.local.scheduler import LocalClock, Scheduler
from infra.local.seed import DEMO_CATALOGUE, Seeded, seed
from infra.local.streams import StreamPoller
from infra.local.template import resources_of_type

REGION = "eu-central-1"
ACCOUNT = "123456789012"
DEFAULT_STACK_NAME = "orderhub-dev"
_dynamodb_lock = threading.Lock()


def _serialise_dynamodb(patches: list[Any]) -> None:
    """moto's DynamoDB is not atomic under threads (conditional writes and transactions race);
    real DynamoDB is. One lock around its request handling restores the semantics we rely on."""
    from moto.dynamodb.responses import DynamoHandler
    from moto.dynamodbstreams.responses import DynamoDBStreamsHandler

    for handler in (DynamoHandler, DynamoDBStreamsHandler):
        original = handler.call_action

        def locked(self: Any, _original: Any = original) -> Any:
            with _dynamodb_lock:
                return _original(self)

        patch = mock.patch.object(handler, "call_action", locked)
        patch.start()
        patches.append(patch)


class EmbeddedStack:
    def __init__(
        self,
        template: dict[str, Any],
        *,
        stack_name: str = DEFAULT_STACK_NAME,
        gateway_port: int | None = 0,
        api_key: str | None = None,
        provider_secrets: dict[str, str] | None = None,
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
        self._saved_env: dict[str, str | None] = {}
        self.clock = LocalClock()
        self.moto: Any = None
        self.runtime: InProcessLambdas | None = None
        self.deployment: Deployment | None = None
        self.poller: StreamPoller | None = None
        self.scheduler: Scheduler | None = None
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
        _serialise_dynamodb(self._patches)
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
        deployer = Deployer(
            self.template,
            self.session,
            endpoint=self.endpoint,
            region=REGION,
            account=ACCOUNT,
            stack_name=self.stack_name,
        )
        self.deployment = deployer.deploy()
        self.deployer = deployer
        self.seeded = seed(
            self.client("secretsmanager"),
            self.table_name,
            self.deployment.secrets,
            api_key=self._api_key,
            provider_secrets=self._provider_secrets,
            catalogue=self._catalogue,
        )
        self.poller = StreamPoller(
            self.deployment.stream_mappings, self.session, endpoint=self.endpoint, region=REGION
        )
        self.scheduler = Scheduler(
            self.deployment.schedules,
            self.session,
            endpoint=self.endpoint,
            region=REGION,
            account=ACCOUNT,
            clock=self.clock,
        )
        if self._background:
            self.poller.start()
            self.scheduler.start()
        else:
            for state in self.poller.states:
                self.poller._discover_shards(state)
        if self._gateway_port is not None:
            self.gateway = HttpGateway(
                routes_from_template(self.template, deployer.resolver),
                self.client("lambda"),
                port=self._gateway_port,
                account=ACCOUNT,
            )
            self.gateway.start()
        self.outputs = {
            name: deployer.resolver.resolve(output["Value"])
            for name, output in self.template.get("Outputs", {}).items()
        }
        return self

    def stop(self) -> None:
        for part in (self.gateway, self.scheduler, self.poller):
            if part is not None:
                part.stop()
        if self.moto is not None:
            self.moto.stop()
            self.moto = None
        if self.runtime is not None:
            self.runtime.uninstall()
        for patch in reversed(self._patches):
            patch.stop()
        self._patches.clear()
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
    def provider_secrets(self) -> dict[str, str]:
        assert self.seeded is not None
        return self.seeded.provider_secrets

    def webhook_paths(self) -> list[str]:
        assert self.gateway is not None
        return [r.path for r in self.gateway.routes if r.path.startswith("/webhooks/")]

    def dead_letter_depths(self) -> dict[str, int]:
        sqs = self.client("sqs")
        depths = {}
        for url in sqs.list_queues().get("QueueUrls", []):
            attributes = sqs.get_queue_attributes(
                QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"]
            )["Attributes"]
            depths[url.rsplit("/", 1)[-1]] = int(attributes["ApproximateNumberOfMessages"])
        return depths
