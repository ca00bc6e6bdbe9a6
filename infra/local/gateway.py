"""The HTTP API on 127.0.0.1: the template's routes, served as API Gateway payload v2.0 events.

Route matching, the v2 event (lower-cased headers, comma-joined repeats, rawQueryString, path
parameters, requestContext), base64 for binary bodies, the 10 MB payload limit, and response
mapping (statusCode/headers/body/isBase64Encoded, or a bare value as a 200 JSON body) follow
the documented HTTP API behaviour.
"""

from __future__ import annotations

import base64
import json
import re
import threading
import time
import uuid
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from infra.local.template import Resolver, resources_of_type

MAX_PAYLOAD_BYTES = 10 * 1024 * 1024
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


def _is_text(content_type: str) -> bool:
    return not content_type or content_type.split(";", maxsplit=1)[0].strip().lower().startswith(
        _TEXT_TYPES
    )


class HttpGateway:
    def __init__(
        self,
        routes: list[Route],
        lambda_client: Any,
        *,
        host: str = "127.0.0.1",
        port: int = 3000,
        account: str = "123456789012",
    ) -> None:
        self.routes = routes
        self._lambda = lambda_client
        self._account = account
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Without this, Nagle + delayed ACK add ~40 ms to every small response.
            disable_nagle_algorithm = True

            def do_GET(self) -> None:
                gateway.handle(self)

            do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_HEAD = do_GET

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._server = ThreadingHTTPServer((host, port), Handler)
        self._server.daemon_threads = True
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

    def handle(self, request: BaseHTTPRequestHandler) -> None:
        started = time.time()
        split = urlsplit(request.path)
        length = int(request.headers.get("Content-Length") or 0)
        if length > MAX_PAYLOAD_BYTES:
            self._reply(
                request,
                413,
                {"content-type": "application/json"},
                b'{"message":"Request Entity Too Large"}',
            )
            request.close_connection = True
            return
        body = request.rfile.read(length) if length else b""
        matched = self.match(request.command, split.path)
        if matched is None:
            self._reply(
                request, 404, {"content-type": "application/json"}, b'{"message":"Not Found"}'
            )
            return
        route, parameters = matched
        event = self._event(
            request,
            route=route,
            path=split.path,
            query=split.query,
            parameters=parameters,
            body=body,
            started=started,
        )
        response = self._lambda.invoke(
            FunctionName=route.function_name, Payload=json.dumps(event).encode()
        )
        payload = response["Payload"].read()
        if response.get("FunctionError"):
            self._reply(
                request,
                500,
                {"content-type": "application/json"},
                b'{"message":"Internal Server Error"}',
            )
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
                "requestId": str(uuid.uuid4()),
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
            event["body"] = (
                body.decode("utf-8", "replace") if text else base64.b64encode(body).decode()
            )
        return event

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
        request: BaseHTTPRequestHandler, status: int, headers: dict[str, str], body: bytes
    ) -> None:
        request.send_response(status)
        for name, value in headers.items():
            if name not in ("content-length", "connection"):
                request.send_header(name, value)
        request.send_header("content-length", str(len(body)))
        request.end_headers()
        if request.command != "HEAD":
            request.wfile.write(body)
