"""Integration tests: the real repositories and services against moto's DynamoDB, in-process.

The table is created from the synthesised template's own definition, so keys, indexes and the
stream are exactly what deploys.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from moto import mock_aws

from infra.local.deployer import Deployer
from infra.local.template import resources_of_type
from shared.fulfilment.service import FulfilmentService
from shared.inbox.store import InboxRepository
from shared.orders.intake import OrderIntake
from shared.orders.store import OrderRepository
from shared.payments.parked import ParkedPayments
from shared.payments.service import PaymentService
from shared.platform import aws
from shared.platform.blobs import MemoryBlobs
from shared.platform.table import Table
from shared.stock.store import StockRepository
from tests.unit.fakes import FakeWorkflow

REGION = "eu-central-1"


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_REGION", REGION)
    # botocore otherwise sends DynamoDB Streams calls to an account endpoint moto lacks.
    monkeypatch.setenv("AWS_ACCOUNT_ID_ENDPOINT_MODE", "disabled")
    with mock_aws():
        aws.reset_clients()
        yield
    aws.reset_clients()


@pytest.fixture
def table(aws_env: None, template: dict[str, Any]) -> Table:
    deployer = Deployer(
        template,
        boto3.Session(region_name=REGION),
        endpoint=None,
        region=REGION,
        account="123456789012",
        stack_name="orderhub-test",
    )
    logical = next(
        iter(k for k in resources_of_type(template, "AWS::DynamoDB::Table") if "StorageTable" in k)
    )
    return Table(deployer.ensure(logical).ref)


# The same fake Step Functions the unit tests use (one execution per name, tokens once).
RecordingWorkflow = FakeWorkflow


@dataclass
class Services:
    table: Table
    orders: OrderRepository
    stock: StockRepository
    inbox: InboxRepository
    workflow: RecordingWorkflow
    payments: PaymentService
    intake: OrderIntake
    fulfilment: FulfilmentService


@pytest.fixture
def services(table: Table) -> Services:
    orders = OrderRepository(table, blobs=MemoryBlobs())
    stock = StockRepository(table)
    workflow = RecordingWorkflow()
    payments = PaymentService(orders=orders, workflow=workflow, parked=ParkedPayments(table))
    return Services(
        table=table,
        orders=orders,
        stock=stock,
        inbox=InboxRepository(table),
        workflow=workflow,
        payments=payments,
        intake=OrderIntake(
            orders=orders, workflow=workflow, payments=payments, payment_window_seconds=3600
        ),
        fulfilment=FulfilmentService(orders=orders, stock=stock, payments=payments),
    )
