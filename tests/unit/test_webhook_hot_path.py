"""What the webhook's acknowledgement does instead of Powertools' decorators (decision 63)
writes what they wrote, and the shortcuts on its path change no answer."""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, datetime
from typing import Any

import pytest
from aws_lambda_powertools import Metrics
from aws_lambda_powertools.metrics import MetricUnit
from pydantic import ValidationError

from infra.local.lambda_runtime import ForegroundGate
from shared.inbox.route import first_invocation, lambda_fields
from shared.inbox.store import (
    MAX_ITEM_BYTES,
    BodyTooLargeToStore,
    InboxEntry,
    InboxRepository,
    InboxStatus,
)
from shared.kernel.money import Money
from shared.platform import emf


def powertools_line(capsys: pytest.CaptureFixture[str], name: str, source: str) -> dict[str, Any]:
    metrics = Metrics(namespace=emf.NAMESPACE)
    metrics.add_metric(name=name, unit=MetricUnit.Count, value=1)
    metrics.add_metadata(key="source", value=source)
    metrics.flush_metrics()
    line: dict[str, Any] = json.loads(capsys.readouterr().out)
    return line


def test_the_emf_line_is_the_one_powertools_writes(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "orderhub-webhook-shopify")
    monkeypatch.delenv("POWERTOOLS_METRICS_DISABLED", raising=False)
    monkeypatch.delenv("POWERTOOLS_DEV", raising=False)
    expected = powertools_line(capsys, "Webhook_accepted", "shopify")
    emf.emit_count("Webhook_accepted", source="shopify")
    ours = json.loads(capsys.readouterr().out)
    assert abs(ours["_aws"].pop("Timestamp") - expected["_aws"].pop("Timestamp")) < 5_000
    assert ours == expected


def test_a_percent_sign_does_not_break_the_template(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("POWERTOOLS_METRICS_DISABLED", raising=False)
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "100%")
    emf.emit_count("Webhook_rejected", source="a%db")
    line = json.loads(capsys.readouterr().out)
    assert (line["service"], line["source"], line["Webhook_rejected"]) == ("100%", "a%db", [1.0])


@pytest.mark.parametrize(
    ("disabled", "dev", "written"),
    [(None, None, True), ("true", None, False), ("false", "true", True), (None, "true", False)],
)
def test_the_switches_are_powertools_own(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    disabled: str | None,
    dev: str | None,
    written: bool,
) -> None:
    for name, value in (("POWERTOOLS_METRICS_DISABLED", disabled), ("POWERTOOLS_DEV", dev)):
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)
    from aws_lambda_powertools.metrics.functions import is_metrics_disabled

    assert emf.metrics_disabled() is is_metrics_disabled()
    emf.emit_count("Webhook_accepted", source="stripe")
    assert bool(capsys.readouterr().out) is written


def test_logged_lines_carry_the_lambda_context() -> None:
    class Context:
        function_name = "orderhub-webhook-stripe"
        memory_limit_in_mb = 512
        invoked_function_arn = "arn:aws:lambda:eu-central-1:123456789012:function:x"
        aws_request_id = "req-1"

    first_invocation()  # whatever ran before in this process
    assert first_invocation() is False
    assert lambda_fields(Context(), cold_start=False) == {
        "cold_start": False,
        "function_name": "orderhub-webhook-stripe",
        "function_memory_size": 512,
        "function_arn": "arn:aws:lambda:eu-central-1:123456789012:function:x",
        "function_request_id": "req-1",
    }
    assert lambda_fields(None, cold_start=True) == {}


class _Table:
    def __init__(self) -> None:
        self.items: list[dict[str, Any]] = []

    def put(self, item: dict[str, Any], condition: str | None = None) -> None:
        self.items.append(item)


def entry(raw: bytes, headers: dict[str, str]) -> InboxEntry:
    return InboxEntry(
        source="shopify",
        event_id="evt-1",
        topic="orders/create",
        received_at=datetime(2026, 12, 1, tzinfo=UTC),
        status=InboxStatus.ACCEPTED,
        raw_body=raw,
        headers=headers,
        event_kind="order",
    )


def test_an_item_past_the_limit_is_still_refused_without_the_exact_walk_for_small_ones() -> None:
    table = _Table()
    inbox = InboxRepository(table)  # type: ignore[arg-type]
    assert inbox.record(entry(b'{"id":1}', {"X-Shopify-Topic": "orders/create"}))
    huge_headers = {f"X-Header-{n}": "v" * 1000 for n in range(MAX_ITEM_BYTES // 1000 + 10)}
    with pytest.raises(BodyTooLargeToStore):
        inbox.record(entry(b'{"id":2}', huge_headers))
    assert len(table.items) == 1


@pytest.mark.parametrize(
    ("value", "currency"), [("409.94", "pln"), ("1000", "JPY"), ("0.125", "KWD"), ("-3.5", "EUR")]
)
def test_money_from_decimal_equals_the_validated_model(value: str, currency: str) -> None:
    made = Money.from_decimal(value, currency)
    validated = Money.model_validate(made.model_dump())
    assert made == validated
    assert made.model_dump_json() == validated.model_dump_json()
    assert (made + made).amount == 2 * made.amount
    assert made.times(3) == Money(amount=3 * made.amount, currency=made.currency)


@pytest.mark.parametrize("currency", ["PL", "PLNN", "P1N", "ŁŁŁ", ""])
def test_money_still_refuses_a_currency_that_is_no_code(currency: str) -> None:
    with pytest.raises(ValidationError):
        Money.from_decimal("1.00", currency)


def test_background_work_steps_aside_while_a_request_is_served_and_not_forever() -> None:
    gate = ForegroundGate()
    waited: list[float] = []

    def background() -> None:
        started = time.perf_counter()
        gate.step_aside(limit=5)
        waited.append(time.perf_counter() - started)

    with gate.serving():
        worker = threading.Thread(target=background)
        worker.start()
        time.sleep(0.2)
        assert worker.is_alive()  # still waiting for the request
    worker.join(timeout=5)
    assert 0.15 < waited[0] < 5

    started = time.perf_counter()
    with gate.serving():
        gate.step_aside(limit=0.05)  # a request that outlasts the limit holds nobody back
    assert time.perf_counter() - started < 1
    gate.step_aside()  # nothing in flight: no wait
