"""DNS rebinding and CORS on the local moto server (the local DynamoDB and user pool): a
foreign ``Host`` or page ``Origin`` is refused before moto sees the request; a loopback
page's CORS preflight is answered (moto itself fails every preflight)."""

from __future__ import annotations

import http.client
import json
from typing import Any
from urllib.parse import urlsplit

import pytest

from chatkit.local._hosts import host_allowed, origin_allowed

LIST_TABLES = {
    "Content-Type": "application/x-amz-json-1.0",
    "X-Amz-Target": "DynamoDB_20120810.ListTables",
    "Authorization": (
        "AWS4-HMAC-SHA256 Credential=offline/20261206/ap-northeast-2/dynamodb/aws4_request, "
        "SignedHeaders=host, Signature=0"
    ),
}


def request(url: str, method: str, headers: dict[str, str], body: bytes = b"") -> Any:
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    connection.putrequest(method, "/", skip_host=True)
    for name, value in {**headers, "Content-Length": str(len(body))}.items():
        connection.putheader(name, value)
    connection.endheaders(body)
    response = connection.getresponse()
    return response.status, dict(response.getheaders()), response.read()


@pytest.mark.parametrize(
    ("host", "allowed"),
    [
        ("127.0.0.1:5000", True),
        ("127.9.9.9", True),
        ("localhost:5000", True),
        ("[::1]:5000", True),
        ("LOCALHOST", True),
        ("evil.example:5000", False),
        ("127.0.0.1.evil.example", False),
        ("10.0.0.8:5000", False),
    ],
)
def test_host_rule(host: str, allowed: bool) -> None:
    assert host_allowed(host, bound="127.0.0.1", extra=()) is allowed


def test_bound_address_and_named_hosts_are_allowed() -> None:
    assert host_allowed("10.0.0.8:80", bound="10.0.0.8", extra=())
    assert host_allowed("studio.example:443", bound="127.0.0.1", extra=["studio.example"])
    assert origin_allowed("https://studio.example", extra=["studio.example"])
    assert not origin_allowed("http://attacker.example:8765", extra=())


def test_foreign_host_and_origin_are_refused(stack: Any) -> None:
    url = stack.dynamodb_url
    own = urlsplit(url).netloc
    status, _, _ = request(url, "POST", {"Host": own, **LIST_TABLES}, b"{}")
    assert status == 200
    status, _, body = request(url, "POST", {"Host": "rebound.example", **LIST_TABLES}, b"{}")
    assert status == 421 and "localhost" in body.decode()
    evil = {"Host": own, "Origin": "http://rebound.example", **LIST_TABLES}
    status, headers, body = request(url, "POST", evil, b"{}")
    assert status == 403 and "Access-Control-Allow-Origin" not in headers
    assert b"TableNames" not in body


def test_loopback_page_preflight_is_answered(stack: Any) -> None:
    own = urlsplit(stack.dynamodb_url).netloc
    asked = {
        "Host": own,
        "Origin": "http://127.0.0.1:8765",
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type,x-amz-target",
    }
    status, headers, _ = request(stack.dynamodb_url, "OPTIONS", asked)
    assert status == 204
    assert headers["Access-Control-Allow-Origin"] == "http://127.0.0.1:8765"
    assert headers["Access-Control-Allow-Headers"] == "content-type,x-amz-target"
    status, _, _ = request(stack.dynamodb_url, "OPTIONS", {**asked, "Origin": "http://x.example"})
    assert status == 403
    page = {"Host": own, "Origin": "http://localhost:8765", **LIST_TABLES}
    status, headers, body = request(stack.dynamodb_url, "POST", page, b"{}")
    assert status == 200 and "TableNames" in json.loads(body)


def test_a_client_sending_headers_slowly_is_cut_off(stack: Any, monkeypatch) -> None:
    """Slow-loris: a silent connection is closed after the server's socket timeout (here
    shortened); counted in bytes the server accepted, not in seconds."""
    import socket

    from chatkit.local import dynamodb

    monkeypatch.setattr(dynamodb, "SOCKET_TIMEOUT", 0.5)
    with dynamodb.LocalDynamoDB() as server:
        parts = urlsplit(server.url)
        with socket.create_connection((parts.hostname, parts.port), timeout=10) as slow:
            slow.sendall(b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # ... and nothing more
            assert slow.recv(1024) == b""  # closed by the server, before any reply
