"""Shipments pushed back to Allegro: the waybill on the checkout form, then its fulfillment
status (developer.allegro.pl/tutorials/jak-obslugiwac-zamowienia-GRaj0qyvwtR, "Dodaj numer
przesyłki" and "Zmiana statusu realizacji zamówienia"; reference "Add a parcel tracking
number", "Set seller order status").

- GET /order/checkout-forms/{id}/shipments -> {"shipments": [{id, waybill, carrierId, ...}]}:
  a waybill already there is this shipment told before (a retried push): its id is the
  answer and nothing is added.
- POST /order/checkout-forms/{id}/shipments {carrierId, waybill, carrierName (OTHER only),
  lineItems: [{id}]} -> 201 {id, ...}. carrierId from Allegro's carrier dictionary; a carrier
  it does not list is OTHER with its name.
- PUT /order/checkout-forms/{id}/fulfillment?checkoutForm.revision=<revision> {"status":
  "SENT", "shipmentSummary": {"lineItemsSent": "ALL" | "SOME"}} -> 204. The revision is the
  one the order was imported with (channel_refs); Allegro answers 409 when the form changed
  since: the form is read again and the PUT retried once with its revision.
Errors: 4xx (not 429) ChannelRejected; 429, 5xx, transport errors ChannelUnavailable; an
authorization Allegro no longer accepts is ChannelUnavailable too, so the pushes wait (with
their retries) for the seller to log in again instead of being dead-lettered at once.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import quote

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from shared.channels.http import raise_for_channel
from shared.channels.push import (
    ChannelRejected,
    ChannelUnavailable,
    SaveSecret,
    ShipmentPush,
)
from shared.providers.channels.allegro.api import AllegroApi, error_text
from shared.providers.channels.allegro.oauth import (
    AllegroAuthorizationLost,
    AllegroNotConfigured,
    AllegroUnavailable,
)

if TYPE_CHECKING:
    import httpx

M = TypeVar("M", bound=BaseModel)

# Allegro's carrier dictionary (GET /order/carriers) for the carriers Polish shops name.
CARRIERS = {
    "inpost": "INPOST",
    "paczkomaty": "INPOST",
    "paczkomat": "INPOST",
    "dpd": "DPD",
    "dhl": "DHL",
    "ups": "UPS",
    "gls": "GLS",
    "pocztapolska": "POCZTA_POLSKA",
    "pocztex": "POCZTA_POLSKA",
    "poczta": "POCZTA_POLSKA",
    "fedex": "FEDEX",
    "allegro": "ALLEGRO",
    "allegroone": "ALLEGRO",
}
CARRIER_NAME_LENGTH = 30  # Allegro: carrierName at most 30 characters
# Statuses a SENT would move backwards or contradict: the form is left as it is.
PAST_SENT = frozenset({"PICKED_UP", "CANCELLED", "RETURNED"})


def carrier_id(carrier: str) -> str:
    """'InPost' -> INPOST, 'Poczta Polska' -> POCZTA_POLSKA; anything else OTHER."""
    return CARRIERS.get(re.sub(r"[^a-z]", "", carrier.lower()), "OTHER")


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore")


class _Shipment(_Lenient):
    id: str = Field(min_length=1)
    waybill: str | None = None


class _Shipments(_Lenient):
    shipments: list[_Shipment] = Field(default_factory=list)


class _Fulfillment(_Lenient):
    status: str | None = None


class _ShipmentSummary(_Lenient):
    lineItemsSent: str | None = None


class _FulfillmentWithSummary(_Fulfillment):
    shipmentSummary: _ShipmentSummary | None = None


class _Form(_Lenient):
    revision: str | None = None
    fulfillment: _FulfillmentWithSummary | None = None


class AllegroFulfilment:
    def __init__(self, api: AllegroApi, save_secret: SaveSecret | None = None) -> None:
        self._api = api
        self._save_secret = save_secret

    @classmethod
    def from_secret(
        cls,
        document: Mapping[str, Any],
        http: httpx.Client,
        *,
        save_secret: SaveSecret | None = None,
    ) -> AllegroFulfilment:
        try:
            api = AllegroApi.from_secret(document, http)
        except AllegroNotConfigured as error:
            raise ChannelRejected(str(error)) from error
        return cls(api, save_secret)

    def push_shipment(self, push: ShipmentPush) -> str:
        try:
            return self._push(push)
        except AllegroAuthorizationLost as error:
            raise ChannelUnavailable(str(error)) from error
        except AllegroUnavailable as error:
            raise ChannelUnavailable(str(error), retry_after=error.retry_after) from error
        finally:
            self._store_tokens()

    def _push(self, push: ShipmentPush) -> str:
        form_path = f"/order/checkout-forms/{quote(push.external_id, safe='')}"
        what = f"Allegro shipments of {push.external_id}"
        listed = self._expect(self._api.call("GET", f"{form_path}/shipments", what), what)
        existing = next(
            (
                s
                for s in _model(_Shipments, listed, what).shipments
                if s.waybill == push.tracking_number
            ),
            None,
        )
        if existing is not None:
            # Told before; the status may not have followed (the PUT failed): see to it.
            self._mark_sent(push, form_path, revision=None)
            return existing.id
        created = self._expect(
            self._api.call("POST", f"{form_path}/shipments", what, json=self._shipment(push)),
            what,
        )
        shipment = _model(_Shipment, created, what)
        self._mark_sent(push, form_path, revision=push.channel_refs.get("revision"))
        return shipment.id

    @staticmethod
    def _shipment(push: ShipmentPush) -> dict[str, Any]:
        carrier = carrier_id(push.carrier)
        body: dict[str, Any] = {"carrierId": carrier, "waybill": push.tracking_number}
        if carrier == "OTHER":
            body["carrierName"] = push.carrier[:CARRIER_NAME_LENGTH]
        # Lines without Allegro's id cannot be named; none named = every line (Allegro's rule).
        items = [{"id": line.channel_line_id} for line in push.lines if line.channel_line_id]
        if items:
            body["lineItems"] = items
        return body

    def _mark_sent(self, push: ShipmentPush, form_path: str, *, revision: str | None) -> None:
        """PUT fulfillment SENT at `revision`; without one (or after a 409) the form is read
        first, and left alone when it is already past what this shipment says."""
        what = f"Allegro fulfillment of {push.external_id}"
        sent = "ALL" if push.complete else "SOME"
        for attempt in range(2):
            if revision is None:
                form = self._form(form_path, push.external_id)
                if self._already(form, sent):
                    return
                revision = form.revision
            params = {"checkoutForm.revision": revision} if revision else None
            response = self._api.call(
                "PUT",
                f"{form_path}/fulfillment",
                what,
                params=params,
                json={"status": "SENT", "shipmentSummary": {"lineItemsSent": sent}},
            )
            if response.status_code == 409 and attempt == 0:
                revision = None  # the form changed since it was imported: read it again
                continue
            self._expect(response, what)
            return

    @staticmethod
    def _already(form: _Form, sent: str) -> bool:
        fulfillment = form.fulfillment or _FulfillmentWithSummary()
        if fulfillment.status in PAST_SENT:
            return True
        summary = fulfillment.shipmentSummary.lineItemsSent if fulfillment.shipmentSummary else None
        return fulfillment.status == "SENT" and summary in ("ALL", sent)

    def _form(self, form_path: str, form_id: str) -> _Form:
        what = f"Allegro checkout form {form_id}"
        return _model(_Form, self._expect(self._api.call("GET", form_path, what), what), what)

    @staticmethod
    def _expect(response: httpx.Response, what: str) -> httpx.Response:
        status = response.status_code
        if 200 <= status < 300:
            return response
        raise_for_channel(response, f"{what}: HTTP {status} {error_text(response)}")
        raise AssertionError("unreachable: a non-2xx answer raises")

    def _store_tokens(self) -> None:
        update = self._api.secret_update()
        if update is not None and self._save_secret is not None:
            self._save_secret(update)
            # the secret now holds them: the next push compares against what was saved
            self._api.credentials = self._api.credentials.with_saved(update)


def _model(model: type[M], response: httpx.Response, what: str) -> M:
    try:
        return model.model_validate_json(response.content)
    except ValidationError as error:
        raise ChannelUnavailable(
            f"{what}: unexpected answer: {error.errors()[0]['msg']}"
        ) from error
