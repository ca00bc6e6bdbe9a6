"""The synthesised fulfilment state machine, executing in moto with the real task handlers.

Orders enter the way webhooks make them enter (an accepted inbox item on the table stream) or,
where a test needs a short payment window, by starting the execution directly.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta
from typing import Any

import pytest

from infra.local.stack import EmbeddedStack
from shared.fulfilment.service import FulfilmentService
from shared.fulfilment.wiring import fulfilment_service
from shared.inbox.events import InboundEnvelope, OrderReported, PaymentReported
from shared.inbox.store import InboxEntry, InboxRepository, InboxStatus
from shared.orders.domain import OrderStatus, PaymentMethod
from shared.orders.store import Change, OrderRepository
from shared.payments.events import OrderPaid
from shared.payments.wiring import payment_service
from shared.platform.clock import utc_now
from shared.platform.table import Table
from shared.platform.wiring import Platform
from shared.platform.workflow import StepFunctionsWorkflow, TaskTokens
from shared.stock.store import StockRepository
from tests.builders import a_payment, an_order, pln
from tests.conftest import eventually

SKU = "WORKFLOW-MUG"


@pytest.fixture(scope="module")
def stack(embedded: EmbeddedStack) -> EmbeddedStack:
    StockRepository(Table(embedded.table_name)).set_on_hand(SKU, "WAW-1", 1000, at=utc_now())
    return embedded


def orders(stack: EmbeddedStack) -> OrderRepository:
    return OrderRepository(Table(stack.table_name))


def deliver(stack: EmbeddedStack, event: OrderReported | PaymentReported) -> None:
    """What a webhook function does: one accepted inbox item; the stream does the rest."""
    InboxRepository(Table(stack.table_name)).record(
        InboxEntry(
            source="test",
            event_id=uuid.uuid4().hex,
            topic="test",
            received_at=utc_now(),
            status=InboxStatus.ACCEPTED,
            raw_body=b"{}",
            envelope=InboundEnvelope(event=event),
        )
    )


def order_id_of(stack: EmbeddedStack, external_id: str) -> str:
    return eventually(lambda: orders(stack).find_by_channel("shopify", external_id))  # type: ignore[return-value]


def status(stack: EmbeddedStack, order_id: str) -> OrderStatus | None:
    state = orders(stack).get(order_id)
    return state.status if state else None


def execution(stack: EmbeddedStack, order_id: str) -> dict[str, Any]:
    arn = f"{stack.state_machine_arn.replace(':stateMachine:', ':execution:')}:{order_id}"
    return stack.client("stepfunctions").describe_execution(executionArn=arn)  # type: ignore[no-any-return]


def finished(stack: EmbeddedStack, order_id: str) -> dict[str, Any]:
    return eventually(
        lambda: execution(stack, order_id), lambda e: e["status"] != "RUNNING", timeout=30
    )


def states_entered(stack: EmbeddedStack, order_id: str) -> list[str]:
    history = stack.client("stepfunctions").get_execution_history(
        executionArn=execution(stack, order_id)["executionArn"], maxResults=1000
    )["events"]
    return [
        e["stateEnteredEventDetails"]["name"] for e in history if "stateEnteredEventDetails" in e
    ]


def stored(
    stack: EmbeddedStack,
    *lines: tuple[str | None, int, int],
    received_at: datetime | None = None,
    **order: Any,
) -> str:
    """An order in the table (as intake stores it), its workflow not started yet."""
    return orders(stack).create(
        f"ord_{uuid.uuid4().hex}",
        an_order(*lines, **order),
        received_at=received_at or utc_now(),
        actor="test",
    )


def steps(stack: EmbeddedStack) -> FulfilmentService:
    """The workflow's steps, called directly (as the task Lambda would)."""
    platform = Platform(
        table=Table(stack.table_name),
        workflows=StepFunctionsWorkflow(stack.state_machine_arn),
    )
    return fulfilment_service(platform, payment_service(platform, accept_test_payments=False))


