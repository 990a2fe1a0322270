"""Console sessions and charts without a server: signed cookies, expiry, sign-out, CSRF, the key binding, the
secret file, and that chart labels are escaped."""

from __future__ import annotations

from pathlib import Path

import pytest

from govrag.console.charts import horizontal_bars, stacked_columns
from govrag.console.sessions import ApiKeySignIn, SessionCodec, load_secret
from retrieval.errors import AuthenticationError
from retrieval.identity import PrincipalDirectory, PrincipalEntry, hash_api_key
from retrieval.settings import ConsoleSettings, Settings

pytestmark = pytest.mark.unit

SECRET = b"s" * 32


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def directory(**keys: str) -> PrincipalDirectory:
    return PrincipalDirectory(
        [
            PrincipalEntry(id=pid, api_key_sha256=hash_api_key(key), roles=["steward"])
            for pid, key in keys.items()
        ]
    )


def test_a_session_cookie_round_trips_and_expires() -> None:
    clock = Clock()
    codec = SessionCodec(SECRET, 30 * 60, clock)
    cookie, session = codec.issue("sam", "binding")
    assert codec.read(cookie) == session
    clock.now += 30 * 60 - 1
    assert codec.read(cookie).principal_id == "sam"
    clock.now += 1
    with pytest.raises(AuthenticationError, match="expired"):
        codec.read(cookie)


@pytest.mark.parametrize("cookie", [None, "", "abc", "a.b.c", "e30.AAAA"])
def test_malformed_cookies_are_no_session(cookie: str | None) -> None:
    with pytest.raises(AuthenticationError):
        SessionCodec(SECRET, 60).read(cookie)


def test_a_cookie_signed_with_another_secret_or_edited_is_refused() -> None:
    cookie, _ = SessionCodec(b"t" * 32, 60).issue("sam", "binding")
    with pytest.raises(AuthenticationError):
        SessionCodec(SECRET, 60).read(cookie)
    mine, _ = SessionCodec(SECRET, 60).issue("sam", "binding")
    payload, signature = mine.split(".")
    with pytest.raises(AuthenticationError):
        SessionCodec(SECRET, 60).read(f"{payload[:-2]}xx.{signature}")


def test_an_ended_session_stays_ended_and_the_list_forgets_expired_ones() -> None:
    clock = Clock()
    codec = SessionCodec(SECRET, 60, clock)
    first, session = codec.issue("sam", "b")
    codec.end(session)
    with pytest.raises(AuthenticationError, match="ended"):
        codec.read(first)
    second, other = codec.issue("sam", "b")
    assert codec.read(second) == other
    clock.now += 61
    codec.end(codec.issue("sam", "b")[1])
    assert len(codec._ended) == 1  # the first ended session expired and was dropped


def test_csrf_tokens_belong_to_their_session() -> None:
    codec = SessionCodec(SECRET, 60)
    token = codec.csrf_token("session-a")
    assert codec.csrf_ok("session-a", token)
    assert not codec.csrf_ok("session-b", token)
    assert not codec.csrf_ok("session-a", None)
    assert not codec.csrf_ok("session-a", "")


def test_api_key_sign_in_binds_the_session_to_the_key() -> None:
    current = [directory(sam="key-1")]
    method = ApiKeySignIn(lambda: current[0], SECRET)
    signed_in = method.sign_in({"api_key": " key-1 "})
    assert signed_in.principal.id == "sam" and "key-1" not in signed_in.binding
    assert hash_api_key("key-1") not in signed_in.binding
    assert method.recheck("sam", signed_in.binding).id == "sam"
    for form in ({"api_key": "key-2"}, {"api_key": ""}, {}, {"api_key": "k" * 600}):
        with pytest.raises(AuthenticationError):
            method.sign_in(form)
    current[0] = directory(sam="key-2")  # the key was replaced
    with pytest.raises(AuthenticationError):
        method.recheck("sam", signed_in.binding)
    current[0] = directory(other="key-1")  # the principal was removed
    with pytest.raises(AuthenticationError):
        method.recheck("sam", signed_in.binding)


def test_the_secret_is_made_once_and_kept(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    first = load_secret(settings)
    assert len(first) == 32 and load_secret(settings) == first
    assert (tmp_path / "console-secret").stat().st_mode & 0o777 == 0o600
    configured = Settings(data_dir=tmp_path, console=ConsoleSettings(session_secret="x" * 40))
    assert load_secret(configured) == b"x" * 40
    with pytest.raises(ValueError, match="32 characters"):
        ConsoleSettings(session_secret="short")


def test_chart_labels_are_escaped() -> None:
    bars = horizontal_bars("<b>", [("<script>alert(1)</script>", 3)])
    assert "<script>" not in bars and "&lt;script&gt;" in bars
    columns = stacked_columns("days", [("<i>", {"answered": 2, "denied": 1})], ["answered", "denied"])
    assert "<i>" not in columns.replace("<title>", "") and "&lt;i&gt;" in columns
    assert ">3</text>" in columns  # the total is written, not only drawn
