"""The HTTP API on 127.0.0.1: the template's routes, served as API Gateway payload v2.0 events.

Route matching, the v2 event (lower-cased headers, comma-joined repeats, rawQueryString, path
parameters, requestContext), base64 for binary bodies, the 10 MB payload limit, and response
mapping (statusCode/headers/body/isBase64Encoded, or a bare value as a 200 JSON body) follow
the documented HTTP API behaviour. A request it cannot parse (a bad Content-Length, a header
value that is not ASCII, a malformed request line) gets API Gateway's 400 JSON body; a body that
is not valid UTF-8 reaches the function base64-encoded, byte-exact, whatever its content type.
Anything that goes wrong inside the gateway itself is answered 500 and reported as a harness
error, never a dropped connection.
"""

from __future__ import annotations

import base64
import contextlib
import json
import re
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from infra.local import ids
from infra.local.template import Resolver, resources_of_type

MAX_PAYLOAD_BYTES = 10 * 1024 * 1024
# socketserver listens with a backlog of 5: a burst of webhook deliveries lost connections.
LISTEN_BACKLOG = max(128, socket.SOMAXCONN)
_DIGITS = re.compile(r"^[0-9]+$")
_JSON = {"content-type": "application/json"}
_TEXT_TYPES = (
    "text/",
    "application/json",
    "application/xml",
    "application/javascript",
    "application/x-www-form-urlencoded",
)


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    function_name: str
    pattern: re.Pattern[str]

    @classmethod
    def of(cls, route_key: str, function_name: str) -> Route:
        method, path = route_key.split(" ", 1)
        regex = "^"
        for segment in path.strip("/").split("/"):
            if segment.startswith("{") and segment.endswith("+}"):
                regex += f"/(?P<{segment[1:-2]}>.+)"
            elif segment.startswith("{") and segment.endswith("}"):
                regex += f"/(?P<{segment[1:-1]}>[^/]+)"
            else:
                regex += "/" + re.escape(segment)
        return cls(method, path, function_name, re.compile(regex + "$"))


def routes_from_template(template: dict[str, Any], resolver: Resolver) -> list[Route]:
    integrations = resources_of_type(template, "AWS::ApiGatewayV2::Integration")
    routes = []
    for resource in resources_of_type(template, "AWS::ApiGatewayV2::Route").values():
        props = resource["Properties"]
        target = resolver.resolve(props["Target"])  # "integrations/<Ref of the integration>"
        integration_id = target.split("/", 1)[1]
        uri = integrations[integration_id]["Properties"]["IntegrationUri"]
        function_arn = resolver.resolve(uri)
        routes.append(Route.of(props["RouteKey"], function_arn.rsplit(":", 1)[-1]))
    return routes


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


def _is_text(content_type: str) -> bool:
    return not content_type or content_type.split(";", maxsplit=1)[0].strip().lower().startswith(
        _TEXT_TYPES
    )


class BadRequest(Exception):
    """The request cannot be parsed: API Gateway answers 400 and closes."""


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = LISTEN_BACKLOG
    report: Callable[..., Any] | None = None

    def handle_error(self, request: Any, client_address: Any) -> None:
        import sys

        error = sys.exc_info()[1]
        if isinstance(error, ConnectionError | TimeoutError):
            return  # the client went away: nothing to answer, nothing wrong here
        if self.report is not None and error is not None:
            self.report(error, f"connection from {client_address[0]}")
        else:
            super().handle_error(request, client_address)


