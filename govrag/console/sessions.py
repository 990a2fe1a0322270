"""Console sign-in: who may sign in (a small interface: API keys today, OIDC later), signed session
cookies, CSRF tokens, and the key that signs them.

A session is a signed cookie, not a server-side record: `base64url(JSON payload) "." base64url(HMAC-SHA256)`.
The payload names the principal, the session's random id, its expiry and a *binding*: what must still
hold for the session to stay valid (for an API key, a keyed hash of the key's sha256 in the principals file).
Every request re-checks the binding against the principal directory in force, so a key that is removed or
replaced ends the sessions it opened. Sign-out adds the session id to an in-process list of ended sessions
until its expiry (one service process holds the console; with several, sign-out still clears the browser's
cookie but another process would accept a copied cookie until it expires).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from retrieval.domain import Principal
from retrieval.errors import AuthenticationError, ConfigurationError
from retrieval.identity import PrincipalDirectory
from retrieval.settings import Settings

SECRET_FILE = "console-secret"  # noqa: S105 - a file name, not a secret


@dataclass(frozen=True, slots=True)
class SignedIn:
    """Who signed in, and the binding a later request must find unchanged."""

    principal: Principal
    binding: str


class SignInMethod(Protocol):
    """One way to sign in to the console. API keys now; an OIDC method would implement the same two calls."""

    def sign_in(self, form: Mapping[str, str]) -> SignedIn:
        """The principal of the submitted credentials; `AuthenticationError` if they are not valid."""

    def recheck(self, principal_id: str, binding: str) -> Principal:
        """The principal as it is now, if the binding still holds; `AuthenticationError` otherwise."""


class ApiKeySignIn:
    """Sign in with an API key of the principals directory (the form field `api_key`)."""

    def __init__(self, directory: Callable[[], PrincipalDirectory], secret: bytes) -> None:
        # A callable: the directory in force at each request, should the runtime ever replace it.
        self._directory = directory
        self._secret = secret

    def _binding(self, digest: str) -> str:
        # Keyed, so the cookie does not carry the key's sha256 that the principals file holds.
        return hmac.new(self._secret, f"api-key|{digest}".encode(), hashlib.sha256).hexdigest()[:32]

    def sign_in(self, form: Mapping[str, str]) -> SignedIn:
        key = form.get("api_key", "").strip()
        if not key or len(key) > 512:
            raise AuthenticationError("unknown API key")
        principal = self._directory().authenticate(f"Bearer {key}")
        digest = self._directory().key_digest(principal.id)
        if digest is None:  # pragma: no cover - authenticate just found it
            raise AuthenticationError("unknown API key")
        return SignedIn(principal, self._binding(digest))

    def recheck(self, principal_id: str, binding: str) -> Principal:
        directory = self._directory()
        digest = directory.key_digest(principal_id)
        if digest is None or not hmac.compare_digest(self._binding(digest), binding):
            raise AuthenticationError("the key of this session is no longer valid")
        return directory.get(principal_id)


@dataclass(frozen=True, slots=True)
class Session:
    session_id: str
    principal_id: str
    binding: str
    expires_at: float


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class SessionCodec:
    """Issues and checks session cookies and CSRF tokens with one secret."""

    def __init__(self, secret: bytes, lifetime_s: float, clock: Callable[[], float] = time.time) -> None:
        self._secret = secret
        self._lifetime_s = lifetime_s
        self._clock = clock
        self._ended: dict[str, float] = {}
        self._lock = threading.Lock()

    @property
    def lifetime_s(self) -> float:
        return self._lifetime_s

    def _sign(self, purpose: str, text: str) -> str:
        return _b64(hmac.new(self._secret, f"{purpose}|{text}".encode(), hashlib.sha256).digest())

    def issue(self, principal_id: str, binding: str) -> tuple[str, Session]:
        session = Session(secrets.token_urlsafe(16), principal_id, binding, self._clock() + self._lifetime_s)
        payload = _b64(
            json.dumps(
                {"sid": session.session_id, "pid": principal_id, "bnd": binding, "exp": session.expires_at},
                separators=(",", ":"),
            ).encode()
        )
        return f"{payload}.{self._sign('session', payload)}", session

    def read(self, cookie: str | None) -> Session:
        """The session of a cookie; `AuthenticationError` if it is missing, forged, expired or ended."""
        if not cookie or len(cookie) > 4096 or cookie.count(".") != 1:
            raise AuthenticationError("not signed in")
        payload, signature = cookie.split(".")
        if not hmac.compare_digest(signature, self._sign("session", payload)):
            raise AuthenticationError("not signed in")
        try:
            raw = json.loads(_unb64(payload))
            session = Session(str(raw["sid"]), str(raw["pid"]), str(raw["bnd"]), float(raw["exp"]))
        except (ValueError, KeyError, TypeError) as exc:
            raise AuthenticationError("not signed in") from exc
        now = self._clock()
        if session.expires_at <= now:
            raise AuthenticationError("the session has expired")
        with self._lock:
            if session.session_id in self._ended:
                raise AuthenticationError("the session was ended")
        return session

    def end(self, session: Session) -> None:
        now = self._clock()
        with self._lock:
            # Forget the ended sessions that have expired anyway, so the list stays as small as the live ones.
            for session_id in [s for s, expiry in self._ended.items() if expiry <= now]:
                del self._ended[session_id]
            self._ended[session.session_id] = session.expires_at

    def csrf_token(self, session_id: str) -> str:
        """The token every form of this session carries: a keyed hash of the session id, so only pages this
        service rendered for the session know it."""
        return self._sign("csrf", session_id)

    def csrf_ok(self, session_id: str, token: str | None) -> bool:
        return bool(token) and hmac.compare_digest(str(token), self.csrf_token(session_id))


def load_secret(settings: Settings) -> bytes:
    """The configured secret, else a random one made once and kept in `<data_dir>/console-secret` (0600)."""
    configured = settings.console.session_secret
    if configured is not None:
        return configured.get_secret_value().encode("utf-8")
    path = settings.data_dir / SECRET_FILE
    if not path.exists():
        _write_new_secret(path)
    try:
        secret = bytes.fromhex(path.read_text(encoding="utf-8").strip())
    except (OSError, ValueError) as exc:
        raise ConfigurationError(f"cannot read the console secret in {path}: {type(exc).__name__}") from exc
    if len(secret) < 32:
        raise ConfigurationError(f"the console secret in {path} is shorter than 32 bytes")
    return secret


def _write_new_secret(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(secrets.token_hex(32))
        handle.flush()
        os.fsync(handle.fileno())
    try:
        os.link(temporary, path)  # fails if another process made it first: its secret wins
    except FileExistsError:
        pass
    finally:
        temporary.unlink()
