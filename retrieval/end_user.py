"""End users: the signed token a chat app passes as `X-End-User-Token`, verified and mapped to attributes.

The app authenticates with its own API key (`Authorization: Bearer <api key>`) and names the person it acts
for with a JWT from the organisation's identity provider. The token is verified here (PyJWT): RS256 or ES256
against configured public keys or a JWKS file, or HS256 with a shared secret; `iss`, `aud`, `exp` are
required and checked with `nbf` and `iat` (a small leeway for clock skew). An unsigned token (`alg: none`),
an algorithm not configured, a key of the wrong kind for the algorithm (no HS256 with a public key), a bad
signature, an expired or not-yet-valid token, another issuer or audience: each is a 401 with its reason.

What the person may read then comes from claims (`ClaimMapping`): groups, clearance, regions, and optionally
the e-mail address as the group `mailto:<address>`. The policy, not this module, decides what those mean.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from retrieval.domain import REGION_PATTERN, EndUser, Principal, Sensitivity
from retrieval.errors import ConfigurationError, EndUserTokenRejected
from retrieval.settings import ClaimMapping, EndUserSettings

HEADER = "X-End-User-Token"
MAIL_GROUP_PREFIX = "mailto:"
MAX_GROUPS = 512
MAX_NAME = 256
_PRINTABLE_NAME = re.compile(r"^[^\x00-\x1f\x7f]{1,256}$")
_SEPARATORS = re.compile(r"[\s,]+")

_REASONS: list[tuple[type[Exception], str]] = [
    (jwt.ExpiredSignatureError, "token expired"),
    (jwt.ImmatureSignatureError, "token not yet valid (nbf or iat in the future)"),
    (jwt.InvalidIssuerError, "token issuer not accepted"),
    (jwt.InvalidAudienceError, "token audience not accepted"),
    (jwt.InvalidIssuedAtError, "token iat claim is invalid"),
    (jwt.InvalidAlgorithmError, "token algorithm not accepted"),
    (jwt.DecodeError, "malformed token"),
]


@dataclass(frozen=True, slots=True)
class Requester:
    """Who a request is from: the calling app (API key) and the end user it acts for, if any."""

    caller: Principal
    end_user: EndUser | None = None


@dataclass(frozen=True, slots=True)
class _Key:
    kid: str | None
    algorithm: str  # the one algorithm this key verifies
    key: Any


def group_for_address(address: str) -> str:
    """The group an e-mail address stands for (what recipient ACLs and the e-mail claim both name)."""
    return MAIL_GROUP_PREFIX + address.strip().lower()


def _reject(reason: str) -> EndUserTokenRejected:
    return EndUserTokenRejected(f"end-user token rejected: {reason}")


def _claim(claims: Mapping[str, Any], path: str) -> Any:
    value: Any = claims
    for part in path.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return None
        value = value[part]
    return value


def _names(value: Any, what: str) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        value = [part for part in _SEPARATORS.split(value) if part]
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise _reject(f"the {what} claim is not a list of strings")
    if len(value) > MAX_GROUPS:
        raise _reject(f"the {what} claim has more than {MAX_GROUPS} entries")
    return value


def end_user_from_claims(claims: Mapping[str, Any], mapping: ClaimMapping) -> EndUser:
    """The end user a set of (verified) claims describes; `EndUserTokenRejected` if a claim is unusable."""
    subject = _claim(claims, mapping.subject)
    if not isinstance(subject, str) or not _PRINTABLE_NAME.match(subject) or len(subject) > 200:
        raise _reject(f"the {mapping.subject} claim (the end user's id) is missing or invalid")
    groups = _names(_claim(claims, mapping.groups), "groups")
    for group in groups:
        if not _PRINTABLE_NAME.match(group):
            raise _reject("the groups claim holds an empty, over-long or unprintable name")
        # An address group stands for a mailbox the identity provider verified; from the groups claim it
        # would let whoever controls group names read any recipient's mail.
        if group.strip().lower().startswith(MAIL_GROUP_PREFIX):
            raise _reject(
                "the groups claim may not hold mailto: groups (only a verified e-mail claim gives one)"
            )
    if mapping.email is not None:
        address = _claim(claims, mapping.email)
        # Only an explicit `true`: a token without the claim says nothing about the address.
        verified = claims.get("email_verified") is True
        if isinstance(address, str) and "@" in address and verified and len(address) <= 200:
            groups.append(group_for_address(address))
    raw_clearance = _claim(claims, mapping.clearance)
    if raw_clearance is None:
        raw_clearance = mapping.default_clearance
    if not isinstance(raw_clearance, str) or raw_clearance not in Sensitivity.__members__:
        raise _reject("the clearance claim is not one of public, internal, confidential, restricted")
    regions = _names(_claim(claims, mapping.regions), "regions")
    if not all(REGION_PATTERN.match(region) for region in regions):
        raise _reject("the regions claim holds an invalid region name")
    return EndUser(
        id=subject,
        groups=frozenset(groups),
        clearance=Sensitivity[raw_clearance],
        regions=frozenset(regions),
    )


def _pem_key(path: Path) -> _Key:
    try:
        loaded = serialization.load_pem_public_key(path.read_bytes())
    except (OSError, ValueError) as exc:
        raise ConfigurationError(f"cannot load the end-user public key {path}: {exc}") from exc
    if isinstance(loaded, rsa.RSAPublicKey):
        return _Key(None, "RS256", loaded)
    if isinstance(loaded, ec.EllipticCurvePublicKey) and isinstance(loaded.curve, ec.SECP256R1):
        return _Key(None, "ES256", loaded)
    raise ConfigurationError(f"end-user public key {path}: only RSA and P-256 keys are supported")


def _jwks_keys(path: Path) -> list[_Key]:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        jwks = jwt.PyJWKSet.from_dict(document)
    except (OSError, ValueError, jwt.PyJWKSetError, jwt.PyJWKError) as exc:
        raise ConfigurationError(f"cannot load the end-user JWKS file {path}: {exc}") from exc
    keys = []
    for jwk in jwks.keys:
        # Symmetric keys never come from a key set: HS256 is the configured secret or nothing, so a public
        # document can never make the service accept tokens anyone could sign.
        if jwk.key_type == "RSA":
            keys.append(_Key(jwk.key_id, "RS256", jwk.key))
        elif (
            jwk.key_type == "EC"
            and isinstance(jwk.key, ec.EllipticCurvePublicKey)
            and isinstance(jwk.key.curve, ec.SECP256R1)
        ):
            keys.append(_Key(jwk.key_id, "ES256", jwk.key))
    if not keys:
        raise ConfigurationError(f"end-user JWKS file {path} holds no RSA or P-256 public key")
    return keys


class EndUserVerifier:
    """Verifies end-user tokens against the configured keys and maps their claims."""

    def __init__(self, settings: EndUserSettings) -> None:
        self._settings = settings
        keys: list[_Key] = [_pem_key(path) for path in settings.public_key_files]
        if settings.jwks_file is not None:
            keys.extend(_jwks_keys(settings.jwks_file))
        if settings.hs256_secret is not None:
            keys.append(_Key(None, "HS256", settings.hs256_secret.get_secret_value().encode("utf-8")))
        self._keys = [key for key in keys if key.algorithm in settings.algorithms]
        self._required_roles = frozenset(settings.required_for_roles)

    @property
    def configured(self) -> bool:
        return bool(self._keys)

    @property
    def claim_mapping(self) -> ClaimMapping:
        return self._settings.claims

    def requester(self, caller: Principal, token: str | None) -> Requester:
        """The request's caller and end user; `EndUserTokenRejected` for a bad token or a missing one where
        the caller's role requires it."""
        if token is None or not token.strip():
            required = sorted(caller.roles & self._required_roles)
            if required:
                raise _reject(f"missing: callers with the role {required[0]!r} must send {HEADER}")
            return Requester(caller)
        return Requester(caller, self.verify(token.strip()))

    def verify(self, token: str) -> EndUser:
        if len(token) > self._settings.max_token_bytes:
            raise _reject("token too large")
        if not self._keys:
            raise _reject("this service accepts no end-user tokens (none configured)")
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise _reject("malformed token") from None
        algorithm = header.get("alg")
        if not isinstance(algorithm, str) or algorithm.lower() == "none":
            raise _reject("unsigned token (alg none) refused")
        if algorithm not in self._settings.algorithms:
            raise _reject(f"algorithm {algorithm[:16]!r} not accepted")
        kid = header.get("kid")
        # A token naming a key id is tried on that key (and on keys without one, e.g. PEM files).
        candidates = [
            key
            for key in self._keys
            if key.algorithm == algorithm and (kid is None or key.kid in (None, kid))
        ]
        if not candidates:
            raise _reject("no configured key matches the token's algorithm and key id")
        claims = self._decode(token, algorithm, candidates)
        return end_user_from_claims(claims, self._settings.claims)

    def _decode(self, token: str, algorithm: str, candidates: Sequence[_Key]) -> dict[str, Any]:
        for key in candidates:
            try:
                claims: dict[str, Any] = jwt.decode(
                    token,
                    key.key,
                    algorithms=[algorithm],
                    audience=self._settings.audience,
                    issuer=self._settings.issuer,
                    leeway=self._settings.leeway_seconds,
                    options={"require": ["exp", "iss", "aud"]},
                )
                return claims
            except jwt.InvalidSignatureError:
                continue  # another configured key may have signed it
            except jwt.MissingRequiredClaimError as exc:
                raise _reject(f"token lacks the {exc.claim} claim") from None
            except jwt.PyJWTError as exc:
                for kind, reason in _REASONS:
                    if isinstance(exc, kind):
                        raise _reject(reason) from None
                raise _reject("token is invalid") from None
        raise _reject("signature does not verify")
