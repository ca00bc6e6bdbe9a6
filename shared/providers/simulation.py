"""What every provider simulator builds: signed requests exactly as the provider sends them.

Simulators live beside each provider's webhook code (shared/providers/<kind>/<name>/simulator.py)
and are used by the embedded stack's demo, the tests and the bench; no Lambda package imports
them (they need httpx to send).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import httpx


@dataclass(frozen=True)
class SignedRequest:
    path: str
    body: bytes
    headers: dict[str, str]

    def tampered(self) -> SignedRequest:
        """The same signature over a body someone changed in transit."""
        return SignedRequest(self.path, self.body.replace(b'"', b' "', 1), self.headers)

    def send(self, client: httpx.Client) -> httpx.Response:
        return client.post(self.path, content=self.body, headers=self.headers)


@dataclass(frozen=True)
class Line:
    sku: str
    name: str
    quantity: int
    unit_price: str  # gross, as the shop sells it
    vat_rate: str = "0.23"


def money_text(value: Decimal) -> str:
    return f"{value.quantize(Decimal('0.01'))}"


@dataclass(frozen=True)
class Answer:
    """What a simulated API answers. `body` is a JSON document (None: see
    `ServedApi.none_is_empty`), text where the simulator serves `text_type`, or bytes sent as
    they are; `content_type` overrides the simulator's type for this answer."""

    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str | None = None
    then: Callable[[], None] | None = None  # runs once the answer is sent


class ServedApi:
    """A provider's API served on 127.0.0.1 (a free port, daemon threads) by a simulator:
    `start()` (once; returns `base_url`), `stop()`. Every request goes to `_respond` (most
    simulators: `_respond = answer`); what differs between providers is set here."""

    served_name: ClassVar[str] = "provider"  # thread "<name>-simulator", placeholder URL
    served_thread: ClassVar[str | None] = None  # None: "<served_name>-simulator"
    unserved_url: ClassVar[str | None] = None  # base_url before start(); None: the placeholder
    served_methods: ClassVar[tuple[str, ...]] = ("GET", "POST", "PUT", "DELETE")
    protocol_version: ClassVar[str] = "HTTP/1.0"
    max_request_bytes: ClassVar[int | None] = 1_000_000  # None: no limit
    json_type: ClassVar[str] = "application/json"  # JSON (and bytes) answers
    text_type: ClassVar[str | None] = None  # str bodies served as text; None: as JSON strings
    none_is_empty: ClassVar[bool] = False  # body None: no body (nor Content-Type), not `null`

    _server: ThreadingHTTPServer | None = None
    _serving: ClassVar[threading.Lock] = threading.Lock()  # start() and stop(), any simulator

    def start(self) -> str:
        """Serve the API (once); returns its base URL."""
        with ServedApi._serving:
            if self._server is None:
                self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
                self._server.daemon_threads = True
                threading.Thread(
                    target=self._server.serve_forever,
                    args=(0.05,),  # poll interval: stop() returns promptly
                    name=self.served_thread or f"{self.served_name}-simulator",
                    daemon=True,
                ).start()
        return self.base_url

    @property
    def base_url(self) -> str:
        """Where the API is served (before start(): a placeholder for `answer` used directly)."""
        if self._server is None:
            if self.unserved_url is not None:
                return self.unserved_url
            return f"http://{self.served_name}-simulator.invalid"
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def stop(self) -> None:
        with ServedApi._serving:
            server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()

    # -- what a simulator overrides ------------------------------------------------------------
    def _respond(self, method: str, target: str, headers: dict[str, str], raw: bytes, /) -> Answer:
        raise NotImplementedError

    def too_large(self) -> Answer:
        """The answer to a body over `max_request_bytes` (which is not read)."""
        return Answer(413, {"error": "request too large"})

    def _served_headers(self) -> dict[str, str]:
        """Headers every answer carries (before its own), as a request id."""
        return {}

    def _encoded(self, answer: Answer) -> tuple[bytes, str | None]:
        """The answer's bytes and Content-Type (None: not sent)."""
        body = answer.body
        kind: str | None
        if isinstance(body, bytes):
            data, kind = body, self.json_type
        elif isinstance(body, str) and self.text_type is not None:
            data, kind = body.encode(), self.text_type
        elif body is None and self.none_is_empty:
            data, kind = b"", None
        else:
            data, kind = json.dumps(body).encode(), self.json_type
        return data, answer.content_type or kind


def _handler(api: ServedApi) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = api.protocol_version

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            if api.max_request_bytes is not None and length > api.max_request_bytes:
                answer = api.too_large()
            else:
                raw = self.rfile.read(length) if length else b""
                answer = api._respond(self.command, self.path, dict(self.headers.items()), raw)
            try:
                self._write(answer)
            finally:
                if answer.then is not None:
                    answer.then()

        def _write(self, answer: Answer) -> None:
            data, kind = api._encoded(answer)
            self.send_response(answer.status)
            if kind is not None:
                self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(data)))
            for headers in (api._served_headers(), answer.headers):
                for name, value in headers.items():
                    self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)
            self.wfile.flush()

        def log_message(self, *_: Any) -> None:
            pass  # quiet: tests and `make local` print what matters themselves

    for method in api.served_methods:
        setattr(Handler, f"do_{method}", Handler._serve)
    return Handler
