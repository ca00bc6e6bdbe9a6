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
from shared.fulfilment.wiring import fulfilment_service
from shared.inbox.store import InboxRepository
from shared.orders.intake import OrderIntake
from shared.orders.store import OrderRepository
from shared.orders.wiring import order_intake, order_store
from shared.payments.ports import PaymentRecordStore
from shared.payments.service import PaymentService
from shared.payments.wiring import payment_service
from shared.platform import aws
from shared.platform.blobs import MemoryBlobs
from shared.platform.table import Table
from shared.platform.wiring import Platform
from shared.platform.workflow import TaskTokenStore
from shared.stock.store import StockRepository
from shared.stock.wiring import stock_store
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
    records: PaymentRecordStore
    tokens: TaskTokenStore
    stock: StockRepository
    inbox: InboxRepository
    workflow: RecordingWorkflow
    payments: PaymentService
    intake: OrderIntake
    fulfilment: FulfilmentService


@pytest.fixture
def services(table: Table) -> Services:
    """The contexts built by their own composition roots, on moto, with a recording workflow."""
    workflow = RecordingWorkflow()
    platform = Platform(table=table, blobs=MemoryBlobs(), workflows=workflow)
    payments = payment_service(platform, accept_test_payments=False)
    fulfilment = fulfilment_service(platform, payments)
    return Services(
        table=table,
        orders=order_store(platform),
        # The instances the services hold, so a test can race them (monkeypatch a method).
        records=payments.records,
        tokens=fulfilment.tokens,
        stock=stock_store(platform),
        inbox=InboxRepository(table),
        workflow=workflow,
        payments=payments,
        intake=order_intake(platform, payments, payment_window_seconds=3600),
        fulfilment=fulfilment,
    )
