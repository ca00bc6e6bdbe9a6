"""The shipping context's composition root: shipments, and each channel's client for telling
it about them (built from the channel's secret, once per secret version per process)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from functools import partial
from typing import TYPE_CHECKING, Any

from shared import registry
from shared.channels.push import ChannelClient
from shared.orders.wiring import order_store
from shared.platform.secrets import provider_secret, update_provider_secret
from shared.platform.wiring import Platform
from shared.shipping.notify_channel import ChannelNotifier
from shared.shipping.shipments import ShipmentRecords, Shipments
from shared.stock.wiring import stock_store

if TYPE_CHECKING:
    import httpx


def shipments(platform: Platform) -> Shipments:
    return Shipments(
        orders=order_store(platform),
        stock=stock_store(platform),
        records=ShipmentRecords(platform.table),
    )


class ChannelClients:
    """Each channel's client, from CHANNEL_SECRET_IDS ({channel: secret id}). A channel with
    no client (the own store) or no secret here gets None: nothing to tell it."""

    def __init__(self, secret_ids: Mapping[str, str], http: httpx.Client) -> None:
        self._secret_ids = dict(secret_ids)
        self._http = http
        self._built: dict[str, tuple[str, ChannelClient]] = {}

    def __call__(self, channel: str) -> ChannelClient | None:
        secret_id = self._secret_ids.get(channel)
        if secret_id is None or not registry.is_provider(channel):
            return None
        entry = registry.provider(channel)
        if not entry.channel_client:
            return None
        document = provider_secret(secret_id)
        fingerprint = hashlib.sha256(json.dumps(document, sort_keys=True).encode()).hexdigest()
        built = self._built.get(channel)
        if built is None or built[0] != fingerprint:
            client = entry.channel_client_factory().from_secret(
                document, self._http, save_secret=partial(update_provider_secret, secret_id)
            )
            built = self._built[channel] = (fingerprint, client)
        return built[1]


def channel_notifier(
    platform: Platform, secret_ids: Mapping[str, str], http: Any
) -> ChannelNotifier:
    return ChannelNotifier(
        orders=order_store(platform),
        shipments=ShipmentRecords(platform.table),
        client_for=ChannelClients(secret_ids, http),
    )
