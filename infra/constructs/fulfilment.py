"""The fulfilment workflow (Standard: it waits days for payment) and its task function.

ReserveStock -> Route -> [prepaid] AwaitPayment (task token; the order's payment window as its
timeout) -> MarkReadyToShip. When the window closes, or a step fails for good, Compensate undoes
what is right to undo: an unpaid order is cancelled and its stock released in one change; a
payment that beat the deadline carries the order on; an order whose money was taken is left
for a person (OrderNeedsAttention) and the execution ends in FulfilmentFailed, which alarms.
Later steps (invoice, shipment) slot in after MarkReadyToShip.
"""

from __future__ import annotations

from aws_cdk import ArnFormat, Duration, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from infra.config import StageConfig
from infra.constructs.monitoring import Monitoring
from infra.constructs.storage import Storage
from infra.lambda_factory import RETENTION, PythonFunction
from infra.nag import acknowledge_evidence

# Errors worth another attempt: lost races and AWS hiccups, named as the task reports them
# (a Lambda error's name is the exception's class name: botocore raises one class per AWS
# error code). Every step is idempotent, so a timed-out or crashed attempt is retried too.
# Domain errors such as InvalidTransition or OrderNotFound are permanent: no retry.
TRANSIENT_ERRORS = [
    "ConcurrentModification",
    "StockContention",
    "ProvisionedThroughputExceededException",
    "ThrottlingException",
    "RequestLimitExceeded",
    "InternalServerError",
    "TransactionInProgressException",
    "EndpointConnectionError",
    "ConnectTimeoutError",
    "ReadTimeoutError",
    "ConnectionClosedError",
    "Lambda.TooManyRequestsException",
    "Lambda.Unknown",
    "Sandbox.Timedout",
]


# What the steps do to the table: read, conditional writes and transactions, partition queries.
ORDER_STEP_ACTIONS = (
    "GetItem",
    "Query",
    "PutItem",
    "UpdateItem",
    "DeleteItem",
    "ConditionCheckItem",
)


def _task_input(task: str, **fields: str) -> sfn.TaskInput:
    return sfn.TaskInput.from_object({"task": task, **fields})


