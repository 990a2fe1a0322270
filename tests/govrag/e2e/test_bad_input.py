"""Hostile or broken input gets a 4xx with a `{type, detail}` body, never a 5xx, and touches nothing."""

from __future__ import annotations

import json
from collections.abc import Iterator
from http.client import HTTPConnection
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient

from govrag.api.app import create_app
from govrag.api.middleware import MAX_REQUEST_HEAD_BYTES, MAX_URL_BYTES
from govrag.runtime import build_runtime
from retrieval.settings import Settings
from tests.govrag.e2e.corpus_fixture import auth, write_principals, write_sources
from tests.govrag.e2e.live_service import live_server

pytestmark = [pytest.mark.integration, pytest.mark.slow]

BODY_LIMIT = 256 * 1024  # above a 100 kB query, which is refused for its length (422), not its size


@pytest.fixture(scope="module")
def http(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, Path]]:
    root = tmp_path_factory.mktemp("bad-input")
    write_sources(root / "sources")
    write_principals(root / "principals.yaml")
    settings = Settings(
        data_dir=root / "data",
        source_roots=[root / "sources"],
        principals_file=root / "principals.yaml",
        max_request_bytes=BODY_LIMIT,
    )
    runtime = build_runtime(settings)
    try:
        with TestClient(create_app(settings, runtime)) as client:
            yield client, root
    finally:
        runtime.close()


def _error(response: Any, status: int, type_: str) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"type", "detail"} and body["type"] == type_
    assert body["detail"] and "Traceback" not in body["detail"]
    assert response.headers["X-Request-ID"]
    return str(body["detail"])


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"query": "x" * 100_000}, "at most 4000 characters"),
        ({"query": "leave\x00policy"}, "match pattern"),
        ({"query": "bell\x07"}, "match pattern"),
        ({"query": "escape \x1b[31m red"}, "match pattern"),
        ({"query": "delete\x7f"}, "match pattern"),
        ({"query": ""}, "at least 1 character"),
        ({"query": "   x", "top_k": 0}, "top_k"),
        ({"query": "x", "top_k": -1}, "greater than or equal to 1"),
        ({"query": "x", "top_k": 51}, "less than or equal to 50"),
        ({"query": "x", "top_k": 10**12}, "top_k"),
        ({"query": "x", "top_k": "five"}, "top_k"),
        ({"query": "x", "top_k": 2.5}, "top_k"),
        ({"query": "x", "top_k": None}, "top_k"),
        ({"query": "x", "filter": {"corpus_id": "*"}}, "filter: Extra inputs are not permitted"),
        ({"query": "x", "principal": "admin"}, "Extra inputs are not permitted"),
        ({"top_k": 3}, "query: Field required"),
        ({"query": ["a", "b"]}, "query"),
        ({"query": {"$ne": ""}}, "query"),
    ],
)
def test_invalid_retrieve_bodies_are_422_with_a_message(
    http: tuple[TestClient, Path], body: dict[str, Any], message: str
) -> None:
    client, _ = http
    detail = _error(client.post("/retrieve", headers=auth("reader_eu"), json=body), 422, "validation_error")
    assert message in detail
    assert "x" * 100 not in detail  # the message names the rule, it does not echo the input


def test_tabs_and_newlines_are_fine(http: tuple[TestClient, Path]) -> None:
    client, _ = http
    response = client.post("/retrieve", headers=auth("reader_eu"), json={"query": "parental\tleave\nweeks"})
    assert response.status_code == 200, response.text


@pytest.mark.parametrize(
    ("content", "content_type"),
    [
        (b'{"query": "x",', "application/json"),
        (b"query=x&top_k=3", "application/x-www-form-urlencoded"),
        (b"\xff\xfe\x00garbage", "application/json"),
        (b"[]", "application/json"),
        (b"", "application/json"),
    ],
)
def test_malformed_bodies_are_422(http: tuple[TestClient, Path], content: bytes, content_type: str) -> None:
    client, _ = http
    headers = {**auth("reader_eu"), "Content-Type": content_type}
    _error(client.post("/retrieve", headers=headers, content=content), 422, "validation_error")


def test_bodies_over_the_limit_are_413_whether_declared_or_streamed(http: tuple[TestClient, Path]) -> None:
    client, _ = http
    big = b'{"query": "' + b"x" * (BODY_LIMIT + 1) + b'"}'
    declared = client.post(
        "/retrieve", headers={**auth("reader_eu"), "Content-Type": "application/json"}, content=big
    )
    assert str(BODY_LIMIT) in _error(declared, 413, "payload_too_large")

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it arrives
        for start in range(0, len(big), 4096):
            yield big[start : start + 4096]

    streamed = client.post(
        "/retrieve", headers={**auth("reader_eu"), "Content-Type": "application/json"}, content=chunks()
    )
    assert "content-length" not in {k.lower() for k in streamed.request.headers}
    _error(streamed, 413, "payload_too_large")
    bogus = client.post(
        "/retrieve",
        headers={**auth("reader_eu"), "Content-Type": "application/json", "Content-Length": "lots"},
        content=b"{}",
    )
    assert bogus.status_code == 400
    # Just under the limit is read, and refused for what it says, not for its size.
    near = {"query": "x" * (BODY_LIMIT - 100)}
    _error(client.post("/retrieve", headers=auth("reader_eu"), json=near), 422, "validation_error")


