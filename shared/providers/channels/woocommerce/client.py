"""Shipments back to the store: an order note the buyer sees, and the order completed.

REST API v3 (woocommerce-rest-api-docs, wp-api-v3 _order-notes.md and _orders.md):
- GET /wp-json/wc/v3/orders/{id}/notes: the order's notes; one naming the tracking number means
  this shipment was told already (a retried push), and its id is returned, nothing created.
- POST /wp-json/wc/v3/orders/{id}/notes {"note": ..., "customer_note": true}: a customer note
  (WooCommerce e-mails it to the buyer) with the carrier, tracking number and link.
- when the shipment completes the order: GET /wp-json/wc/v3/orders/{id}, then PUT {"status":
  "completed"} if it is still pending, on hold or processing. An order the store has cancelled,
  refunded or trashed meanwhile keeps its status: the store's decision stands, the note records
  the shipment.
Errors: 429, 408, 5xx and transport errors are ChannelUnavailable (Retry-After honoured); any
other non-2xx (WooCommerce's {"code", "message"} named) is ChannelRejected.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from shared.channels.http import raise_for_channel
from shared.channels.push import ChannelRejected, ChannelUnavailable, SaveSecret, ShipmentPush
from shared.providers.channels.woocommerce.rest import StoreApi, StoreNotConfigured

if TYPE_CHECKING:
    import httpx

# The statuses a shipped order may be completed from.
COMPLETABLE_STATUSES = frozenset({"pending", "on-hold", "processing"})
# A Retry-After beyond this is a misconfigured proxy: the push queue's backoff takes over.


def note_text(push: ShipmentPush) -> str:
    text = f"Shipped via {push.carrier}, tracking number {push.tracking_number}"
    return f"{text} {push.tracking_url}" if push.tracking_url else text


def names_tracking_number(note: str, tracking_number: str) -> bool:
    """The tracking number appears as a whole token (a short number inside another is not it)."""
    pattern = rf"(?<![A-Za-z0-9]){re.escape(tracking_number)}(?![A-Za-z0-9])"
    return re.search(pattern, note) is not None


class WooCommerceStatus:
    def __init__(self, api: StoreApi, http: httpx.Client) -> None:
        self._api = api
        self._http = http

    @classmethod
    def from_secret(
        cls,
        document: Mapping[str, Any],
        http: httpx.Client,
        *,
        save_secret: SaveSecret | None = None,  # WooCommerce keys do not rotate: unused
    ) -> WooCommerceStatus:
        try:
            return cls(StoreApi.from_secret(document), http)
        except StoreNotConfigured as error:
            raise ChannelRejected(f"woocommerce is not configured: {error}") from error

    def push_shipment(self, push: ShipmentPush) -> str:
        order_id = push.external_id.strip()
        if not order_id.isascii() or not order_id.isdigit():
            raise ChannelRejected(f"{push.external_id!r} is not a WooCommerce order id")
        notes_path = f"/orders/{order_id}/notes"
        notes = self._call("GET", notes_path, f"GET order {order_id} notes")
        existing = next(
            (
                note
                for note in (notes if isinstance(notes, list) else [])
                if isinstance(note, dict)
                and isinstance(note.get("note"), str)
                and names_tracking_number(note["note"], push.tracking_number)
            ),
            None,
        )
        if existing is None:
            existing = self._call(
                "POST",
                notes_path,
                f"POST order {order_id} note",
                json={"note": note_text(push), "customer_note": True},
            )
        reference = existing.get("id") if isinstance(existing, dict) else None
        if reference is None:
            raise ChannelUnavailable(f"order {order_id}: the note came back without an id")
        if push.complete:
            self._complete(order_id)
        return str(reference)

    def _complete(self, order_id: str) -> None:
        order = self._call("GET", f"/orders/{order_id}", f"GET order {order_id}")
        status = order.get("status") if isinstance(order, dict) else None
        if status in COMPLETABLE_STATUSES:
            self._call(
                "PUT",
                f"/orders/{order_id}",
                f"PUT order {order_id} completed",
                json={"status": "completed"},
            )

    def _call(self, method: str, path: str, what: str, json: Any = None) -> Any:
        import httpx

        try:
            response = self._http.request(
                method,
                self._api.url(path),
                json=json,
                auth=self._api.auth,
                headers={"Accept": "application/json"},
            )
        except httpx.HTTPError as error:
            raise ChannelUnavailable(f"{what}: {type(error).__name__}: {error}") from error
        status = response.status_code
        if 200 <= status < 300:
            try:
                return response.json()
            except ValueError as error:
                raise ChannelUnavailable(f"{what}: HTTP {status} with a body not JSON") from error
        raise_for_channel(response, f"{what}: HTTP {status} {_problem(response)}")
        raise AssertionError("unreachable: a non-2xx answer raises")


def _problem(response: httpx.Response) -> str:
    """WooCommerce's error body, {"code": ..., "message": ...}, or the start of the text."""
    try:
        body = response.json()
    except ValueError:
        return response.text[:300]
    if isinstance(body, dict) and "code" in body:
        return f"{body.get('code')}: {body.get('message')}"[:300]
    return response.text[:300]
