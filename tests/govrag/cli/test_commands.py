"""The assembled `govrag` CLI: every command of every audience has --help, and the commands that call a
service turn the client's errors into their message and exit code (1 refused, 2 unreachable or not govrag).

The live-service flows are in tests/govrag/e2e/test_cli.py; here a stdlib HTTP server stands in for a
service that refuses, or for something that is not govrag, since the CLI's handling of those answers is
under test."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from govrag.cli import app

pytestmark = pytest.mark.unit

runner = CliRunner()


def _commands(command: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    yield path
    for name, sub in getattr(command, "commands", {}).items():
        yield from _commands(sub, (*path, name))


ALL_COMMANDS = list(_commands(typer.main.get_command(app)))


def test_the_tree_has_every_audience() -> None:
    for command in (
        ("corpus", "register"),
        ("job", "show"),
        ("audit", "export"),
        ("store", "optimize"),
        ("privacy", "erase"),
        ("privacy", "lookup"),
    ):
        assert command in ALL_COMMANDS
    assert ("reindex",) in ALL_COMMANDS and ("eval", "retrieval") in ALL_COMMANDS


@pytest.mark.parametrize("command", ALL_COMMANDS, ids=lambda c: " ".join(c) or "govrag")
def test_every_command_has_help(command: tuple[str, ...]) -> None:
    result = runner.invoke(app, [*command, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.output


class _Answers(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path.startswith("/audit/"):
            self._send(403, "application/json", json.dumps({"type": "permission_denied", "detail": "no"}))
        else:
            self._send(200, "text/html", "<html>a login page</html>")

    def _send(self, status: int, content_type: str, body: str) -> None:
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def stand_in() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Answers)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_a_refusal_exits_1_with_the_status_type_and_detail(stand_in: str) -> None:
    result = runner.invoke(app, ["audit", "verify", "--url", stand_in], env={"GOVRAG_API_KEY": "k"})
    assert result.exit_code == 1
    assert "error 403: permission_denied: no" in result.output


def test_an_answer_that_is_not_govrags_exits_2_without_a_traceback(stand_in: str) -> None:
    result = runner.invoke(app, ["corpus", "list", "--url", stand_in], env={"GOVRAG_API_KEY": "k"})
    assert result.exit_code == 2 and "not govrag's" in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_an_unreachable_service_exits_2(tmp_path: Any) -> None:
    args = ["--url", "http://127.0.0.1:9"]
    listed = runner.invoke(app, ["corpus", "list", *args], env={"GOVRAG_API_KEY": "k"})
    assert (
        listed.exit_code == 2
        and "cannot reach the service at http://127.0.0.1:9: ConnectError" in listed.output
    )
    exported = runner.invoke(
        app, ["audit", "export", "-o", str(tmp_path / "x.jsonl"), *args], env={"GOVRAG_API_KEY": "k"}
    )
    assert exported.exit_code == 2 and "export from http://127.0.0.1:9 failed" in exported.output
    assert not (tmp_path / "x.jsonl").exists()


def test_a_missing_key_is_said_before_any_call() -> None:
    result = runner.invoke(
        app, ["job", "show", "j1", "--url", "http://127.0.0.1:9"], env={"GOVRAG_API_KEY": ""}
    )
    assert result.exit_code == 1 and "no API key" in result.output
