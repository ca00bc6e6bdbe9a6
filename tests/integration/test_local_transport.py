"""The embedded stack's in-process transport answers what moto's HTTP server answers, without
the socket (infra/local/transport.py)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSPreparedRequest
from botocore.compat import HTTPHeaders
from botocore.exceptions import ClientError
from moto.moto_server.threaded_moto_server import ThreadedMotoServer

from infra.local.transport import InProcessTransport
from tests.builders import keyed_by_pk_sk

REGION = "eu-central-1"


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[ThreadedMotoServer, str]]:
    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    moto.start()
    host, port = moto.get_host_and_port()
    try:
        yield moto, f"http://{host}:{port}"
    finally:
        moto.stop()


def clients(moto: ThreadedMotoServer, endpoint: str, service: Any) -> tuple[Any, Any]:
    """One client over HTTP, one answered in-process by the same moto."""
    session = boto3.Session(region_name=REGION)
    over_http = session.client(service, endpoint_url=endpoint)
    in_process = session.client(service, endpoint_url=endpoint)
    transport = InProcessTransport(moto._server.app, endpoint)  # type: ignore[union-attr]
    in_process.meta.events.register_last("before-send", transport)
    return over_http, in_process


def test_dynamodb_answers_are_moto_s(server: tuple[ThreadedMotoServer, str]) -> None:
    over_http, in_process = clients(*server, "dynamodb")
    in_process.create_table(
        TableName="t",
        KeySchema=[{"AttributeName": "PK", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "PK", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    item = {"PK": {"S": "INBOX#zażółć"}, "raw": {"B": b"\x00\xff" * 10}, "n": {"N": "1.5"}}
    in_process.put_item(TableName="t", Item=item, ConditionExpression="attribute_not_exists(PK)")
    key = {"PK": item["PK"]}
    assert in_process.get_item(TableName="t", Key=key)["Item"] == item
    assert over_http.get_item(TableName="t", Key=key)["Item"] == item

    def refused(client: Any) -> dict[str, Any]:
        with pytest.raises(ClientError) as raised:
            client.put_item(
                TableName="t",
                Item=item,
                ConditionExpression="attribute_not_exists(PK)",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        error: Any = raised.value.response
        return {"code": error["Error"]["Code"], "item": error.get("Item")}

    assert refused(in_process) == refused(over_http)
    assert refused(in_process)["code"] == "ConditionalCheckFailedException"


def test_s3_bodies_and_odd_keys_round_trip(server: tuple[ThreadedMotoServer, str]) -> None:
    over_http, in_process = clients(*server, "s3")
    in_process.create_bucket(
        Bucket="docs", CreateBucketConfiguration={"LocationConstraint": REGION}
    )
    key = "inbox/shopify/a b+ć%20.json.z"
    body = bytes(range(256)) * 100
    in_process.put_object(Bucket="docs", Key=key, Body=body)
    assert in_process.get_object(Bucket="docs", Key=key)["Body"].read() == body
    assert over_http.get_object(Bucket="docs", Key=key)["Body"].read() == body
    listed = in_process.list_objects_v2(Bucket="docs")["Contents"]
    assert [entry["Key"] for entry in listed] == [key]


def test_it_needs_no_socket(server: tuple[ThreadedMotoServer, str]) -> None:
    moto, endpoint = server
    _, in_process = clients(moto, endpoint, "sqs")
    queue = in_process.create_queue(QueueName="q")["QueueUrl"]
    moto._server.shutdown()  # type: ignore[union-attr]  # nobody listens any more
    in_process.send_message(QueueUrl=queue, MessageBody="hello")
    received = in_process.receive_message(QueueUrl=queue)["Messages"]
    assert [message["Body"] for message in received] == ["hello"]


def test_requests_to_other_endpoints_are_left_alone(
    server: tuple[ThreadedMotoServer, str],
) -> None:
    moto, endpoint = server
    transport = InProcessTransport(moto._server.app, endpoint)  # type: ignore[union-attr]
    elsewhere = "https://dynamodb.eu-central-1.amazonaws.com/"
    request = AWSPreparedRequest("GET", elsewhere, HTTPHeaders(), b"", False)
    assert transport(request) is None


def test_localhost_on_the_same_port_is_the_same_server(
    server: tuple[ThreadedMotoServer, str],
) -> None:
    moto, endpoint = server
    port = endpoint.rsplit(":", 1)[1]
    session = boto3.Session(region_name=REGION)
    # moto's Step Functions interpreter addresses the server as localhost.
    client = session.client("sqs", endpoint_url=f"http://localhost:{port}")
    client.meta.events.register_last(
        "before-send",
        InProcessTransport(moto._server.app, endpoint),  # type: ignore[union-attr]
    )
    moto._server.shutdown()  # type: ignore[union-attr]
    assert client.create_queue(QueueName="via-localhost")["QueueUrl"]


def test_s3_metadata_keeps_its_underscores(server: tuple[ThreadedMotoServer, str]) -> None:
    over_http, in_process = clients(*server, "s3")
    in_process.create_bucket(
        Bucket="meta", CreateBucketConfiguration={"LocationConstraint": REGION}
    )
    in_process.put_object(Bucket="meta", Key="k", Body=b"x", Metadata={"my_key": "v"})
    assert in_process.head_object(Bucket="meta", Key="k")["Metadata"] == {"my_key": "v"}
    assert over_http.head_object(Bucket="meta", Key="k")["Metadata"] == {"my_key": "v"}


def test_dynamodb_and_its_streams_answer_alike_without_the_wsgi_application(
    server: tuple[ThreadedMotoServer, str],
) -> None:
    """DynamoDB and DynamoDB Streams requests skip moto's WSGI application and reach their
    handler as moto's decorator mode calls it: the same status, body and checksum header as
    through the application, for answers and for errors."""
    from infra.local.transport import _direct_handler, _dispatch

    moto, endpoint = server
    _, client = clients(moto, endpoint, "dynamodb")
    client.create_table(
        TableName="direct",
        KeySchema=[{"AttributeName": "PK", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "PK", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )
    client.put_item(TableName="direct", Item={"PK": {"S": "A"}, "m": {"M": {"x": {"N": "1"}}}})
    captured: list[AWSPreparedRequest] = []
    session = boto3.Session(region_name=REGION)

    def capture(request: AWSPreparedRequest, **_: Any) -> Any:
        captured.append(request)
        return None  # then sent as usual (over HTTP): only the request is kept

    dynamodb = session.client("dynamodb", endpoint_url=endpoint)
    streams = session.client("dynamodbstreams", endpoint_url=endpoint)
    for spy in (dynamodb, streams):
        spy.meta.events.register_last("before-send", capture)
    dynamodb.get_item(TableName="direct", Key={"PK": {"S": "A"}})
    dynamodb.query(
        TableName="direct",
        KeyConditionExpression="PK = :p",
        ExpressionAttributeValues={":p": {"S": "A"}},
    )
    with pytest.raises(ClientError):
        dynamodb.get_item(TableName="missing", Key={"PK": {"S": "A"}})
    with pytest.raises(ClientError):
        dynamodb.query(TableName="direct", KeyConditionExpression="nonsense ===")
    arn = dynamodb.describe_table(TableName="direct")["Table"]["LatestStreamArn"]
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    iterator = streams.get_shard_iterator(
        StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON"
    )["ShardIterator"]
    streams.get_records(ShardIterator=iterator)

    transport = InProcessTransport(moto._server.app, endpoint)  # type: ignore[union-attr]
    compared = 0
    for request in captured:
        handler = _direct_handler(request.headers)
        if handler is None or "GetShardIterator" in str(request.headers.get("X-Amz-Target")):
            continue  # a new iterator each time: not comparable byte for byte
        direct = _dispatch(handler, request)
        through_app = transport.answer(request.method, request.url, request.headers, request.body)
        assert direct[0] == through_app[0]
        assert json_of(direct[2]) == json_of(through_app[2])
        fresh = b"NextShardIterator" in direct[2]  # a new iterator each time: its checksum too
        for name in ("content-type",) if fresh else ("x-amz-crc32", "content-type"):
            assert lower(direct[1]).get(name) == lower(through_app[1]).get(name), name
        compared += 1
    assert compared >= 6


def json_of(body: bytes) -> Any:
    import json

    found = json.loads(body or b"null")
    if isinstance(found, dict):
        found.pop("ConsumedCapacity", None)
        found.pop("NextShardIterator", None)
    return found


def lower(headers: dict[str, str]) -> dict[str, str]:
    return {name.lower(): value for name, value in headers.items()}


def test_a_crash_inside_moto_is_a_500_logged_on_moto_on_the_direct_lane(
    server: tuple[ThreadedMotoServer, str], caplog: pytest.LogCaptureFixture
) -> None:
    """moto raises TypeError on a begins_with of a number. Through the WSGI application with
    debug off, as the embedded stack runs it (stack.py _lean_moto_apps), Flask answers that
    500 and logs it on "moto", where the harness's error record listens. The direct DynamoDB
    lane answers and logs it the same way (a found difference: it used to raise into the
    caller, unrecorded)."""
    import logging

    from infra.local.transport import _direct_handler, _dispatch

    moto, endpoint = server
    _, client = clients(moto, endpoint, "dynamodb")
    client.create_table(
        TableName="crash",
        **keyed_by_pk_sk(),
        BillingMode="PAY_PER_REQUEST",
    )
    client.put_item(TableName="crash", Item={"PK": {"S": "a"}, "SK": {"S": "b"}})
    captured: list[AWSPreparedRequest] = []

    def capture(request: AWSPreparedRequest, **_: Any) -> Any:
        captured.append(request)
        from botocore.awsrequest import AWSResponse

        from infra.local.transport import _Body

        kept = b'{"__type":"Kept","message":"not sent"}'
        return AWSResponse(request.url, 400, {}, _Body(kept))  # type: ignore[arg-type]

    spy = boto3.Session(region_name=REGION).client("dynamodb", endpoint_url=endpoint)
    spy.meta.events.register_last("before-send", capture)
    with pytest.raises(ClientError):
        spy.query(
            TableName="crash",
            KeyConditionExpression="PK = :p AND begins_with(SK, :s)",
            ExpressionAttributeValues={":p": {"S": "a"}, ":s": {"N": "1"}},
        )
    (request,) = captured
    handler = _direct_handler(request.headers)
    assert handler is not None
    caplog.set_level(logging.ERROR, logger="moto")
    direct = _dispatch(handler, request)
    logged = [r for r in caplog.records if r.name == "moto"]
    assert direct[0] == 500
    assert b"Internal Server Error" in direct[2]  # werkzeug's page, as Flask answers it
    assert len(logged) == 1 and logged[0].exc_info is not None