def waiting_token(stack: EmbeddedStack, order_id: str) -> str | None:
    return TaskTokens(Table(stack.table_name)).get(order_id, "payment")


def start(stack: EmbeddedStack, order_id: str, window_seconds: int) -> None:
    stack.client("stepfunctions").start_execution(
        stateMachineArn=stack.state_machine_arn,
        name=order_id,
        input=json.dumps({"order_id": order_id, "payment_window_seconds": window_seconds}),
    )


def test_the_state_machine_that_runs_is_the_one_cdk_synthesised(stack: EmbeddedStack) -> None:
    assert stack.deployer is not None
    (resource,) = (
        r
        for r in stack.template["Resources"].values()
        if r["Type"] == "AWS::StepFunctions::StateMachine"
    )
    synthesised = json.loads(
        stack.deployer.resolver.resolve(resource["Properties"]["DefinitionString"])
    )
    running = stack.client("stepfunctions").describe_state_machine(
        stateMachineArn=stack.state_machine_arn
    )
    assert json.loads(running["definition"]) == synthesised
    assert running["type"] == "STANDARD"
    assert synthesised["States"]["AwaitPayment"]["TimeoutSecondsPath"] == (
        "$.payment_window_seconds"
    )


def test_a_prepaid_order_waits_for_payment_then_is_ready_to_ship(stack: EmbeddedStack) -> None:
    order = an_order((SKU, 2, 4900))
    deliver(stack, OrderReported(order=order))
    order_id = order_id_of(stack, order.external_id)
    eventually(lambda: status(stack, order_id), lambda s: s is OrderStatus.AWAITING_PAYMENT)
    eventually(lambda: waiting_token(stack, order_id))

    deliver(stack, PaymentReported(payment=a_payment(order_id, 9800)))

    assert finished(stack, order_id)["status"] == "SUCCEEDED"
    assert status(stack, order_id) is OrderStatus.READY_TO_SHIP
    assert states_entered(stack, order_id) == [
        "ReserveStock",
        "Route",
        "AwaitPayment",
        "MarkReadyToShip",
        "HeldForReview",
        "Shippable",
    ]


def test_an_unpaid_order_times_out_releases_its_stock_and_is_cancelled(
    stack: EmbeddedStack,
) -> None:
    stock = StockRepository(Table(stack.table_name))
    reserved_before = sum(level.reserved for level in stock.levels(SKU))
    order_id = stored(stack, (SKU, 3, 4900))

    start(stack, order_id, window_seconds=1)

    assert finished(stack, order_id)["status"] == "SUCCEEDED"
    assert states_entered(stack, order_id) == [
        "ReserveStock",
        "Route",
        "AwaitPayment",
        "PaymentTimedOut",
        "Compensate",
        "AfterCompensation",
        "CancelledUnpaid",
    ]
    state = orders(stack).get(order_id)
    assert state is not None and state.status is OrderStatus.CANCELLED
    assert state.status_reason == "payment_timeout"
    assert sum(level.reserved for level in stock.levels(SKU)) == reserved_before


def test_an_order_without_stock_ends_backordered(stack: EmbeddedStack) -> None:
    order_id = stored(stack, ("NOT-IN-STOCK", 1, 100))
    start(stack, order_id, window_seconds=60)
    assert finished(stack, order_id)["status"] == "SUCCEEDED"
    assert states_entered(stack, order_id) == ["ReserveStock", "Route", "Backordered"]
    assert status(stack, order_id) is OrderStatus.BACKORDERED


def test_cash_on_delivery_goes_straight_to_ready_to_ship(stack: EmbeddedStack) -> None:
    order_id = stored(stack, (SKU, 1, 4900), payment_method=PaymentMethod.CASH_ON_DELIVERY)
    start(stack, order_id, window_seconds=60)
    assert finished(stack, order_id)["status"] == "SUCCEEDED"
    assert states_entered(stack, order_id) == ["ReserveStock", "Route", "ReadyToShip"]


