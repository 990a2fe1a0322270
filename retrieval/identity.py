"""Who is calling: principals from a YAML file, each known by the sha256 of its API key (never the key)."""

from __future__ import annotations

import hashlib
import hmac
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from retrieval.domain import REGION_PATTERN, Principal, Role, Sensitivity
from retrieval.errors import AuthenticationError, ConfigurationError, NotFound

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
    """Resolves bearer keys to principals."""

    def __init__(self, entries: list[PrincipalEntry]) -> None:
        ids = [entry.id for entry in entries]
        if len(ids) != len(set(ids)):
            raise ConfigurationError("principals file: duplicate principal id")
        hashes = [entry.api_key_sha256 for entry in entries]
        if len(hashes) != len(set(hashes)):
            raise ConfigurationError("principals file: two principals share an API key")
        self._by_hash = {entry.api_key_sha256: entry.to_principal() for entry in entries}
        self._by_id = {principal.id: principal for principal in self._by_hash.values()}
        self._digest_by_id = {entry.id: entry.api_key_sha256 for entry in entries}

    @classmethod
    def from_file(cls, path: Path | None) -> PrincipalDirectory:
        """Load the file; no file configured means no principal can authenticate (deny by default)."""
        if path is None:
            return cls([])
        try:
            raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {"principals": []}
            return cls(PrincipalsFile.model_validate(raw).principals)
        except OSError as exc:
            raise ConfigurationError(f"cannot read principals file {path}: {exc.strerror}") from exc
        except (yaml.YAMLError, ValidationError) as exc:
            raise ConfigurationError(f"invalid principals file {path}: {exc}") from exc

    def __len__(self) -> int:
        return len(self._by_hash)

    def principals(self) -> list[Principal]:
        """Every principal of the file, ordered by id."""
        return [self._by_id[ident] for ident in sorted(self._by_id)]

    def get(self, principal_id: str) -> Principal:
        """The principal with this id (for explaining decisions); `NotFound` if there is none."""
        principal = self._by_id.get(principal_id)
        if principal is None:
            raise NotFound(f"no principal {principal_id!r} in the principals file")
        return principal

    def key_digest(self, principal_id: str) -> str | None:
        """The sha256 of the principal's key as the file has it now; None once the principal is gone.

        A sign-in session keeps what this returned at sign-in and compares it on every request, so a key that
        is removed or replaced ends the sessions it opened.
        """
        return self._digest_by_id.get(principal_id)

    def authenticate(self, authorization: str | None) -> Principal:
        """The principal of an `Authorization: Bearer <key>` header; `AuthenticationError` otherwise."""
        if not authorization:
            raise AuthenticationError("missing Authorization header (expected 'Bearer <api key>')")
        scheme, _, key = authorization.partition(" ")
        key = key.strip()
        if scheme.lower() != "bearer" or not key:
            raise AuthenticationError("malformed Authorization header (expected 'Bearer <api key>')")
        digest = hash_api_key(key)
        for known, principal in self._by_hash.items():
            # Constant-time comparison over every entry, so timing says nothing about near matches.
            if hmac.compare_digest(known, digest):
                return principal
        raise AuthenticationError("unknown API key")
