"""The functions' AWS clients (shared/platform/aws.py): botocore's own User-Agent, computed once
per client rather than twice per request."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from unittest import mock

import botocore.session
import pytest
from botocore.awsrequest import AWSResponse
from botocore.useragent import UserAgentString

from infra.local.transport import _Body
from shared.platform import aws


def _answering(requests: list[Any]) -> Any:
    def answer(request: Any, **_: Any) -> Any:
        requests.append(request)
        return AWSResponse(request.url, 200, {}, _Body(b"{}"))  # type: ignore[arg-type]

    return answer


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Any]]:
    """Requests answered before the socket (no network in unit tests), kept for inspection."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_REGION", "eu-central-1")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    requests: list[Any] = []
    aws.reset_clients()
    aws.session().register("before-send", _answering(requests), unique_id="test-aws-clients")
    try:
        yield requests
    finally:
        aws.session().unregister("before-send", unique_id="test-aws-clients")
        aws.reset_clients()


def _agent(request: Any) -> str:
    value = request.headers["User-Agent"]
    return value.decode() if isinstance(value, bytes) else str(value)


def test_the_user_agent_is_botocores_own_without_the_per_request_feature_ids(
    sent: list[Any],
) -> None:
    aws.dynamodb().put_item(TableName="t", Item={"PK": {"S": "x"}})
    bare: Any = botocore.session.get_session().create_client("dynamodb", region_name="eu-central-1")
    bare.meta.events.register("before-send", _answering(sent))
    bare.put_item(TableName="t", Item={"PK": {"S": "x"}})
    ours, botocores = _agent(sent[0]), _agent(sent[-1])
    expected = " ".join(part for part in botocores.split() if not part.startswith("m/"))
    assert ours == expected
    assert "Botocore/" in ours and "lang/python#" in ours and "cfg/retry-mode#standard" in ours


def test_it_is_not_assembled_again_for_each_request(sent: list[Any]) -> None:
    client = aws.dynamodb()
    client.put_item(TableName="t", Item={"PK": {"S": "warm"}})
    with mock.patch.object(
        UserAgentString, "_build_feature_metadata", side_effect=AssertionError("rebuilt")
    ):
        for n in range(3):
            client.put_item(TableName="t", Item={"PK": {"S": str(n)}})
    assert len({_agent(request) for request in sent}) == 1