def test_source_paths_outside_the_roots_are_400(http: tuple[TestClient, Path]) -> None:
    client, root = http
    sources = root / "sources"
    outside = root / "outside"
    outside.mkdir(exist_ok=True)
    (outside / "secret.md").write_text("# not for the index\n")
    sibling = root / "sources-evil"  # shares the root's name as a prefix, but is not under it
    sibling.mkdir(exist_ok=True)
    link = sources / "eu-internal" / "link-out"
    if not link.exists():
        link.symlink_to(outside, target_is_directory=True)
    candidates = [
        str(outside),
        str(sibling),
        f"{sources}/eu-internal/../../outside",
        f"{sources}/../outside",
        str(link),
        "../outside",
        "/etc",
        "/",
        str(sources / "eu-internal" / "leave-policy.md"),  # a file, not a directory
        str(sources / "does-not-exist"),
    ]
    for path in candidates:
        response = client.post(
            "/corpora",
            headers=auth("steward"),
            json={"name": "escape", "region": "eu", "sensitivity": "public", "source_path": path},
        )
        _error(response, 400, "invalid_request")
    response = client.post(
        "/corpora",
        headers=auth("steward"),
        json={"name": "escape", "region": "eu", "sensitivity": "public", "source_path": "a\x00b"},
    )
    _error(response, 422, "validation_error")
    assert client.get("/corpora", headers=auth("steward")).json() == []


def test_request_ids(http: tuple[TestClient, Path]) -> None:
    client, _ = http
    first, second = client.get("/healthz"), client.get("/healthz")
    assert first.headers["X-Request-ID"] != second.headers["X-Request-ID"]
    offered = client.get("/healthz", headers={"X-Request-ID": "gateway-1234abcd"})
    assert offered.headers["X-Request-ID"] == "gateway-1234abcd"
    hostile = client.get("/healthz", headers={"X-Request-ID": "x\r\nSet-Cookie: a=b"})
    assert hostile.headers["X-Request-ID"] != "x\r\nSet-Cookie: a=b" and "set-cookie" not in hostile.headers


def test_urls_over_the_limit_are_414_in_the_path_or_the_query(http: tuple[TestClient, Path]) -> None:
    client, _ = http
    # Four bytes of UTF-8 a character, twelve once percent-encoded: the limit is on what is sent.
    long_id = "\U000ae016" * (MAX_URL_BYTES // 12 + 1)
    assert str(MAX_URL_BYTES) in _error(
        client.get(f"/corpora/{long_id}/pii-report", headers=auth("steward")), 414, "uri_too_long"
    )
    _error(
        client.get("/audit/events", params={"cursor": "c" * MAX_URL_BYTES}, headers=auth("auditor")),
        414,
        "uri_too_long",
    )
    # Refused before authentication too: an anonymous caller gets the same answer, not a 401.
    _error(client.get(f"/corpora/{long_id}/pii-report"), 414, "uri_too_long")
    # Just under the limit the request goes on to the route (an unknown corpus).
    short_id = "\U000ae016" * ((MAX_URL_BYTES - 64) // 12)
    assert client.get(f"/corpora/{short_id}/pii-report", headers=auth("steward")).status_code == 404


def test_on_a_socket_a_long_url_is_answered_and_never_reset(http: tuple[TestClient, Path]) -> None:
    # The server's HTTP parser reads a request head of up to MAX_REQUEST_HEAD_BYTES, so an over-long URL
    # below that gets the app's 414 in JSON. (Beyond it, the parser's own refusal closes the connection
    # with the rest unread, and a client may see a reset instead of the answer: what a fuzzer once met.)
    client, _ = http
    runtime = client.app.state.runtime  # type: ignore[attr-defined]
    long_id = "%F1%A0%AA%99" * ((MAX_REQUEST_HEAD_BYTES - 8 * 1024) // 12)
    # http.client, not httpx: httpx refuses to send a URL over 64 kB.
    with live_server(runtime.settings, runtime) as (url, _):
        for _ in range(10):
            connection = HTTPConnection(urlsplit(url).netloc, timeout=30)
            try:
                connection.request("GET", f"/corpora/{long_id}/pii-report", headers=auth("steward"))
                response = connection.getresponse()
                body = json.loads(response.read())
            finally:
                connection.close()
            assert response.status == 414 and body["type"] == "uri_too_long", body
