"""The stream router with real stream records: partial batch failures, outbox publishing."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError

from infra.local.streams import as_lambda_record
from shared.inbox.events import InboundEnvelope, OrderReported, PaymentReported
from shared.inbox.store import InboxEntry, InboxRepository, InboxStatus, compress
from shared.orders.domain import OrderStatus
from shared.orders.store import OrderRepository
from shared.payments.parked import ParkedPayments
from shared.platform.clock import utc_now
from shared.platform.table import Table
from shared.providers.payments.stripe.simulator import StripeSimulator
from shared.stock.store import StockRepository
from tests.builders import FakeContext, a_payment, an_order
from tests.integration.conftest import Services


@pytest.fixture
def router_env(table: Table, monkeypatch: pytest.MonkeyPatch) -> Table:
    role = boto3.client("iam").create_role(RoleName="sfn", AssumeRolePolicyDocument="{}")
    machine = boto3.client("stepfunctions").create_state_machine(
        name="fulfilment",
        roleArn=role["Role"]["Arn"],
        definition=json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}}),
    )
    boto3.client("events").create_event_bus(Name="domain")
    boto3.client("s3").create_bucket(
        Bucket="documents", CreateBucketConfiguration={"LocationConstraint": "eu-central-1"}
    )
    monkeypatch.setenv("DOCUMENTS_BUCKET", "documents")
    monkeypatch.setenv("TABLE_NAME", table.name)
    monkeypatch.setenv("STATE_MACHINE_ARN", machine["stateMachineArn"])
    monkeypatch.setenv("EVENT_BUS_NAME", "domain")
    return table


def stream_records(table: Table) -> list[dict[str, Any]]:
    """Every record on the table's stream, in the shape Lambda delivers them."""
    streams = boto3.client("dynamodbstreams")
    arn = table.client.describe_table(TableName=table.name)["Table"]["LatestStreamArn"]
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]
    iterator = streams.get_shard_iterator(
        StreamArn=arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
    )["ShardIterator"]
    records = streams.get_records(ShardIterator=iterator)["Records"]
    return [as_lambda_record(dict(r), stream_arn=arn, region="eu-central-1") for r in records]


def accepted(
    inbox: InboxRepository, event_id: str, envelope: InboundEnvelope | None, source: str = "test"
) -> None:
    inbox.record(
        InboxEntry(
            source=source,
            event_id=event_id,
            topic="t",
            received_at=datetime.now(UTC),
            status=InboxStatus.ACCEPTED,
            raw_body=b"{}",
            envelope=envelope,
            event_kind="order",
        )
    )


def test_a_failing_record_is_reported_alone_and_the_rest_take_effect(router_env: Table) -> None:
    from functions.stream_router.handler import lambda_handler

    inbox = InboxRepository(router_env)
    order = an_order(("MUG", 1, 4900))
    accepted(inbox, "order-1", InboundEnvelope(event=OrderReported(order=order)))
    accepted(inbox, "mystery-1", None, source="nobody")  # no adapter reads it: a bug, loudly
    early_payment = a_payment(None, 4900, shopify_order="not-yet")
    accepted(inbox, "payment-1", InboundEnvelope(event=PaymentReported(payment=early_payment)))
    records = stream_records(router_env)

    result = lambda_handler({"Records": records}, FakeContext())

    failing = [
        r["dynamodb"]["SequenceNumber"]
        for r in records
        if r["dynamodb"]["Keys"]["PK"]["S"] == "INBOX#nobody#mystery-1"
    ]
    assert result == {"batchItemFailures": [{"itemIdentifier": failing[0]}]}
    executions = boto3.client("stepfunctions").list_executions(
        stateMachineArn=os.environ["STATE_MACHINE_ARN"]
    )["executions"]
    assert len(executions) == 1 and executions[0]["name"].startswith("ord_")
    # the payment whose order is not here yet waits, parked, instead of failing
    assert ParkedPayments(router_env).waiting_for("CHANNEL#shopify#not-yet") != []


def test_a_very_large_order_arrives_through_the_stream(router_env: Table) -> None:
    from functions.stream_router.handler import lambda_handler

    order = an_order(*[(f"SKU-{n:04d}", 1, 100) for n in range(1, 800)])
    accepted(
        InboxRepository(router_env), "big-1", InboundEnvelope(event=OrderReported(order=order))
    )

    result = lambda_handler({"Records": stream_records(router_env)}, FakeContext())

    assert result == {"batchItemFailures": []}
    found = OrderRepository(router_env).find_by_channel("shopify", order.external_id)
    assert found is not None