def test_a_step_that_fails_for_good_is_compensated_and_the_execution_fails(
    stack: EmbeddedStack,
) -> None:
    repo = orders(stack)
    order_id = stored(stack, (SKU, 1, 4900))
    start(stack, order_id, window_seconds=120)
    token = eventually(lambda: waiting_token(stack, order_id))
    # The wait ends without a payment (a bug, or a hand-made resume): MarkReadyToShip meets an
    # unpaid order (InvalidTransition, not retried).
    StepFunctionsWorkflow(stack.state_machine_arn).resume(str(token), {"order_id": order_id})

    outcome = finished(stack, order_id)
    assert outcome["status"] == "FAILED"
    assert states_entered(stack, order_id)[-5:] == [
        "MarkReadyToShip",
        "StepFailed",
        "Compensate",
        "AfterCompensation",
        "FulfilmentFailed",
    ]
    final = repo.get(order_id)
    assert final is not None and final.reservations == ()


def test_an_order_cancelled_while_its_workflow_waits_ends_the_workflow_cleanly(
    stack: EmbeddedStack,
) -> None:
    repo = orders(stack)
    order_id = stored(stack, (SKU, 1, 4900))
    start(stack, order_id, window_seconds=120)
    token = eventually(lambda: waiting_token(stack, order_id))
    # The shop (or its channel) cancels it while it waits for the payment; the wait then ends.
    steps(stack).cancel(order_id, "cancelled by the shop")
    StepFunctionsWorkflow(stack.state_machine_arn).resume(str(token), {"order_id": order_id})

    assert finished(stack, order_id)["status"] == "SUCCEEDED"
    assert states_entered(stack, order_id)[-3:] == [
        "MarkReadyToShip",
        "HeldForReview",
        "CancelledOnChannel",
    ]
    final = repo.get(order_id)
    assert final is not None and final.reservations == ()


def test_reserve_stock_failing_for_good_never_cancels_an_order_whose_money_arrived(
    stack: EmbeddedStack,
) -> None:
    # GIVEN an order whose payment was recorded before ReserveStock ran (still `received`)
    repo = orders(stack)
    order_id = stored(stack, (SKU, 1, 4900))
    steps(stack).payments.report(a_payment(order_id, 4900), actor="stripe webhook")
    # AND ReserveStock will fail for good (its order's details are gone)
    stack.client("dynamodb").delete_item(
        TableName=stack.table_name,
        Key={"PK": {"S": f"ORDER#{order_id}"}, "SK": {"S": "DETAILS"}},
    )
    # WHEN the workflow runs and compensates
    start(stack, order_id, window_seconds=120)
    outcome = finished(stack, order_id)
    # THEN the order is not cancelled: it needs a person (ship or refund), and the run fails
    assert outcome["status"] == "FAILED"
    assert "Compensate" in states_entered(stack, order_id)
    final = repo.get(order_id)
    assert final is not None and final.status is OrderStatus.RECEIVED
    assert final.attention is not None and final.attention.endswith("_money_received")


def test_the_reconciler_restarts_an_order_whose_workflow_never_started(
    stack: EmbeddedStack,
) -> None:
    assert stack.scheduler is not None
    order_id = stored(stack, (SKU, 1, 4900), received_at=utc_now() - timedelta(minutes=20))
    rule = stack.schedule_of("OrdersReconcileSchedule")
    before = sum(1 for fired, _ in stack.scheduler.fired if fired == rule)
    stack.clock.advance(timedelta(minutes=15))

    stack.scheduler.tick()

    # (the scheduler's own thread may have fired it first: either tick counts)
    assert sum(1 for fired, _ in stack.scheduler.fired if fired == rule) > before
    eventually(lambda: status(stack, order_id), lambda s: s is OrderStatus.AWAITING_PAYMENT)


