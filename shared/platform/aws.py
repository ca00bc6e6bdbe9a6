"""Lazily built, cached AWS clients.

Nothing here runs at import time: a client built before moto (or the embedded stack) starts
would talk to real AWS, and building clients costs cold-start time on paths that never use
them (a 401 for a bad signature needs no DynamoDB client).
"""

from __future__ import annotations

import os
import threading
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from botocore.config import Config
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_events import EventBridgeClient
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_secretsmanager import SecretsManagerClient
    from mypy_boto3_stepfunctions import SFNClient

_lock = threading.Lock()
_clients: dict[tuple[str, str | None, str | None], Any] = {}
_session: list[Any] = []  # the one botocore session, made on first use
# Services whose every request this project builds itself from typed code (shared/store/table.py
# serialises every attribute value): botocore's client-side parameter validation repeats what
# DynamoDB validates server-side anyway (a bad request is still a ValidationException), and costs
# about 14% of a PutItem's time in botocore (docs/performance.md). Clients for requests built
# from outside data, or whose errors we would rather see before sending (S3, ...), keep it.
_UNVALIDATED = frozenset({"dynamodb"})


def client_options(service: str) -> dict[str, Any]:
    """The botocore Config options every client of `service` is built with (the bench builds
    its floor clients from them)."""
    return {
        "retries": {"mode": "standard", "max_attempts": 3},
        "connect_timeout": 2,
        "read_timeout": 10,
        "tcp_keepalive": True,
        "parameter_validation": service not in _UNVALIDATED,
    }


def client_config(service: str) -> Config:
    from botocore.config import Config

    return Config(**client_options(service))


def session() -> Any:
    """The process's one botocore session: every client is built from it (sharing its loaded
    service models and credentials), and hooks registered on it (the embedded stack's, the
    bench's) reach every client built afterwards. botocore, not boto3: a function never needs
    boto3's resource layer, and importing it (with s3transfer) costs cold-start time."""
    if not _session:
        with _lock:
            if not _session:
                import botocore.session

                _session.append(botocore.session.get_session())
    return _session[0]


def frozen_user_agent(botocore_session: Any, config: Config) -> Config:
    """`config` with the User-Agent botocore would build for its clients, computed once.

    botocore assembles the header from a dozen components on every request, twice (when it
    builds the request and again when it is created, to add the feature ids the request
    used): 17% of a profiled warm webhook (cProfile of 3,000 Przelewy24 handler calls,
    docs/performance.md section 2).
    The string is the one botocore builds for the client (its "preliminary" User-Agent, SDK,
    OS, Python, execution environment and config metadata); what is lost is the per-request
    feature ids (`m/...`), SDK telemetry for AWS that changes nothing in the answer. A
    `user_agent` on the Config is botocore's documented way to set the header; Powertools'
    suffix is still added to each request by its own hook."""
    from botocore.config import Config

    creator = botocore_session.get_component("user_agent_creator")
    creator.set_session_config(  # as botocore's Session.create_client does before each client
        session_user_agent_name=botocore_session.user_agent_name,
        session_user_agent_version=botocore_session.user_agent_version,
        session_user_agent_extra=botocore_session.user_agent_extra,
    )
    # A user_agent_extra (none is set here) would be appended to a supplied User-Agent again.
    agent = creator.with_client_config(config).to_string()
    return config.merge(Config(user_agent=agent))


def client(service: str) -> Any:
    # Keyed by endpoint and region too, so a process that talks to two environments (tests,
    # the embedded stack) never reuses a client pointed at the other one.
    key = (service, os.environ.get("AWS_ENDPOINT_URL"), os.environ.get("AWS_REGION"))
    found = _clients.get(key)
    if found is not None:
        return found
    shared_session = session()
    with _lock:
        found = _clients.get(key)
        if found is None:
            # AWS_REGION is what Lambda and the embedded stack set; botocore alone reads only
            # AWS_DEFAULT_REGION. The endpoint (AWS_ENDPOINT_URL) botocore reads itself.
            config = frozen_user_agent(shared_session, client_config(service))
            found = shared_session.create_client(service, region_name=key[2], config=config)
            _clients[key] = found
    return found


def dynamodb() -> DynamoDBClient:
    return client("dynamodb")  # type: ignore[no-any-return]


def stepfunctions() -> SFNClient:
    return client("stepfunctions")  # type: ignore[no-any-return]


def events() -> EventBridgeClient:
    return client("events")  # type: ignore[no-any-return]


def s3() -> S3Client:
    return client("s3")  # type: ignore[no-any-return]


def secretsmanager() -> SecretsManagerClient:
    return client("secretsmanager")  # type: ignore[no-any-return]


def reset_clients() -> None:
    """Forget every cached client (tests switch between mocked environments)."""
    with _lock:
        _clients.clear()