def test_timeline_entries_become_domain_events(router_env: Table) -> None:
    from functions.stream_router.handler import lambda_handler

    inbox = InboxRepository(router_env)
    StockRepository(router_env).set_on_hand("MUG-KRAKOW-350", "WAW-1", 5, at=utc_now())
    accepted(inbox, "order-1", InboundEnvelope(event=OrderReported(order=an_order())))
    lambda_handler({"Records": stream_records(router_env)}, FakeContext())
    timeline = [
        r
        for r in stream_records(router_env)
        if r["dynamodb"]["Keys"]["SK"]["S"].startswith("EVENT#")
    ]
    assert len(timeline) == 1

    published: list[dict[str, Any]] = []
    events = boto3.client("events")
    original = events.put_events

    def capture(**request: Any) -> Any:
        published.extend(request["Entries"])
        return original(**request)

    from shared.platform import aws

    client = aws.events()
    client.put_events = capture  # type: ignore[method-assign]
    result = lambda_handler({"Records": timeline}, FakeContext())

    assert result == {"batchItemFailures": []}
    (entry,) = published
    detail = json.loads(entry["Detail"])
    assert (entry["Source"], entry["DetailType"], entry["EventBusName"]) == (
        "orderhub.orders",
        "OrderReceived",
        "domain",
    )
    assert detail["event_id"].endswith("/1") and detail["schema_version"] == 1
    assert detail["status"] == "received"


def test_a_failing_delivery_is_listed_and_a_replay_processes_it_again(router_env: Table) -> None:
    from functions.stream_router.handler import lambda_handler

    inbox = InboxRepository(router_env)
    accepted(inbox, "paid-early", None, source="nobody")  # no adapter reads it
    delivery = [
        r
        for r in stream_records(router_env)
        if r["dynamodb"]["Keys"]["PK"]["S"] == "INBOX#nobody#paid-early"
    ]
    for _ in range(2):  # the first attempt and a retry; a batch failing whole raises
        with pytest.raises(BatchProcessingError):
            lambda_handler({"Records": delivery}, FakeContext())

    (failure,) = inbox.failures()
    assert (failure["source"], failure["event_id"], failure["attempts"]) == (
        "nobody",
        "paid-early",
        2,
    )
    assert failure["last_error"] == "UnknownProvider"  # the class, never the payload
    assert failure["expires_at"] > datetime.now(UTC).timestamp()

    seen = len(stream_records(router_env))
    assert inbox.replay("nobody", "paid-early")

    replayed = [
        r["eventName"]
        for r in stream_records(router_env)[seen:]
        if r["dynamodb"]["Keys"]["PK"]["S"] == "INBOX#nobody#paid-early"
    ]
    assert replayed == ["REMOVE", "INSERT"]  # the INSERT is what the stream router reacts to
    assert inbox.failures() == []
    assert inbox.get("nobody", "paid-early") is not None
    assert not inbox.replay("test", "never-stored")


def test_a_webhook_delivery_is_mapped_again_from_its_raw_body(router_env: Table) -> None:
    from functions.stream_router.handler import lambda_handler
    from shared.inbox.contract import Headers, WebhookRequest
    from shared.inbox.service import record
    from shared.providers.channels.shopify.simulator import ShopifySimulator
    from shared.providers.channels.shopify.webhook import ShopifyWebhooks
    from shared.providers.simulation import Line

    # GIVEN a Shopify delivery stored the way the webhook stores it: raw bytes, no envelope
    simulator = ShopifySimulator("secret")
    resource = simulator.order(5770012345, [Line("MUG", "Mug", 2, "49.00")])
    signed = simulator.webhook("orders/create", resource)
    inbox = InboxRepository(router_env)
    request = WebhookRequest(Headers(signed.headers), signed.body, received_at=datetime.now(UTC))
    record(ShopifyWebhooks(), request, inbox)
    stored = inbox.get("shopify", signed.headers["X-Shopify-Webhook-Id"])
    assert stored is not None and "envelope" not in stored and stored["kind"] == "order"

    # WHEN the stream delivers it
    result = lambda_handler({"Records": stream_records(router_env)}, FakeContext())

    # THEN the order exists as the webhook mapped it
    assert result == {"batchItemFailures": []}
    orders = OrderRepository(router_env)
    order_id = orders.find_by_channel("shopify", "5770012345")
    assert order_id is not None
    details = orders.details(order_id)
    assert details is not None and details.lines[0].quantity == 2


