"""A provider of each ingress kind, added as one package plus registry entries and nothing else
(tests/fictional/acme), end to end on an embedded stack of its own: a signed webhook over HTTP, a
scheduled poll of the provider's API, and a notification sent to the provider's SQS queue through
the SQS API, each landing in the inbox exactly once however often it is delivered.

The stack runs in a child process: moto's backends and the embedded stack's patches are
process-wide, and in this process the session's stack (tests/conftest.py) owns them. The child
sets ORDERHUB_EXTRA_PROVIDERS before it synthesises (the fictional providers must be in the
template; infra/local/synth.py caches that template under its own fingerprint).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

import httpx

from shared.registry import EXTRA_PROVIDERS_ENV
from tests.fictional.acme import REFERENCE

ROOT = Path(__file__).resolve().parents[2]
T = TypeVar("T")


def test_a_webhook_a_poll_and_a_queue_message_each_land_in_the_inbox_once() -> None:
    # The parent's AWS settings point at its own stack's moto: the child starts its own.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "MOTO_"))}
    env |= {EXTRA_PROVIDERS_ENV: REFERENCE, "PYTHONPATH": str(ROOT)}
    child = subprocess.run(  # noqa: S603 - our interpreter running this module
        [sys.executable, "-c", f"import {__name__} as scenario; scenario.run()"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert child.returncode == 0, f"{child.stdout}\n{child.stderr}"
    assert "fictional providers: PASS" in child.stdout, child.stdout


# -- what the child runs -----------------------------------------------------------------------


def wait_for(probe: Callable[[], T], ready: Callable[[T], bool], timeout: float = 20) -> T:
    deadline = time.monotonic() + timeout
    value = probe()
    while not ready(value):
        assert time.monotonic() < deadline, f"still not ready after {timeout} s: {value!r}"
        time.sleep(0.05)
        value = probe()
    return value


def run() -> None:
    from infra.local.__main__ import banner
    from infra.local.stack import EmbeddedStack
    from infra.local.synth import synth_template

    assert os.environ.get(EXTRA_PROVIDERS_ENV) == REFERENCE
    with EmbeddedStack(synth_template(), gateway_port=0, log_level="ERROR") as stack:
        webhook_is_stored_once(stack)
        poll_is_stored_once(stack)
        queue_message_is_stored_once(stack)
        shown = banner(stack, 0.0)
        for expected in ("AcmePay", "/webhooks/payments/acmepay", "AcmeMarket", "polled every"):
            assert expected in shown, shown
        assert stack.queue_url("acmeparcel") in shown, shown
        assert not any(stack.dead_letter_depths().values()), stack.dead_letter_depths()
        assert not stack.errors.since(0), stack.errors.since(0)
    print("fictional providers: PASS")


def inbox(stack: Any, source: str) -> dict[str, str]:
    """event id -> status of every inbox item of `source`."""
    items = stack.client("dynamodb").scan(
        TableName=stack.table_name,
        FilterExpression="begins_with(PK, :prefix)",
        ExpressionAttributeValues={":prefix": {"S": f"INBOX#{source}#"}},
    )["Items"]
    return {item["event_id"]["S"]: item["status"]["S"] for item in items}


def webhook_is_stored_once(stack: Any) -> None:
    # GIVEN AcmePay's signed delivery
    delivery = stack.simulator("acmepay").payment("ord-acme-1", 4900, delivery_id="acme-d-1")
    with httpx.Client(base_url=stack.url, timeout=20) as http:
        # WHEN it arrives twice, and once tampered with
        first, again = delivery.send(http), delivery.send(http)
        tampered = delivery.tampered().send(http)
    # THEN it is recorded once (ignored: nothing maps Acme events), the forgery not at all
    assert (first.json()["status"], again.json()["status"]) == ("ignored", "duplicate")
    assert tampered.status_code == 401, tampered.text
    assert inbox(stack, "acmepay") == {"acme-d-1": "ignored"}


def poll_is_stored_once(stack: Any) -> None:
    market = stack.simulator("acmemarket")
    rule = stack.poll_schedule("acmemarket")

    def poll_runs(after: int) -> None:
        """Five minutes pass: EventBridge runs the poller (its invocation done, not only
        started: the next run may only come after it)."""
        stack.clock.advance(timedelta(minutes=5))
        wait_for(
            lambda: [r for r, _ in stack.scheduler.fired if r == rule], lambda f: len(f) > after
        )
        wait_for(
            lambda: [i for i in stack.runtime.invocations if "AcmemarketPoller" in i.function_name],
            lambda runs: len(runs) > after,
        )

    # GIVEN two orders in AcmeMarket's journal, the first of them journalled twice
    first, second = market.place_order("A-1"), market.place_order("A-2")
    market.repeat(first)
    # WHEN the schedule runs the poller, a third order arrives, and it runs again (AcmeMarket's
    # `since` is inclusive: the last event of the first run comes again)
    poll_runs(after=0)
    third = market.place_order("A-3")
    poll_runs(after=1)
    # THEN each event is in the inbox once, fetched over HTTP with the stack's token, from the
    # cursor the first run stored
    assert inbox(stack, "acmemarket") == {first: "ignored", second: "ignored", third: "ignored"}
    assert market.requests[0] == "/v1/order-events?limit=100", market.requests
    assert market.requests[1] == "/v1/order-events?limit=100&since=3", market.requests


def queue_message_is_stored_once(stack: Any) -> None:
    parcel = stack.simulator("acmeparcel")
    sqs, url = stack.client("sqs"), stack.queue_url("acmeparcel")
    # GIVEN AcmeParcel sends a notification twice (SQS and the sender are at-least-once) and
    # another once, and something that is no notification at all
    twice = parcel.notification("TRK-1", "IN_TRANSIT", notification_id="acme-n-1")
    parcel.send(sqs, url, twice)
    parcel.send(sqs, url, twice)
    parcel.send(sqs, url, parcel.notification("TRK-1", "DELIVERED", notification_id="acme-n-2"))
    garbage_id = parcel.send(sqs, url, "not a notification")
    # THEN the consumer stores each notification once, and keeps the garbage as malformed
    expected = {"acme-n-1": "ignored", "acme-n-2": "ignored", f"sqs-{garbage_id}": "malformed"}
    wait_for(lambda: inbox(stack, "acmeparcel"), lambda found: found == expected)
    # and the queue is left empty: every message was deleted once handled
    wait_for(
        lambda: sqs.get_queue_attributes(
            QueueUrl=url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"],
        lambda counts: set(counts.values()) == {"0"},
    )
