"""End-user tokens: every way a token is refused (each with its reason), and the claim mapping."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from pydantic import SecretStr, ValidationError

from retrieval.domain import Principal, Sensitivity
from retrieval.end_user import EndUserVerifier
from retrieval.errors import ConfigurationError, EndUserTokenRejected
from retrieval.settings import ClaimMapping, EndUserSettings

pytestmark = pytest.mark.unit

ISSUER = "https://idp.example.com"
AUDIENCE = "govrag"
SECRET = "s" * 40
RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
OTHER_RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
EC_KEY = ec.generate_private_key(ec.SECP256R1())
APP = Principal(id="chat", roles=frozenset({"app"}), regions=frozenset({"eu"}))
READER = Principal(id="reader", roles=frozenset({"reader"}), regions=frozenset({"eu"}))


def pem(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey, path: Path) -> Path:
    path.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return path


def claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    base = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "alice",
        "iat": now,
        "nbf": now,
        "exp": now + 300,
        "groups": ["finance", "board"],
        "clearance": "confidential",
        "regions": ["eu", "us"],
    }
    base.update(overrides)
    return {key: value for key, value in base.items() if value is not None}


def rs256(payload: dict[str, Any], key: rsa.RSAPrivateKey = RSA_KEY, **headers: Any) -> str:
    return jwt.encode(payload, key, algorithm="RS256", headers=headers or None)


@pytest.fixture
def verifier(tmp_path: Path) -> EndUserVerifier:
    return EndUserVerifier(
        EndUserSettings(
            issuer=ISSUER,
            audience=AUDIENCE,
            algorithms=["RS256", "ES256", "HS256"],
            public_key_files=[pem(RSA_KEY, tmp_path / "rsa.pem"), pem(EC_KEY, tmp_path / "ec.pem")],
            hs256_secret=SecretStr(SECRET),
            leeway_seconds=5,
        )
    )


def rejected(verifier: EndUserVerifier, token: str) -> str:
    with pytest.raises(EndUserTokenRejected) as caught:
        verifier.verify(token)
    assert caught.value.type == "invalid_end_user_token"
    return caught.value.detail


def test_rs256_es256_and_hs256_tokens_verify_and_map(verifier: EndUserVerifier) -> None:
    for token in (
        rs256(claims()),
        jwt.encode(claims(), EC_KEY, algorithm="ES256"),
        jwt.encode(claims(), SECRET, algorithm="HS256"),
    ):
        user = verifier.verify(token)
        assert user.id == "alice"
        assert user.groups == {"finance", "board"}
        assert user.clearance is Sensitivity.confidential
        assert user.regions == {"eu", "us"}


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (lambda: claims(exp=int(time.time()) - 60), "token expired"),
        (lambda: claims(nbf=int(time.time()) + 600), "not yet valid"),
        (lambda: claims(iss="https://evil.example.com"), "issuer not accepted"),
        (lambda: claims(aud="another-service"), "audience not accepted"),
        (lambda: claims(exp=None), "lacks the exp claim"),
        (lambda: claims(iss=None), "lacks the iss claim"),
        (lambda: claims(aud=None), "lacks the aud claim"),
        (lambda: claims(sub=None), "sub claim (the end user's id) is missing"),
        (lambda: claims(clearance="top-secret"), "clearance claim"),
        (lambda: claims(regions=["EU!"]), "regions claim"),
        (lambda: claims(groups=[1, 2]), "groups claim"),
        (lambda: claims(groups=["bad\x00name"]), "groups claim"),
    ],
)
def test_bad_claims_are_refused_with_their_reason(
    verifier: EndUserVerifier, payload: Callable[[], dict[str, Any]], reason: str
) -> None:
    # Claims are made when the test runs, not when it is collected: a long run must not expire them first.
    assert reason in rejected(verifier, rs256(payload()))


def test_leeway_tolerates_small_clock_skew(verifier: EndUserVerifier) -> None:
    assert verifier.verify(rs256(claims(exp=int(time.time()) - 2))).id == "alice"
    assert verifier.verify(rs256(claims(nbf=int(time.time()) + 2))).id == "alice"


def test_unsigned_token_is_refused(verifier: EndUserVerifier) -> None:
    token = jwt.encode(claims(), None, algorithm="none")
    assert "alg none" in rejected(verifier, token)
    # Also with the algorithm written in other cases, and with a forged empty signature on a signed header.
    header, body, _ = rs256(claims()).split(".")
    forged_header = jwt.utils.base64url_encode(json.dumps({"alg": "NONE", "typ": "JWT"}).encode()).decode()
    assert "alg none" in rejected(verifier, f"{forged_header}.{body}.")
    assert "signature does not verify" in rejected(verifier, f"{header}.{body}.")


def test_wrong_signature_is_refused(verifier: EndUserVerifier) -> None:
    assert "signature does not verify" in rejected(verifier, rs256(claims(), OTHER_RSA_KEY))
    assert "signature does not verify" in rejected(
        verifier, jwt.encode(claims(), "x" * 40, algorithm="HS256")
    )
    header, _, signature = rs256(claims()).split(".")
    tampered = jwt.utils.base64url_encode(json.dumps(claims(sub="mallory")).encode()).decode()
    assert "signature does not verify" in rejected(verifier, f"{header}.{tampered}.{signature}")


def test_algorithm_confusion_is_refused(tmp_path: Path, verifier: EndUserVerifier) -> None:
    """An HS256 token "signed" with the RSA public key must not pass: HS256 checks against the secret only."""
    public_pem = pem(RSA_KEY, tmp_path / "rsa.pem").read_bytes()
    # PyJWT refuses to HMAC with a PEM key, so the forged token is assembled by hand.
    header = jwt.utils.base64url_encode(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    body = jwt.utils.base64url_encode(json.dumps(claims()).encode())
    signature = hmac.new(public_pem, header + b"." + body, hashlib.sha256).digest()
    token = (header + b"." + body + b"." + jwt.utils.base64url_encode(signature)).decode()
    only_rsa = EndUserVerifier(
        EndUserSettings(issuer=ISSUER, audience=AUDIENCE, public_key_files=[tmp_path / "rsa.pem"])
    )
    assert "algorithm 'HS256' not accepted" in rejected(only_rsa, token)
    assert "signature does not verify" in rejected(verifier, token)  # HS256 on: checked against the secret


def test_garbage_and_oversized_tokens_are_refused(verifier: EndUserVerifier) -> None:
    assert "malformed token" in rejected(verifier, "not-a-token")
    assert "malformed token" in rejected(verifier, "a.b.c")
    assert "too large" in rejected(verifier, "x" * 9000)


def test_unconfigured_service_refuses_every_token() -> None:
    unconfigured = EndUserVerifier(EndUserSettings())
    assert not unconfigured.configured
    assert "none configured" in rejected(unconfigured, rs256(claims()))


def test_jwks_keys_are_chosen_by_key_id(tmp_path: Path) -> None:
    def jwk(key: rsa.RSAPrivateKey, kid: str) -> dict[str, Any]:
        data = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
        return {**data, "kid": kid, "use": "sig"}

    # A symmetric key in the set is ignored: HS256 is never verified with a published key.
    symmetric = {"kty": "oct", "k": jwt.utils.base64url_encode(SECRET.encode()).decode(), "kid": "sym"}
    jwks = {"keys": [jwk(RSA_KEY, "k1"), jwk(OTHER_RSA_KEY, "k2"), symmetric]}
    (tmp_path / "jwks.json").write_text(json.dumps(jwks))
    verifier = EndUserVerifier(
        EndUserSettings(
            issuer=ISSUER, audience=AUDIENCE, jwks_file=tmp_path / "jwks.json", algorithms=["RS256", "HS256"]
        )
    )
    assert verifier.verify(rs256(claims(), RSA_KEY, kid="k1")).id == "alice"
    assert verifier.verify(rs256(claims(), OTHER_RSA_KEY, kid="k2")).id == "alice"
    assert "signature does not verify" in rejected(verifier, rs256(claims(), OTHER_RSA_KEY, kid="k1"))
    assert "no configured key" in rejected(verifier, rs256(claims(), RSA_KEY, kid="unknown"))
    assert "no configured key" in rejected(
        verifier, jwt.encode(claims(), SECRET, algorithm="HS256", headers={"kid": "sym"})
    )


def test_missing_token_is_refused_only_where_the_role_requires_one(verifier: EndUserVerifier) -> None:
    with pytest.raises(EndUserTokenRejected, match="role 'app' must send X-End-User-Token"):
        verifier.requester(APP, None)
    with pytest.raises(EndUserTokenRejected, match="must send"):
        verifier.requester(APP, "  ")
    assert verifier.requester(READER, None).end_user is None
    requester = verifier.requester(APP, rs256(claims()))
    assert requester.caller == APP and requester.end_user is not None and requester.end_user.id == "alice"


def test_claim_mapping_is_configurable(tmp_path: Path) -> None:
    mapping = ClaimMapping(
        subject="preferred_username",
        groups="realm_access.roles",
        clearance="ext.level",
        regions="ext.regions",
        email="mail",
        default_clearance="internal",
    )
    verifier = EndUserVerifier(
        EndUserSettings(
            issuer=ISSUER,
            audience=AUDIENCE,
            algorithms=["HS256"],
            hs256_secret=SecretStr(SECRET),
            claims=mapping,
        )
    )
    payload = claims(
        sub="ignored",
        preferred_username="bob",
        groups=None,
        clearance=None,
        regions=None,
        realm_access={"roles": ["hr", "staff"]},
        ext={"regions": "eu us"},
        mail="Bob@Example.com",
        email_verified=True,
    )
    user = verifier.verify(jwt.encode(payload, SECRET, algorithm="HS256"))
    assert user.id == "bob"
    assert user.groups == {"hr", "staff", "mailto:bob@example.com"}
    assert user.clearance is Sensitivity.internal  # the default: no clearance claim
    assert user.regions == {"eu", "us"}
    unverified = jwt.encode({**payload, "email_verified": False}, SECRET, algorithm="HS256")
    assert "mailto:bob@example.com" not in verifier.verify(unverified).groups


@pytest.mark.parametrize("verified", [None, "true", 1, False], ids=["missing", "string", "one", "false"])
def test_an_address_counts_only_when_the_token_says_it_is_verified(verified: object) -> None:
    verifier = EndUserVerifier(
        EndUserSettings(
            issuer=ISSUER, audience=AUDIENCE, algorithms=["HS256"], hs256_secret=SecretStr(SECRET)
        )
    )
    payload = claims(email="bob@example.com")
    if verified is not None:
        payload["email_verified"] = verified
    groups = verifier.verify(jwt.encode(payload, SECRET, algorithm="HS256")).groups
    assert not any(group.startswith("mailto:") for group in groups)


@pytest.mark.parametrize("group", ["mailto:ceo@example.com", "MAILTO:ceo@example.com", " mailto:x@y.z"])
def test_an_address_group_in_the_groups_claim_is_refused(group: str) -> None:
    verifier = EndUserVerifier(
        EndUserSettings(
            issuer=ISSUER, audience=AUDIENCE, algorithms=["HS256"], hs256_secret=SecretStr(SECRET)
        )
    )
    token = jwt.encode(claims(groups=["staff", group]), SECRET, algorithm="HS256")
    with pytest.raises(EndUserTokenRejected, match="mailto"):
        verifier.verify(token)


def test_settings_refuse_unsafe_configurations(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="ISSUER"):
        EndUserSettings(public_key_files=[pem(RSA_KEY, tmp_path / "k.pem")])
    with pytest.raises(ValidationError, match="at least 32"):
        EndUserSettings(
            issuer=ISSUER, audience=AUDIENCE, algorithms=["HS256"], hs256_secret=SecretStr("short")
        )
    with pytest.raises(ValidationError, match="HS256 is not among"):
        EndUserSettings(issuer=ISSUER, audience=AUDIENCE, hs256_secret=SecretStr(SECRET))
    (tmp_path / "broken.pem").write_text("not a key")
    with pytest.raises(ConfigurationError, match="cannot load"):
        EndUserVerifier(
            EndUserSettings(issuer=ISSUER, audience=AUDIENCE, public_key_files=[tmp_path / "broken.pem"])
        )
