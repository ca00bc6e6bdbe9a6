"""The payments context's composition root: its stores and services."""

from __future__ import annotations

from shared.orders.wiring import order_store
from shared.payments.gateways import GatewayLookup, Gateways
from shared.payments.parked import ParkedPayments
from shared.payments.refunds import RefundRecords, RefundService
from shared.payments.service import PaymentService
from shared.payments.sessions import SessionRecords, SessionService
from shared.payments.store import PaymentRecords
from shared.platform.settings import Settings
from shared.platform.wiring import Platform
from shared.platform.workflow import TaskTokens
from shared.registry import provider


class GatewaySettings(Settings):
    """What a function that calls payment providers reads: which secrets hold their keys,
    and the stack's public URL (the providers' notification addresses are our webhooks)."""

    # JSON: provider name -> Secrets Manager secret id (ids, not secrets)
    payment_secret_ids: str = "{}"  # noqa: S105
    public_url: str = ""


def gateways_of(settings: GatewaySettings) -> Gateways:
    return Gateways.from_json(settings.payment_secret_ids)


def notify_urls(public_url: str):  # type: ignore[no-untyped-def]
    """provider -> the webhook URL its notifications go to."""
    base = public_url.rstrip("/")

    def notify_url(name: str) -> str:
        return f"{base}{provider(name).path or ''}"

    return notify_url


def payment_service(
    platform: Platform, *, accept_test_payments: bool, gateways: GatewayLookup | None = None
) -> PaymentService:
    return PaymentService(
        # The orders context's store is its public face to payments: read an order, apply a
        # change, flag money received. Payment records are this context's own items.
        orders=order_store(platform),
        records=PaymentRecords(platform.table),
        parked=ParkedPayments(platform.table),
        tokens=TaskTokens(platform.table),
        workflow=platform.workflow,
        accept_test_payments=accept_test_payments,
        gateways=gateways,
        sessions=SessionRecords(platform.table),
    )


def session_service(platform: Platform, gateways: GatewayLookup, public_url: str) -> SessionService:
    return SessionService(
        orders=order_store(platform),
        records=PaymentRecords(platform.table),
        sessions=SessionRecords(platform.table),
        gateways=gateways,
        notify_url=notify_urls(public_url),
    )


def refund_service(platform: Platform, gateways: GatewayLookup, public_url: str) -> RefundService:
    return RefundService(
        orders=order_store(platform),
        payments=PaymentRecords(platform.table),
        refunds=RefundRecords(platform.table),
        gateways=gateways,
        notify_url=notify_urls(public_url),
    )
