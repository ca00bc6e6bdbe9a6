"""The local gateway writes each response (status line, headers, body) in one write: two
writes each let the interpreter lock go, and under load the body then waited behind other
threads while the client waited for it (docs/performance.md section 6)."""

from __future__ import annotations

from dataclasses import dataclass, field

from infra.local.gateway import HttpGateway


@dataclass
class _Writes:
    chunks: list[bytes] = field(default_factory=list)

    def write(self, data: bytes) -> int:
        self.chunks.append(bytes(data))
        return len(data)


@dataclass
class _Request:
    command: str = "POST"
    protocol_version: str = "HTTP/1.1"
    close_connection: bool = False
    wfile: _Writes = field(default_factory=_Writes)

    def date_time_string(self) -> str:
        return "Wed, 02 Dec 2026 02:00:00 GMT"


def _parsed(raw: bytes) -> tuple[str, dict[str, str], bytes]:
    head, _, body = raw.partition(b"\r\n\r\n")
    status, *lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines)
    assert len(headers) == len(lines), "a header was written twice"
    return status, headers, body


def test_status_headers_and_body_go_out_in_one_write() -> None:
    request = _Request()
    headers = {"content-type": "application/json", "x-request-id": "abc", "content-length": "9"}
    HttpGateway._reply(request, 201, headers, b'{"id":7}')  # type: ignore[arg-type]
    assert len(request.wfile.chunks) == 1
    status, written, body = _parsed(request.wfile.chunks[0])
    assert status == "HTTP/1.1 201 Created"
    assert written == {
        "date": "Wed, 02 Dec 2026 02:00:00 GMT",
        "content-type": "application/json",
        "x-request-id": "abc",
        "content-length": "8",  # the body's, not the function's claim
    }
    assert body == b'{"id":7}'
    assert request.close_connection is False


def test_a_head_response_has_the_length_but_no_body() -> None:
    request = _Request(command="HEAD")
    HttpGateway._reply(request, 200, {}, b"12345")  # type: ignore[arg-type]
    status, written, body = _parsed(request.wfile.chunks[0])
    assert (status, written["content-length"], body) == ("HTTP/1.1 200 OK", "5", b"")


def test_closing_says_so_and_an_unknown_status_keeps_its_code() -> None:
    request = _Request()
    HttpGateway._reply(request, 299, {"connection": "keep-alive"}, b"", close=True)  # type: ignore[arg-type]
    status, written, _ = _parsed(request.wfile.chunks[0])
    assert status == "HTTP/1.1 299 "
    assert written["connection"] == "close"
    assert request.close_connection is True