class Fulfilment(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: StageConfig,
        storage: Storage,
        monitoring: Monitoring,
    ) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        # Named, so functions can be given its ARN without a dependency cycle (the state
        # machine's definition already depends on the task function).
        self.state_machine_name = f"{stack.stack_name}-fulfilment"
        self.state_machine_arn = stack.format_arn(
            service="states",
            resource="stateMachine",
            resource_name=self.state_machine_name,
            arn_format=ArnFormat.COLON_RESOURCE_NAME,
        )
        self.task_function = PythonFunction(
            self,
            "Tasks",
            handler="functions.workflow.fulfilment.lambda_handler",
            description="Fulfilment workflow steps: reserve, await payment, ready, compensate",
            config=config,
            timeout=Duration.seconds(30),
            environment={
                "TABLE_NAME": storage.table.table_name,
                "STATE_MACHINE_ARN": self.state_machine_arn,
                "DOCUMENTS_BUCKET": storage.documents.bucket_name,
                "ACCEPT_TEST_PAYMENTS": str(config.accept_test_payments).lower(),
            },
        )
        fn = self.task_function.function
        storage.grant_items(fn, *ORDER_STEP_ACTIONS)
        storage.grant_order_documents(fn, write=False)
        self.grant_task_response(fn)

        definition = self._definition(fn)
        self.state_machine = sfn.StateMachine(
            self,
            "StateMachine",
            state_machine_name=self.state_machine_name,
            state_machine_type=sfn.StateMachineType.STANDARD,
            definition_body=sfn.DefinitionBody.from_chainable(definition),
            tracing_enabled=True,
            logs=sfn.LogOptions(
                destination=logs.LogGroup(
                    self,
                    "ExecutionLogs",
                    retention=RETENTION.get(
                        config.log_retention_days, logs.RetentionDays.ONE_MONTH
                    ),
                ),
                level=sfn.LogLevel.ALL,
                include_execution_data=False,  # execution data holds buyer details
            ),
        )
        monitoring.alarm(
            "ExecutionsFailed",
            self.state_machine.metric_failed(period=Duration.minutes(5), statistic="Sum"),
            description="A fulfilment execution failed after compensation: order needs a human.",
        )

    def grant_task_response(self, grantee: iam.IGrantable) -> None:
        iam.Grant.add_to_principal(
            grantee=grantee,
            actions=[
                "states:SendTaskSuccess",
                "states:SendTaskFailure",
                "states:SendTaskHeartbeat",
            ],
            resource_arns=[self.state_machine_arn],
        )

    def grant_describe_executions(self, function: PythonFunction) -> None:
        """Lets a function ask whether an order's execution exists (executions are named after
        orders, so the grant covers this state machine's executions, and only those)."""
        stack = Stack.of(self)
        executions = stack.format_arn(
            service="states",
            resource="execution",
            resource_name=f"{self.state_machine_name}:*",
            arn_format=ArnFormat.COLON_RESOURCE_NAME,
        )
        iam.Grant.add_to_principal(
            grantee=function.function,
            actions=["states:DescribeExecution"],
            resource_arns=[executions],
        )
        evidence = (
            "IAM5[Resource::arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:"
            f"execution:{self.state_machine_name}:*]"
        )
        acknowledge_evidence(
            function,
            evidence,
            "DescribeExecution on this state machine's executions only; their names are "
            "order ids, not known in advance.",
        )

    def _task(
        self, state_id: str, fn: object, task: str, *, result_path: str, **fields: str
    ) -> tasks.LambdaInvoke:
        step = tasks.LambdaInvoke(
            self,
            state_id,
            lambda_function=fn,  # type: ignore[arg-type]
            payload=_task_input(task, order_id=sfn.JsonPath.string_at("$.order_id"), **fields),
            payload_response_only=True,
            result_path=result_path,
            retry_on_service_exceptions=True,
        )
        return _retry_transient(step)

    def _await_payment(self, fn: object, state_id: str, window_path: str) -> tasks.LambdaInvoke:
        """Wait for the order's money (a task token the payment path resumes), at most the
        seconds at `window_path`."""
        return self._await_token(
            fn,
            state_id,
            "await_payment",
            "$.payment",
            timeout=sfn.Timeout.at(window_path),
            window_seconds=sfn.JsonPath.string_at(window_path),
        )

    def _await_release(self, fn: object, state_id: str) -> tasks.LambdaInvoke:
        """Wait for a person's release of a held order (a task token POST .../release
        resumes; no timeout: a hold lasts until someone decides)."""
        return self._await_token(fn, state_id, "await_release", "$.release")

    def _await_token(
        self,
        fn: object,
        state_id: str,
        action: str,
        result_path: str,
        *,
        timeout: sfn.Timeout | None = None,
        **extra: str,
    ) -> tasks.LambdaInvoke:
        """A task that parks its token with the order and waits until something resumes it."""
        return _retry_transient(
            tasks.LambdaInvoke(
                self,
                state_id,
                lambda_function=fn,  # type: ignore[arg-type]
                integration_pattern=sfn.IntegrationPattern.WAIT_FOR_TASK_TOKEN,
                payload=_task_input(
                    action,
                    order_id=sfn.JsonPath.string_at("$.order_id"),
                    task_token=sfn.JsonPath.task_token,
                    **extra,
                ),
                task_timeout=timeout,
                result_path=result_path,
            )
        )

    def _definition(self, fn: object) -> sfn.IChainable:
        failed = sfn.Fail(
            self,
            "FulfilmentFailed",
            error="FulfilmentFailed",
            cause="A step failed for good: unpaid orders were cancelled, paid ones need a person",
        )
        compensate = self._task(
            "Compensate",
            fn,
            "compensate",
            result_path="$.compensation",
            reason=sfn.JsonPath.string_at("$.cancellation.reason"),
        )
        compensate.add_catch(failed, errors=["States.ALL"], result_path="$.error")
        ready = self._task("MarkReadyToShip", fn, "mark_ready_to_ship", result_path="$.ready")
        # A held order (a high-risk payment) waits for a person's release, then comes back.
        await_release = self._await_release(fn, "AwaitRelease")
        ready.next(
            sfn.Choice(self, "HeldForReview")
            .when(sfn.Condition.string_equals("$.ready.status", "held"), await_release.next(ready))
            # Cancelled on its channel while it waited (stock and money given back there).
            .when(
                sfn.Condition.string_equals("$.ready.status", "cancelled"),
                sfn.Succeed(self, "CancelledOnChannel"),
            )
            .otherwise(sfn.Succeed(self, "Shippable"))
        )
        # A B2B order on bank transfer whose payment window closed before its due date waits
        # on until the due date (the payment wait again, with the time left as its timeout).
        await_transfer = self._await_payment(fn, "AwaitTransfer", "$.compensation.wait_seconds")
        compensation = compensate.next(
            sfn.Choice(self, "AfterCompensation")
            .when(sfn.Condition.string_equals("$.compensation.outcome", "paid"), ready)
            .when(
                sfn.Condition.string_equals("$.compensation.outcome", "waiting"),
                await_transfer.next(ready),
            )
            .when(
                sfn.Condition.and_(
                    sfn.Condition.string_equals("$.compensation.outcome", "cancelled"),
                    sfn.Condition.string_equals("$.cancellation.reason", "payment_timeout"),
                ),
                sfn.Succeed(self, "CancelledUnpaid"),
            )
            .otherwise(failed)
        )
        on_step_failure = sfn.Pass(
            self,
            "StepFailed",
            parameters={"reason": "step_failed", "error.$": "$.error.Error"},
            result_path="$.cancellation",
        ).next(compensation)

        reserve = self._task("ReserveStock", fn, "reserve_stock", result_path="$.reservation")
        # Lines with unknown SKUs: wait for the shop to map them and release the order (the
        # same task-token wait a held payment uses), then reserve again.
        await_mapping = self._await_release(fn, "AwaitSkuMapping")
        await_payment = self._await_payment(fn, "AwaitPayment", "$.payment_window_seconds")
        await_payment.add_catch(
            sfn.Pass(
                self,
                "PaymentTimedOut",
                result=sfn.Result.from_object({"reason": "payment_timeout"}),
                result_path="$.cancellation",
            ).next(compensation),
            errors=["States.Timeout"],
            result_path="$.error",  # keep the input (order_id) beside the error
        )
        await_transfer.add_catch(
            sfn.Pass(
                self,
                "TransferDue",
                result=sfn.Result.from_object({"reason": "payment_timeout"}),
                result_path="$.cancellation",
            ).next(compensation),
            errors=["States.Timeout"],
            result_path="$.error",
        )
        for step in (reserve, await_payment, ready, await_release, await_transfer, await_mapping):
            step.add_catch(on_step_failure, errors=["States.ALL"], result_path="$.error")

        ready_to_ship = sfn.Succeed(self, "ReadyToShip")
        route = (
            sfn.Choice(self, "Route")
            .when(
                sfn.Condition.string_equals("$.reservation.status", "awaiting_payment"),
                await_payment.next(ready),
            )
            .when(
                sfn.Condition.string_equals("$.reservation.status", "ready_to_ship"), ready_to_ship
            )
            # A retried reservation whose first attempt worked, and the payment came meanwhile.
            .when(sfn.Condition.string_equals("$.reservation.status", "paid"), ready)
            .when(
                sfn.Condition.string_equals("$.reservation.status", "backordered"),
                sfn.Succeed(self, "Backordered"),
            )
            .when(
                sfn.Condition.string_equals("$.reservation.status", "held"),
                await_mapping.next(reserve),
            )
            .otherwise(sfn.Succeed(self, "AlreadyDecided"))
        )
        return reserve.next(route)


def _retry_transient(step: tasks.LambdaInvoke) -> tasks.LambdaInvoke:
    step.add_retry(
        errors=TRANSIENT_ERRORS,
        interval=Duration.seconds(1),
        max_attempts=6,
        backoff_rate=2,
        jitter_strategy=sfn.JitterType.FULL,
    )
    return step