class HttpGateway:
    def __init__(
        self,
        routes: list[Route],
        lambda_client: Any,
        *,
        host: str = "127.0.0.1",
        port: int = 3000,
        account: str = "123456789012",
        report: Callable[..., Any] | None = None,
        invoke: Callable[[str, dict[str, Any]], tuple[bytes, bool]] | None = None,
        in_flight: Callable[[], contextlib.AbstractContextManager[None]] | None = None,
    ) -> None:
        """`invoke(function_name, event) -> (payload, errored)` calls a function in-process
        (as API Gateway calls Lambda internally); without it, through `lambda_client`."""
        self.routes = routes
        self._lambda = lambda_client
        self._invoke = invoke
        self._account = account
        self._report = report
        # Entered once a request is read, for its invocation and reply: the embedded stack's
        # background work steps aside meanwhile (infra/local/lambda_runtime.py ForegroundGate).
        # Not while reading it: a client that stalls its body would hold background work back.
        self._in_flight = in_flight or contextlib.nullcontext
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Without this, Nagle + delayed ACK add ~40 ms to every small response.
            disable_nagle_algorithm = True

            def do_GET(self) -> None:
                gateway.serve(self)

            do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_HEAD = do_GET

            def send_error(
                self, code: int, message: str | None = None, explain: str | None = None
            ) -> None:
                """http.server's own rejections (bad request line, headers too long, unknown
                method) with API Gateway's JSON body instead of an HTML page."""
                self.close_connection = True
                if self.request_version == "HTTP/0.9":  # an unparsable line: answer HTTP/1.x
                    self.request_version = "HTTP/1.0"
                text = {400: "Bad Request", 414: "Request-URI Too Long", 431: "Bad Request"}
                body = json.dumps({"message": text.get(code, message or "Error")}).encode()
                try:
                    self.send_response(code)
                    self.send_header("content-type", "application/json")
                    self.send_header("content-length", str(len(body)))
                    self.send_header("connection", "close")
                    self.end_headers()
                    if self.command != "HEAD":
                        self.wfile.write(body)
                except OSError:
                    pass

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._server = _Server((host, port), Handler)
        self._server.report = report
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> None:
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="http-gateway", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def match(self, method: str, path: str) -> tuple[Route, dict[str, str]] | None:
        for route in self.routes:
            if route.method not in (method, "ANY"):
                continue
            found = route.pattern.match(path)
            if found:
                return route, found.groupdict()
        return None

    def serve(self, request: BaseHTTPRequestHandler) -> None:
        """Answer one request, whatever happens: 400 for what cannot be parsed, 500 (and a
        harness error) for a failure of the gateway itself."""
        try:
            self.handle(request)
        except BadRequest:
            request.close_connection = True
            self._safe_reply(request, 400, _JSON, b'{"message":"Bad Request"}')
        except (ConnectionError, TimeoutError):
            request.close_connection = True  # the client is gone
        except Exception as error:
            request.close_connection = True
            if self._report is not None:
                self._report(error, f"{request.command} {request.path}")
            self._safe_reply(request, 500, _JSON, b'{"message":"Internal Server Error"}')

    def _safe_reply(
        self, request: BaseHTTPRequestHandler, status: int, headers: dict[str, str], body: bytes
    ) -> None:
        with contextlib.suppress(OSError):
            self._reply(request, status, headers, body, close=True)

    @staticmethod
    def _content_length(request: BaseHTTPRequestHandler) -> int | None:
        """The declared body length; None for a chunked body. BadRequest when malformed."""
        values = request.headers.get_all("Content-Length") or []
        chunked = "chunked" in (request.headers.get("Transfer-Encoding") or "").lower()
        if chunked and values:
            raise BadRequest("both Content-Length and Transfer-Encoding")
        if chunked:
            return None
        lengths = {v.strip() for value in values for v in value.split(",")}
        if not lengths:
            return 0
        if len(lengths) > 1 or not all(_DIGITS.match(v) for v in lengths):
            raise BadRequest(f"Content-Length {values!r}")
        return int(lengths.pop())

    @staticmethod
    def _read_chunked(request: BaseHTTPRequestHandler) -> bytes:
        body = bytearray()
        while True:
            line = request.rfile.readline(1024).split(b";", 1)[0].strip()
            try:
                size = int(line, 16)
            except ValueError:
                raise BadRequest("chunk size") from None
            if size < 0 or len(body) + size > MAX_PAYLOAD_BYTES:
                raise BadRequest("chunk size")
            if size == 0:
                while request.rfile.readline(1024).strip():  # trailers
                    pass
                return bytes(body)
            chunk = request.rfile.read(size)
            if len(chunk) < size:
                raise BadRequest("truncated chunk")
            body += chunk
            request.rfile.readline(1024)

    def handle(self, request: BaseHTTPRequestHandler) -> None:
        started = time.time()
        for value in request.headers.values():
            if not value.isascii():
                raise BadRequest("a header value that is not ASCII")
        split = urlsplit(request.path)
        length = self._content_length(request)
        if length is not None and length > MAX_PAYLOAD_BYTES:
            self._reply(
                request,
                413,
                _JSON,
                b'{"message":"Request Entity Too Large"}',
                close=True,
            )
            return
        if length is None:
            body = self._read_chunked(request)
        else:
            body = request.rfile.read(length) if length else b""
            if len(body) < length:
                raise BadRequest("the body is shorter than its Content-Length")
        matched = self.match(request.command, split.path)
        if matched is None:
            self._reply(request, 404, _JSON, b'{"message":"Not Found"}')
            return
        route, parameters = matched
        # HTTP API hands the function the path and its parameters percent-decoded (rawPath
        # included); routes are matched on the path as sent, so "%2F" never splits a segment.
        parameters = {name: unquote(value) for name, value in parameters.items()}
        event = self._event(
            request,
            route=route,
            path=unquote(split.path),
            query=split.query,
            parameters=parameters,
            body=body,
            started=started,
        )
        with self._in_flight():
            payload, errored = self.invoke(route.function_name, event)
            if errored:
                # The function failed, as it may in AWS: API Gateway's answer, not a harness
                # error.
                self._reply(request, 500, _JSON, b'{"message":"Internal Server Error"}')
                return
            status, headers, out = self._response(json.loads(payload or b"null"))
            self._reply(request, status, headers, out)

    def _event(
        self,
        request: BaseHTTPRequestHandler,
        *,
        route: Route,
        path: str,
        query: str,
        parameters: dict[str, str],
        body: bytes,
        started: float,
    ) -> dict[str, Any]:
        headers: dict[str, str] = {}
        for name, value in request.headers.items():
            key = name.lower()
            headers[key] = f"{headers[key]},{value}" if key in headers else value
        query_parameters: dict[str, str] = {}
        for name, value in parse_qsl(query, keep_blank_values=True):
            query_parameters[name] = (
                f"{query_parameters[name]},{value}" if name in query_parameters else value
            )
        text = _is_text(headers.get("content-type", ""))
        decoded = ""
        if text and body:
            try:
                decoded = body.decode("utf-8")
            except UnicodeDecodeError:
                text = False  # API Gateway passes bytes it cannot decode base64-encoded
        event: dict[str, Any] = {
            "version": "2.0",
            "routeKey": f"{route.method} {route.path}",
            "rawPath": path,
            "rawQueryString": query,
            "headers": headers,
            "requestContext": {
                "accountId": self._account,
                "apiId": "local",
                "domainName": headers.get("host", "127.0.0.1"),
                "domainPrefix": "local",
                "http": {
                    "method": request.command,
                    "path": path,
                    "protocol": request.request_version,
                    "sourceIp": request.client_address[0],
                    "userAgent": headers.get("user-agent", ""),
                },
                "requestId": ids.request_id(),
                "routeKey": f"{route.method} {route.path}",
                "stage": "$default",
                "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(started)),
                "timeEpoch": int(started * 1000),
            },
            "isBase64Encoded": not text,
        }
        if query_parameters:
            event["queryStringParameters"] = query_parameters
        if parameters:
            event["pathParameters"] = parameters
        if body:
            event["body"] = decoded if text else base64.b64encode(body).decode()
        return event

    def invoke(self, function_name: str, event: dict[str, Any]) -> tuple[bytes, bool]:
        if self._invoke is not None:
            return self._invoke(function_name, event)
        response = self._lambda.invoke(
            FunctionName=function_name, Payload=json.dumps(event).encode()
        )
        return response["Payload"].read(), bool(response.get("FunctionError"))

    @staticmethod
    def _response(result: Any) -> tuple[int, dict[str, str], bytes]:
        if not (isinstance(result, dict) and "statusCode" in result):
            return 200, {"content-type": "application/json"}, json.dumps(result).encode()
        headers = {k.lower(): str(v) for k, v in (result.get("headers") or {}).items()}
        for name, values in (result.get("multiValueHeaders") or {}).items():
            headers[name.lower()] = ",".join(str(v) for v in values)
        body = result.get("body") or ""
        raw = base64.b64decode(body) if result.get("isBase64Encoded") else str(body).encode()
        return int(result["statusCode"]), headers, raw

    @staticmethod
    def _reply(
        request: BaseHTTPRequestHandler,
        status: int,
        headers: dict[str, str],
        body: bytes,
        *,
        close: bool = False,
    ) -> None:
        """The status line, the headers and the body in one write: http.server's end_headers()
        then write(body) are two, and each releases the interpreter lock, so under load the
        body waited behind other threads for the lock while the client waited for it."""
        lines = [
            f"{request.protocol_version} {status} {_reason(status)}",
            f"date: {request.date_time_string()}",
        ]
        lines += [
            f"{name}: {value}"
            for name, value in headers.items()
            if name not in ("content-length", "connection", "date")
        ]
        lines.append(f"content-length: {len(body)}")
        if close:
            request.close_connection = True
            lines.append("connection: close")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        request.wfile.write(head if request.command == "HEAD" else head + body)
