"""AWS requests to the embedded moto server, answered on the calling thread.

Every function, poller and Step Functions task of the embedded stack talks to moto through
botocore, and moto serves them over HTTP on 127.0.0.1 so that tools outside the process (the
AWS CLI, a test's own client) can reach it too. From inside the process that HTTP round trip
was most of an AWS call's cost: urllib3 and http.client on one side, werkzeug's server on the
other, and two thread handoffs, each of which waits for the interpreter lock the whole stack
shares. Under load a webhook's single PutItem queued behind background work at every one of
those handoffs.

`InProcessTransport` is a botocore `before-send` hook: botocore has built, serialised and
signed the request exactly as it would send it; the hook hands it to moto's WSGI application
(the very object the HTTP server calls, so the same backends, routing and patches answer it)
as a WSGI environ, and returns moto's answer as the `AWSResponse` botocore then parses. Only
the socket and the HTTP framing are skipped; requests to any other endpoint are left alone.

DynamoDB and DynamoDB Streams requests (by their X-Amz-Target) skip the WSGI application too:
moto answers every one of them with one handler whatever the path, so they go to that
handler as moto's decorator mode calls it (`moto.core.botocore_stubber`), with moto's own
request object. Flask's routing, request context and response object were about a third of
an in-process PutItem's CPU (docs/performance.md section 6).
"""

from __future__ import annotations

import functools
import importlib
import io
import logging
import sys
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import unquote_to_bytes, urlsplit

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class _Body(io.BytesIO):
    """What botocore reads an answer from: `stream()` for parsed bodies, `read()` for
    streaming ones (S3 GetObject's StreamingBody)."""

    def stream(self, **_: Any) -> Iterable[bytes]:
        yield self.getvalue()


class InProcessTransport:
    """Answer requests addressed to `endpoint` by calling `app` on this thread. The same port
    on `localhost` is the same server: moto's Step Functions interpreter addresses it so."""

    def __init__(self, app: WsgiApp, endpoint: str) -> None:
        self._app = app
        parts = urlsplit(endpoint.rstrip("/"))
        self._host = parts.hostname or "127.0.0.1"
        self._port = str(parts.port or 80)
        self._origins = tuple(
            f"{parts.scheme}://{host}:{self._port}" for host in {self._host, "localhost"}
        )

    def __call__(self, request: Any, **_: Any) -> Any:
        url: str = request.url
        origin = url[: url.find("/", url.find("//") + 2)] if url.count("/") >= 3 else url
        if origin not in self._origins:
            return None
        from botocore.awsrequest import AWSResponse

        handler = _direct_handler(request.headers)
        if handler is not None:
            status, headers, body = _dispatch(handler, request)
        else:
            status, headers, body = self.answer(request.method, url, request.headers, request.body)
        return AWSResponse(url, status, headers, _Body(body))  # type: ignore[arg-type]

    def answer(
        self, method: str, url: str, headers: Any, body: Any
    ) -> tuple[int, dict[str, str], bytes]:
        data = _bytes_of(body)
        parts = urlsplit(url)
        raw_target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        environ: dict[str, Any] = {
            "REQUEST_METHOD": method,
            "SCRIPT_NAME": "",
            # WSGI carries the decoded path as latin-1 text (PEP 3333), as werkzeug's server does.
            "PATH_INFO": unquote_to_bytes(parts.path or "/").decode("latin-1"),
            "QUERY_STRING": parts.query,
            # The path as sent, as werkzeug's server passes it on: moto's S3 reads object keys
            # from it, so a key with spaces, `+` or `%` decodes exactly as over HTTP.
            "REQUEST_URI": raw_target,
            "RAW_URI": raw_target,
            "SERVER_NAME": self._host,
            "SERVER_PORT": self._port,
            "SERVER_PROTOCOL": "HTTP/1.1",
            "REMOTE_ADDR": "127.0.0.1",
            "CONTENT_LENGTH": str(len(data)),
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": "http",
            "wsgi.input": io.BytesIO(data),
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": True,
            "wsgi.multiprocess": False,
            "wsgi.run_once": False,
        }
        preserved: dict[str, str] = {}
        for name, value in headers.items():
            text = value.decode("latin-1") if isinstance(value, bytes) else str(value)
            key = name.upper().replace("-", "_")
            if key == "CONTENT_TYPE":
                environ["CONTENT_TYPE"] = text
            elif key not in ("CONTENT_LENGTH", "TRANSFER_ENCODING"):
                # The body is whole here (CONTENT_LENGTH): a chunked framing header would make
                # werkzeug read none of it.
                environ[f"HTTP_{key}"] = text
                if "_" in name and name.lower().startswith("x-amz-meta-"):
                    preserved.setdefault(f"HTTP_{key}", name)  # S3 metadata keeps its spelling
        # As moto's own request handler does (MotoRequestHandler.make_environ).
        environ["moto.preserved_header_names"] = preserved
        environ.setdefault("HTTP_HOST", parts.netloc)
        started: list[Any] = []

        def start_response(status: str, response_headers: list[tuple[str, str]], *_: Any) -> Any:
            started[:] = [status, response_headers]
            return lambda chunk: None

        chunks = self._app(environ, start_response)
        try:
            answer = b"".join(chunks)
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                close()
        status_line, response_headers = started
        return int(status_line.split(" ", 1)[0]), dict(response_headers), answer


