"""Acme's side: signed AcmePay webhooks, AcmeMarket's order-events API served over real HTTP on
127.0.0.1, and AcmeParcel notifications sent to our queue through the SQS API."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from shared.providers.simulation import SignedRequest
from tests.fictional.acme.webhook import DELIVERY_HEADER, EVENT_HEADER, SIGNATURE_HEADER, sign


def _now() -> str:
    return datetime.now(UTC).isoformat()


class AcmePaySimulator:
    path = "/webhooks/payments/acmepay"

    def __init__(self, signing_secret: str) -> None:
        self._secret = signing_secret

    @classmethod
    def from_secret(cls, secret: Mapping[str, str]) -> AcmePaySimulator:
        return cls(secret["signing_secret"])

    def payment(
        self, reference: str, amount: int, *, delivery_id: str | None = None
    ) -> SignedRequest:
        body = json.dumps(
            {
                "id": f"pay_{uuid.uuid4().hex[:12]}",
                "amount": amount,
                "currency": "PLN",
                "reference": reference,
            }
        ).encode()
        return SignedRequest(
            self.path,
            body,
            {
                "Content-Type": "application/json",
                SIGNATURE_HEADER: sign(body, self._secret),
                DELIVERY_HEADER: delivery_id or str(uuid.uuid4()),
                EVENT_HEADER: "payment.succeeded",
            },
        )


class AcmeMarketApi:
    """The order journal: events in sequence; `since` is inclusive; a bearer token is checked
    (401 otherwise). `repeat` appends an event again under its id, as Acme documents it may."""

    def __init__(self, api_token: str) -> None:
        self._token = api_token
        self._events: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self.requests: list[str] = []  # path and query of every request served

    @classmethod
    def from_secret(cls, secret: Mapping[str, str]) -> AcmeMarketApi:
        return cls(secret["api_token"])

    # -- what happens on the marketplace -------------------------------------------------------
    def place_order(self, order_id: str, revision: int = 1) -> str:
        """A buyer placed an order: an ORDER_PLACED event; returns its id."""
        event_id = f"evt-{uuid.uuid4().hex[:16]}"
        self.append(
            {
                "id": event_id,
                "type": "ORDER_PLACED",
                "occurredAt": _now(),
                "order": {"id": order_id, "revision": revision},
            }
        )
        return event_id

    def repeat(self, event_id: str) -> None:
        """The journal holds an event a second time (same id, a later sequence)."""
        with self._lock:
            original = next(e for e in self._events if e["id"] == event_id)
        self.append({k: v for k, v in original.items() if k != "sequence"})

    def append(self, event: dict[str, Any]) -> None:
        """Any event, also one that is not well-formed (tests of what the poller keeps)."""
        with self._lock:
            self._events.append({**event, "sequence": len(self._events) + 1})

    def page(self, since: int, limit: int) -> dict[str, Any]:
        with self._lock:
            after = [e for e in self._events if e["sequence"] >= since]
        return {"events": after[:limit], "hasMore": len(after) > limit}

    # -- the HTTP API ----------------------------------------------------------------------------
    def start(self) -> str:
        """Serve the API (once); returns its base URL."""
        if self._server is not None:
            return f"http://127.0.0.1:{self._server.server_address[1]}"
        api = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                url = urlsplit(self.path)
                api.requests.append(self.path)
                query = {k: v[0] for k, v in parse_qs(url.query).items()}
                if self.headers.get("Authorization") != f"Bearer {api._token}":
                    self._json(401, {"error": "invalid_token"})
                elif url.path != "/v1/order-events":
                    self._json(404, {"error": "not_found"})
                else:
                    try:
                        since, limit = int(query.get("since", 1)), int(query.get("limit", 100))
                    except ValueError:
                        self._json(400, {"error": "since and limit are integers"})
                        return
                    self._json(200, api.page(since, min(limit, 1000)))

            def _json(self, status: int, body: Any) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.send_header("X-Request-Id", str(uuid.uuid4()))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *_: Any) -> None:
                pass  # quiet: tests and `make local` print what matters themselves

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(
            target=self._server.serve_forever, name="acmemarket-api", daemon=True
        ).start()
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


class AcmeParcelSimulator:
    """Sends what AcmeParcel sends: a notification as the message body, through the SQS API."""

    def __init__(self, application_id: str = "acme-parcel-app") -> None:
        self._application = application_id

    @classmethod
    def from_secret(cls, secret: Mapping[str, str]) -> AcmeParcelSimulator:
        return cls()

    def notification(
        self, tracking_number: str, status: str, *, notification_id: str | None = None
    ) -> str:
        return json.dumps(
            {
                "NotificationVersion": "1.0",
                "NotificationType": "PARCEL_STATUS_CHANGE",
                "PayloadVersion": "1.0",
                "EventTime": _now(),
                "Payload": {"TrackingNumber": tracking_number, "Status": status},
                "NotificationMetadata": {
                    "ApplicationId": self._application,
                    "SubscriptionId": "sub-1",
                    "PublishTime": _now(),
                    "NotificationId": notification_id or str(uuid.uuid4()),
                },
            }
        )

    @staticmethod
    def send(sqs: Any, queue_url: str, body: str) -> str:
        """As the provider does: SendMessage to the queue; returns the SQS message id."""
        return str(sqs.send_message(QueueUrl=queue_url, MessageBody=body)["MessageId"])