def test_a_record_that_keeps_failing_is_retried_then_dead_lettered(
    stack: EmbeddedStack,
) -> None:
    # A delivery from a source no adapter reads: a bug that fails on every attempt.
    InboxRepository(Table(stack.table_name)).record(
        InboxEntry(
            source="nobody",
            event_id=uuid.uuid4().hex,
            topic="test",
            received_at=utc_now(),
            status=InboxStatus.ACCEPTED,
            raw_body=b"{}",
            event_kind="payment",
        )
    )

    sqs = stack.client("sqs")
    url = next(u for u in sqs.list_queues()["QueueUrls"] if "StreamDLQ" in u)
    messages = eventually(lambda: sqs.receive_message(QueueUrl=url).get("Messages", []), timeout=30)
    body = json.loads(messages[0]["Body"])
    assert body["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert body["requestContext"]["approximateInvokeCount"] == 9  # first try + 8 retries
    assert body["DDBStreamBatchInfo"]["batchSize"] == 1
    sqs.delete_message(QueueUrl=url, ReceiptHandle=messages[0]["ReceiptHandle"])


def test_domain_events_reach_the_event_bus(stack: EmbeddedStack) -> None:
    events, sqs = stack.client("events"), stack.client("sqs")
    queue = sqs.create_queue(QueueName="event-tap")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    events.put_rule(
        Name="tap",
        EventBusName=stack.event_bus_name,
        EventPattern=json.dumps({"source": ["orderhub.orders"]}),
    )
    events.put_targets(
        Rule="tap", EventBusName=stack.event_bus_name, Targets=[{"Id": "q", "Arn": queue_arn}]
    )
    order = an_order((SKU, 1, 4900))

    deliver(stack, OrderReported(order=order))
    order_id = order_id_of(stack, order.external_id)

    def received_types() -> list[str]:
        found = []
        for message in sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get(
            "Messages", []
        ):
            event = json.loads(message["Body"])
            if event["detail"]["order_id"] == order_id:
                found.append(event["detail-type"])
        return found

    seen: list[str] = []

    def collected() -> set[str]:
        seen.extend(received_types())
        return set(seen)

    eventually(collected, lambda types: {"OrderReceived", "StockReserved"} <= types)


def test_a_payment_that_beats_the_deadline_carries_the_order_to_ready_to_ship(
    stack: EmbeddedStack,
) -> None:
    repo = orders(stack)
    order_id = stored(stack, (SKU, 1, 4900))
    start(stack, order_id, window_seconds=2)
    assert stack.runtime is not None
    runtime = stack.runtime

    def parked() -> bool:  # the await_payment task has returned: the workflow now waits
        return any(
            i.event.get("task") == "await_payment" and i.event.get("order_id") == order_id
            for i in list(runtime.invocations)
        )

    eventually(parked)
    # The payment lands at the last moment: the order is paid, but the resume never reaches
    # the workflow before its timeout fires.
    state = repo.get(order_id)
    assert state is not None
    repo.apply(
        state,
        Change(
            event=OrderPaid(provider="stripe", payment_id="pi_late", amount=pln(4900)),
            to_status=OrderStatus.PAID,
            actor="test",
            at=utc_now(),
        ),
    )

    assert finished(stack, order_id)["status"] == "SUCCEEDED"
    assert states_entered(stack, order_id)[-7:] == [
        "AwaitPayment",
        "PaymentTimedOut",
        "Compensate",
        "AfterCompensation",
        "MarkReadyToShip",
        "HeldForReview",
        "Shippable",
    ]
    assert status(stack, order_id) is OrderStatus.READY_TO_SHIP


def test_an_order_paid_before_its_workflow_started_goes_straight_to_ready_to_ship(
    stack: EmbeddedStack,
) -> None:
    order_id = stored(stack, (SKU, 1, 4900))
    fulfilment = steps(stack)
    fulfilment.reserve_stock(order_id)
    fulfilment.payments.report(a_payment(order_id, 4900), actor="test")  # paid; nothing waits

    start(stack, order_id, window_seconds=60)

    assert finished(stack, order_id)["status"] == "SUCCEEDED"
    assert states_entered(stack, order_id) == [
        "ReserveStock",
        "Route",
        "MarkReadyToShip",
        "HeldForReview",
        "Shippable",
    ]
