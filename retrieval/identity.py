"""Who is calling: principals from a YAML file, each known by the sha256 of its API key (never the key)."""

from __future__ import annotations

import hashlib
import hmac
import logging
import threading
import time
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from retrieval.domain import REGION_PATTERN, Principal, Role, Sensitivity
from retrieval.errors import AuthenticationError, ConfigurationError, NotFound

logger = logging.getLogger(__name__)

_HEX64 = r"^[0-9a-f]{64}$"


class PrincipalEntry(BaseModel):
    """One entry of the principals file."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9_.@:-]+$")
    api_key_sha256: str = Field(pattern=_HEX64)
    roles: list[Role] = Field(min_length=1)
    groups: list[str] = Field(default_factory=list)
    clearance: Sensitivity = Sensitivity.public
    regions: list[str] = Field(default_factory=list)

    @field_validator("clearance", mode="before")
    @classmethod
    def _clearance(cls, value: object) -> object:
        return Sensitivity.parse(value) if isinstance(value, str) else value

    @field_validator("regions")
    @classmethod
    def _regions(cls, value: list[str]) -> list[str]:
        for region in value:
            if not REGION_PATTERN.match(region):
                raise ValueError(f"invalid region {region!r}")
        return value

    def to_principal(self) -> Principal:
        return Principal(
            id=self.id,
            roles=frozenset(role.value for role in self.roles),
            groups=frozenset(self.groups),
            clearance=self.clearance,
            regions=frozenset(self.regions),
        )


class PrincipalsFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    principals: list[PrincipalEntry]


def hash_api_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


class PrincipalDirectory:
    """Resolves bearer keys to principals.

    Loaded from a file with `check_interval_s`, it looks (at most that often, on a lookup, by the file's
    modification time, size and inode) whether the file changed and loads it again, so that a revoked key
    stops working within seconds and without a restart. A changed file that does not load keeps the
    principals in force (as a refused policy reload does) and is logged; it is tried again when it changes.
    """

    def __init__(
        self, entries: list[PrincipalEntry], *, source: Path | None = None, check_interval_s: float = 0.0
    ) -> None:
        self._by_hash, self._by_id = _index(entries)
        self._source = source
        self._interval = check_interval_s
        self._next_check = time.monotonic() + check_interval_s
        self._seen = _file_fingerprint(source) if source is not None else None
        self._lock = threading.Lock()
        self.last_error: str | None = None

    @classmethod
    def from_file(cls, path: Path | None, check_interval_s: float = 0.0) -> PrincipalDirectory:
        """Load the file; no file configured means no principal can authenticate (deny by default)."""
        if path is None:
            return cls([])
        return cls(_read(path), source=path, check_interval_s=check_interval_s)

    def _refresh(self) -> None:
        if self._source is None or self._interval <= 0 or time.monotonic() < self._next_check:
            return
        with self._lock:
            if time.monotonic() < self._next_check:
                return  # another thread looked meanwhile
            self._next_check = time.monotonic() + self._interval
            seen = _file_fingerprint(self._source)
            if seen == self._seen:
                return
            self._seen = seen
            try:
                self._by_hash, self._by_id = _index(_read(self._source))
                self.last_error = None
                logger.info("principals file reloaded: %d principals", len(self._by_hash))
            except ConfigurationError as exc:
                self.last_error = exc.detail
                logger.error("principals file reload refused, the loaded principals stay: %s", exc.detail)

    def __len__(self) -> int:
        self._refresh()
        return len(self._by_hash)

    def principals(self) -> list[Principal]:
        """Every principal of the file, ordered by id."""
        return [self._by_id[ident] for ident in sorted(self._by_id)]

    def get(self, principal_id: str) -> Principal:
        """The principal with this id (for explaining decisions); `NotFound` if there is none."""
        self._refresh()
        principal = self._by_id.get(principal_id)
        if principal is None:
            raise NotFound(f"no principal {principal_id!r} in the principals file")
        return principal

    def key_digest(self, principal_id: str) -> str | None:
        """The sha256 of the principal's key as the file has it now; None once the principal is gone.

        A sign-in session keeps what this returned at sign-in and compares it on every request, so a key that
        is removed or replaced ends the sessions it opened.
        """
        self._refresh()
        return next((digest for digest, p in self._by_hash.items() if p.id == principal_id), None)

    def authenticate(self, authorization: str | None) -> Principal:
        """The principal of an `Authorization: Bearer <key>` header; `AuthenticationError` otherwise."""
        if not authorization:
            raise AuthenticationError("missing Authorization header (expected 'Bearer <api key>')")
        scheme, _, key = authorization.partition(" ")
        key = key.strip()
        if scheme.lower() != "bearer" or not key:
            raise AuthenticationError("malformed Authorization header (expected 'Bearer <api key>')")
        digest = hash_api_key(key)
        self._refresh()
        for known, principal in self._by_hash.items():
            # Constant-time comparison over every entry, so timing says nothing about near matches.
            if hmac.compare_digest(known, digest):
                return principal
        raise AuthenticationError("unknown API key")


def _index(entries: list[PrincipalEntry]) -> tuple[dict[str, Principal], dict[str, Principal]]:
    ids = [entry.id for entry in entries]
    if len(ids) != len(set(ids)):
        raise ConfigurationError("principals file: duplicate principal id")
    hashes = [entry.api_key_sha256 for entry in entries]
    if len(hashes) != len(set(hashes)):
        raise ConfigurationError("principals file: two principals share an API key")
    by_hash = {entry.api_key_sha256: entry.to_principal() for entry in entries}
    return by_hash, {principal.id: principal for principal in by_hash.values()}


def _read(path: Path) -> list[PrincipalEntry]:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {"principals": []}
        return PrincipalsFile.model_validate(raw).principals
    except OSError as exc:
        raise ConfigurationError(f"cannot read principals file {path}: {exc.strerror}") from exc
    except (yaml.YAMLError, ValidationError) as exc:
        raise ConfigurationError(f"invalid principals file {path}: {exc}") from exc


def _file_fingerprint(path: Path) -> tuple[int, int, int] | None:
    try:
        stat = path.stat()
    except OSError:
        return None
    return (stat.st_mtime_ns, stat.st_size, stat.st_ino)