# X-Amz-Target prefix -> moto's handler, for the JSON services whose every request goes to one
# handler whatever its path: DynamoDB and its streams, the stack's busiest by far.
_DIRECT_TARGETS = {
    "DynamoDB_20120810.": ("moto.dynamodb.responses", "DynamoHandler"),
    "DynamoDBStreams_20120810.": ("moto.dynamodbstreams.responses", "DynamoDBStreamsHandler"),
}


@functools.cache
def _handlers() -> tuple[tuple[str, Any], ...]:
    """The direct lane's handler classes, imported once (moto is loaded by then)."""
    return tuple(
        (prefix, getattr(importlib.import_module(module), name))
        for prefix, (module, name) in _DIRECT_TARGETS.items()
    )


def _direct_handler(headers: Any) -> Any:
    target = headers.get("X-Amz-Target")
    if isinstance(target, bytes):
        target = target.decode("latin-1")
    if not target:
        return None
    return next((handler for prefix, handler in _handlers() if target.startswith(prefix)), None)


def _dispatch(handler: Any, request: Any) -> tuple[int, dict[str, str], bytes]:
    """What moto's decorator mode does with a request (moto.core.botocore_stubber): the
    service's handler called with moto's own request object, no WSGI application between.
    What the application would add on the way out is added here: a botocore ClientError
    raised inside moto is a 400 (moto's convert_to_flask_response), and any other exception
    is logged on "moto" and answered 500, as Flask does with debug off (the harness records
    what is logged on "moto": a crash of moto is the stack's error, not the function's)."""
    from botocore.exceptions import ClientError
    from moto.core.request import normalize_request
    from werkzeug.exceptions import HTTPException, InternalServerError

    normalized = normalize_request(request)
    try:
        status, headers, body = handler.dispatch(normalized, normalized.raw_url, normalized.headers)
    except HTTPException as error:
        status, headers, body = error.code, error.get_headers(), error.get_body()
    except ClientError as error:
        status, headers, body = 400, {}, error.response["Error"]["Message"]
    except Exception:
        logging.getLogger("moto").exception(
            "Exception on %s [%s]", urlsplit(request.url).path or "/", request.method
        )
        failure = InternalServerError()
        status, headers, body = 500, failure.get_headers(), failure.get_body()
    data = body.encode() if isinstance(body, str) else bytes(body or b"")
    return int(status), {str(k): str(v) for k, v in dict(headers).items()}, data


def _bytes_of(body: Any) -> bytes:
    if body is None:
        return b""
    if isinstance(body, bytes | bytearray):
        return bytes(body)
    if isinstance(body, str):
        return body.encode()
    if hasattr(body, "read"):
        position = body.tell() if hasattr(body, "tell") else None
        data = body.read()
        if position is not None and hasattr(body, "seek"):
            body.seek(position)  # a retry reads the body again
        return data if isinstance(data, bytes) else str(data).encode()
    return bytes(body)