# -- provenance: a provider's function may write only INBOX#<its name>#* items (IAM), but every
# other attribute of them is its choice; none of them may make it speak for another provider.
def _awaiting_payment(services: Services, event_id: str) -> str:
    services.stock.set_on_hand("MUG", "WAW-1", 5, at=datetime.now(UTC))
    order_id = services.intake.receive(an_order(("MUG", 1, 4900)), actor="t", event_id=event_id)
    assert services.fulfilment.reserve_stock(order_id) == "awaiting_payment"
    return order_id


def _route_inbox_inserts(table: Table, before: int) -> dict[str, Any]:
    from functions.stream_router.handler import lambda_handler

    records = [
        r for r in stream_records(table)[before:] if r["dynamodb"]["Keys"]["SK"]["S"] == "INBOX"
    ]
    try:
        result: dict[str, Any] = lambda_handler({"Records": records}, FakeContext())
    except BatchProcessingError:
        return {"failed": True}
    return result


def test_a_canonical_envelope_written_under_a_providers_key_is_not_trusted(
    router_env: Table, services: Services
) -> None:
    # GIVEN an order waiting for payment, and an item the Shopify role may write, carrying a
    # ready-made Stripe payment as its canonical envelope beside an empty body
    order_id = _awaiting_payment(services, "e1")
    before = len(stream_records(router_env))
    InboxRepository(router_env).record(
        InboxEntry(
            source="shopify",
            event_id="forged-1",
            topic="orders/create",
            received_at=datetime.now(UTC),
            status=InboxStatus.ACCEPTED,
            raw_body=b"{}",
            envelope=InboundEnvelope(event=PaymentReported(payment=a_payment(order_id, 4900))),
            event_kind="payment",
        )
    )
    # WHEN the router reacts, THEN the bytes are mapped with Shopify's adapter (and fail), and
    # the order is not paid
    assert _route_inbox_inserts(router_env, before) == {"failed": True}
    state = services.orders.get(order_id)
    assert state is not None and state.status is OrderStatus.AWAITING_PAYMENT


def test_an_item_claiming_another_source_than_its_key_is_refused(
    router_env: Table, services: Services
) -> None:
    # GIVEN an unsigned Stripe payment stored under the Shopify key, claiming source "stripe"
    order_id = _awaiting_payment(services, "e2")
    stripe = StripeSimulator("whsec_not_the_real_one")
    signed = stripe.event("payment_intent.succeeded", stripe.payment_intent(order_id, 4900, "pln"))
    before = len(stream_records(router_env))
    now = datetime.now(UTC)
    router_env.put(
        {
            "PK": "INBOX#shopify#forged-2",
            "SK": "INBOX",
            "type": "inbox",
            "source": "stripe",
            "event_id": "forged-2",
            "topic": "payment_intent.succeeded",
            "status": "accepted",
            "kind": "payment",
            "received_at": now.isoformat(),
            "raw_zlib": compress(signed.body),
        }
    )
    # WHEN the router reacts, THEN it is a failure (listed, retried, dead-lettered) and the
    # order is not paid
    assert _route_inbox_inserts(router_env, before) == {"failed": True}
    state = services.orders.get(order_id)
    assert state is not None and state.status is OrderStatus.AWAITING_PAYMENT
    (failure,) = InboxRepository(router_env).failures()
    assert failure["last_error"].startswith("ForgedDelivery")


def test_a_malformed_polled_item_is_listed_with_the_failed_deliveries(router_env: Table) -> None:
    # GIVEN a polled item its adapter could not map, kept as malformed by the poller (which may
    # not write the failure list itself)
    before = len(stream_records(router_env))
    InboxRepository(router_env).record(
        InboxEntry(
            source="acmemarket",
            event_id="evt-9",
            topic="order.created",
            received_at=datetime.now(UTC),
            status=InboxStatus.MALFORMED,
            raw_body=b"not json",
            ignored_reason="body is not valid JSON",
        )
    )
    # WHEN the router sees it, THEN it is listed for a person, and nothing else happens
    assert _route_inbox_inserts(router_env, before) == {"batchItemFailures": []}
    (failure,) = InboxRepository(router_env).failures()
    assert (failure["source"], failure["event_id"], failure["failure"]) == (
        "acmemarket",
        "evt-9",
        "malformed",
    )
    assert failure["last_error"] == "malformed: body is not valid JSON"
