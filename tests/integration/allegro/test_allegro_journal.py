"""Allegro's order journal over real HTTP on 127.0.0.1: the registry's poller against the
simulator's API (OAuth and the order resources), each delivery parsed as the inbox stores it."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from shared.inbox.contract import Headers, ParsedWebhook, PollResult, WebhookRequest
from shared.orders.domain import ChannelStatus, PickupPoint
from shared.orders.inbound import OrderReported
from shared.providers.channels.allegro.api import MEDIA_TYPE, Pacer
from shared.providers.channels.allegro.journal import (
    EVENT_TYPES,
    FROM_THE_START,
    AllegroOrderJournal,
)
from shared.providers.channels.allegro.simulator import AllegroSimulator
from shared.providers.simulation import Line
from tests.integration.allegro.conftest import ALLEGRO, MUG

TEA = Line("TEA-EARL-100", "Herbata Earl Grey", 1, "19.99", vat_rate="0.05")


@pytest.fixture
def journal() -> AllegroOrderJournal:
    return AllegroOrderJournal(pacer=Pacer(0.001))


def poll(
    journal: AllegroOrderJournal, secret: dict[str, str], cursor: str | None, http: httpx.Client
) -> PollResult:
    """One poll, storing the rotated tokens back as the poll function does."""
    result = journal.poll(secret, cursor, http)
    secret.update(result.secret_update or {})
    return result


def parse(journal: AllegroOrderJournal, result: PollResult) -> list[ParsedWebhook]:
    return [
        journal.parse(WebhookRequest(Headers(d.headers), d.raw_body, datetime.now(UTC)))
        for d in result.deliveries
    ]


def api_requests(simulator: AllegroSimulator, path: str) -> list[dict[str, Any]]:
    return [r for r in simulator.requests if r["path"] == path]


def test_the_registry_names_the_journal_and_the_first_poll_starts_from_now(
    simulator: AllegroSimulator, secret: dict[str, str], http: httpx.Client
) -> None:
    # Given orders placed before orderhub was connected
    simulator.buy([MUG])
    latest = simulator.events()[-1]["id"]
    # When the registry's poller polls without a cursor
    result = poll(ALLEGRO.load_adapter(), secret, None, http)
    # Then it starts at the latest event: nothing from before is imported
    assert result.deliveries == ()
    assert result.cursor == latest
    assert result.more is False
    (stats,) = api_requests(simulator, "/order/event-stats")
    assert stats["method"] == "GET"
    assert stats["headers"]["accept"] == MEDIA_TYPE
    assert stats["headers"]["authorization"].startswith("Bearer ")
    assert api_requests(simulator, "/order/events") == []


def test_the_first_poll_rotates_the_refresh_token_and_returns_it_to_store(
    simulator: AllegroSimulator, secret: dict[str, str], http: httpx.Client
) -> None:
    result = AllegroOrderJournal(pacer=Pacer(0)).poll(secret, None, http)
    assert result.secret_update is not None
    assert result.secret_update["refresh_token"] != "rt-login"
    assert simulator.live_refresh_tokens() == {result.secret_update["refresh_token"]}
    assert {"access_token", "access_token_expires_at"} <= set(result.secret_update)


def test_a_poll_from_the_cursor_delivers_each_event_with_its_form(
    simulator: AllegroSimulator,
    secret: dict[str, str],
    http: httpx.Client,
    journal: AllegroOrderJournal,
) -> None:
    # Given the cursor after an earlier order, then a buyer buys two items for an InPost
    # locker and pays
    simulator.buy([TEA])
    cursor = poll(journal, secret, None, http).cursor
    form_id = simulator.buy([MUG, TEA], pickup_point="KRA01M")
    # When the journal is polled from the cursor
    result = poll(journal, secret, cursor, http)
    # Then the request has Allegro's shape: from (exclusive), the types, a page of 100
    (events,) = api_requests(simulator, "/order/events")
    assert events["query"]["from"] == [cursor]
    assert events["query"]["limit"] == ["100"]
    assert events["query"]["type"] == list(EVENT_TYPES)
    # and the form was read once for its three events
    assert len(api_requests(simulator, f"/order/checkout-forms/{form_id}")) == 1
    assert [d.topic for d in result.deliveries] == ["BOUGHT", "FILLED_IN", "READY_FOR_PROCESSING"]
    assert [d.event_id for d in result.deliveries] == [e["id"] for e in simulator.events()[-3:]]
    assert result.cursor == result.deliveries[-1].event_id
    assert result.more is False
    # and each parses to the order as the form is now (one revision)
    parsed = parse(journal, result)
    orders = [p.event.order for p in parsed if isinstance(p.event, OrderReported)]
    assert len(orders) == 3
    assert len({o.revision for o in orders}) == 1
    order = orders[-1]
    assert order.external_id == form_id
    assert [(line.sku, line.quantity) for line in order.lines] == [
        ("MUG-KRAKOW-350", 2),
        ("TEA-EARL-100", 1),
    ]
    assert [line.vat_rate for line in order.lines] == [23, 5]
    assert order.delivery == PickupPoint(
        carrier="inpost", point_id="KRA01M", name="Paczkomat KRA01M", phone="500600700"
    )
    assert order.channel_payment is not None
    assert order.channel_payment.amount == order.totals.total
    assert order.channel_refs["revision"] == simulator.form(form_id)["revision"]


def test_an_unpaid_form_is_ignored_until_it_is_paid(
    simulator: AllegroSimulator,
    secret: dict[str, str],
    http: httpx.Client,
    journal: AllegroOrderJournal,
) -> None:
    cursor = poll(journal, secret, None, http).cursor
    form_id = simulator.buy([MUG], paid=False)
    first = poll(journal, secret, cursor, http)
    assert [p.event for p in parse(journal, first)] == [None, None]
    simulator.pay(form_id)
    paid = parse(journal, poll(journal, secret, first.cursor, http))
    assert [p.topic for p in paid] == ["READY_FOR_PROCESSING"]
    assert isinstance(paid[0].event, OrderReported)


def test_a_cancellation_is_a_newer_revision_of_the_order_cancelled(
    simulator: AllegroSimulator,
    secret: dict[str, str],
    http: httpx.Client,
    journal: AllegroOrderJournal,
) -> None:
    cursor = poll(journal, secret, None, http).cursor
    form_id = simulator.buy([MUG])
    bought = poll(journal, secret, cursor, http)
    ready = parse(journal, bought)[-1].event
    simulator.cancel(form_id, by="BUYER")
    simulator.cancel(form_id, by="AUTO")
    cancelled = parse(journal, poll(journal, secret, bought.cursor, http))
    assert [p.topic for p in cancelled] == ["BUYER_CANCELLED", "AUTO_CANCELLED"]
    event = cancelled[0].event
    assert isinstance(ready, OrderReported)
    assert isinstance(event, OrderReported)
    assert event.order.channel_status is ChannelStatus.CANCELLED
    assert event.order.revision > ready.order.revision


def test_replaying_from_an_old_cursor_gives_the_same_event_ids_and_revisions(
    simulator: AllegroSimulator,
    secret: dict[str, str],
    http: httpx.Client,
    journal: AllegroOrderJournal,
) -> None:
    # Given two orders polled once
    old = poll(journal, secret, None, http).cursor
    simulator.buy([MUG])
    simulator.buy([TEA], cod=True, invoice_tax_id="5260250995")
    first = poll(journal, secret, old, http)
    # When a run is retried from the old cursor (the cursor had not moved)
    again = poll(journal, secret, old, http)
    # Then the inbox sees the same ids (deduped) and intake the same revisions (ignored)
    assert [d.event_id for d in again.deliveries] == [d.event_id for d in first.deliveries]
    assert [
        (p.event_id, p.event.order.revision if isinstance(p.event, OrderReported) else None)
        for p in parse(journal, again)
    ] == [
        (p.event_id, p.event.order.revision if isinstance(p.event, OrderReported) else None)
        for p in parse(journal, first)
    ]
    assert again.cursor == first.cursor


def test_a_full_page_says_more_and_the_next_page_follows(
    simulator: AllegroSimulator, secret: dict[str, str], http: httpx.Client
) -> None:
    journal = AllegroOrderJournal(pacer=Pacer(0))
    journal.page_size = 2
    cursor = poll(journal, secret, None, http).cursor
    simulator.buy([MUG])  # three events
    first = poll(journal, secret, cursor, http)
    second = poll(journal, secret, first.cursor, http)
    assert (len(first.deliveries), first.more) == (2, True)
    assert (len(second.deliveries), second.more) == (1, False)
    assert [d.topic for d in first.deliveries + second.deliveries] == [
        "BOUGHT",
        "FILLED_IN",
        "READY_FOR_PROCESSING",
    ]


def test_a_journal_empty_at_first_is_read_from_its_start(
    simulator: AllegroSimulator,
    secret: dict[str, str],
    http: httpx.Client,
    journal: AllegroOrderJournal,
) -> None:
    start = poll(journal, secret, None, http)
    assert (start.cursor, start.deliveries) == (FROM_THE_START, ())
    simulator.buy([MUG])
    result = poll(journal, secret, start.cursor, http)
    assert len(result.deliveries) == 3
    assert "from" not in api_requests(simulator, "/order/events")[-1]["query"]


def test_a_rate_limit_is_waited_out(
    simulator: AllegroSimulator,
    secret: dict[str, str],
    http: httpx.Client,
    journal: AllegroOrderJournal,
) -> None:
    cursor = poll(journal, secret, None, http).cursor
    simulator.buy([MUG])
    # Given Allegro answers the next call with 429 and Retry-After: 0.3
    simulator.throttle(1, retry_after=0.3)
    started = time.monotonic()
    result = poll(journal, secret, cursor, http)
    # Then the poll waited and then got the page
    assert time.monotonic() - started >= 0.3
    assert len(result.deliveries) == 3
    assert len(api_requests(simulator, "/order/events")) == 2


def test_the_standing_rate_limit_is_kept_by_pacing(
    simulator: AllegroSimulator, secret: dict[str, str], http: httpx.Client
) -> None:
    # Given Allegro allows 21 requests a second and a page naming 30 forms (32 requests)
    simulator.requests_per_second = 21
    journal = AllegroOrderJournal()  # the default pacing
    cursor = poll(journal, secret, None, http).cursor
    for _ in range(30):
        simulator.buy([MUG])
    result = poll(journal, secret, cursor, http)
    # Then no request was refused and retried: each form was read exactly once
    assert len(result.deliveries) == 90
    forms = [r for r in simulator.requests if r["path"].startswith("/order/checkout-forms/")]
    assert len(forms) == 30
    assert len(api_requests(simulator, "/order/events")) == 1
