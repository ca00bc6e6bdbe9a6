"""Pulling a provider that has no push (Allegro's order journal, DPD tracking): one scheduled run.

Read the provider's cursor, fetch pages from it, store every item through the same inbox path a
webhook takes (`record_fetched`: the same parse, key, dedupe and raw-body storage), and advance
the cursor after each page's items are stored. A run that fails midway is retried or simply
followed by the next one, which fetches the unstored items again from the unmoved cursor.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import TYPE_CHECKING, Any

from shared import registry
from shared.inbox.contract import Headers, Poller, WebhookRequest
from shared.inbox.cursors import CursorRepository
from shared.inbox.ports import InboxWriter
from shared.inbox.service import record_fetched
from shared.inbox.wiring import inbox_repository
from shared.platform.clock import utc_now
from shared.platform.secrets import provider_secret, update_provider_secret
from shared.platform.settings import Settings
from shared.platform.table import Table

if TYPE_CHECKING:
    import httpx

# Pages one run fetches at most: a backlog (the first run, a long outage) drains over a few
# runs instead of one that outlives its timeout.
MAX_PAGES = 20


class PollSettings(Settings):
    provider: str  # the registry entry this function polls
    secret_id: str  # its credentials (and API base URL), Secrets Manager
    table_name: str
    documents_bucket: str
    inbox_retention_days: int = 90


@dataclass(frozen=True)
class PollReport:
    source: str
    configured: bool = True
    pages: int = 0
    receipts: dict[str, int] = field(default_factory=dict)  # accepted, duplicate, ...
    cursor: str | None = None
    overtaken: bool = False  # another run moved the cursor meanwhile; this one stopped


def pull(
    poller: Poller,
    *,
    secrets: Mapping[str, Any],
    cursors: CursorRepository,
    inbox: InboxWriter,
    http: httpx.Client,
    now: Callable[[], datetime] = utc_now,
    max_pages: int = MAX_PAGES,
    save_secret: Callable[[dict[str, str]], object] | None = None,
) -> PollReport:
    cursor = cursors.get(poller.source)
    secrets = dict(secrets)
    counts: Counter[str] = Counter()
    pages = 0
    overtaken = False
    while pages < max_pages:
        page = poller.poll(secrets, cursor, http)
        pages += 1
        if page.secret_update:
            # A rotated credential (Allegro's refresh token) is kept before anything else: a
            # run that fails after this point must not leave the only valid token unsaved.
            if save_secret is None:
                raise RuntimeError(f"{poller.source} rotated a credential and nothing saves it")
            save_secret(page.secret_update)
            secrets.update(page.secret_update)
        for delivery in page.deliveries:
            request = WebhookRequest(Headers(delivery.headers), delivery.raw_body, now())
            receipt = record_fetched(
                poller, request, inbox, event_id=delivery.event_id, topic=delivery.topic
            )
            counts[receipt.receipt.value] += 1
        if page.cursor is not None and page.cursor != cursor:
            if not cursors.advance(poller.source, start=cursor, to=page.cursor, at=now()):
                overtaken = True
                break
            cursor = page.cursor
        if not page.more:
            break
    return PollReport(
        poller.source, pages=pages, receipts=dict(counts), cursor=cursor, overtaken=overtaken
    )


_http: list[httpx.Client] = []


def http_client() -> httpx.Client:
    """One connection pool per process (warm runs reuse the provider's TLS connection)."""
    if not _http:
        import httpx

        _http.append(
            httpx.Client(
                timeout=httpx.Timeout(10.0, connect=3.0),
                headers={"User-Agent": "orderhub-poller"},
                follow_redirects=False,
            )
        )
    return _http[0]


def poll_provider(settings: PollSettings) -> PollReport:
    """The composition root of a poll function: its provider's poller, secret and inbox."""
    entry = registry.provider(settings.provider)
    secrets = provider_secret(settings.secret_id)
    if any(not secrets.get(name) for name in entry.required_secrets):
        # Deployed before its credentials were set: nothing to fetch yet, and nothing failed.
        return PollReport(entry.name, configured=False)
    table = Table(settings.table_name)
    return pull(
        registry.adapter_for(entry.name),
        secrets=secrets,
        cursors=CursorRepository(table),
        inbox=inbox_repository(
            settings.table_name, settings.documents_bucket, settings.inbox_retention_days
        ),
        http=http_client(),
        save_secret=partial(update_provider_secret, settings.secret_id),
    )
