"""Principals file parsing and bearer-key authentication."""

from __future__ import annotations

from pathlib import Path

import pytest

from retrieval.domain import Sensitivity
from retrieval.errors import AuthenticationError, ConfigurationError
from retrieval.identity import PrincipalDirectory, hash_api_key

pytestmark = pytest.mark.unit


def write(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "principals.yaml"
    path.write_text(body)
    return path


A, B = "a" * 64, "b" * 64

GOOD = f"""
principals:
  - id: alice
    api_key_sha256: {hash_api_key("alice-key")}
    roles: [reader]
    groups: [hr]
    clearance: internal
    regions: [eu]
  - id: sam
    api_key_sha256: {hash_api_key("sam-key")}
    roles: [steward, auditor]
"""


def test_bearer_key_resolves_to_its_principal(tmp_path: Path) -> None:
    directory = PrincipalDirectory.from_file(write(tmp_path, GOOD))
    alice = directory.authenticate("Bearer alice-key")
    assert alice.id == "alice"
    assert alice.clearance is Sensitivity.internal
    assert alice.regions == frozenset({"eu"})
    assert alice.groups == frozenset({"hr"})
    assert directory.authenticate("bearer sam-key").roles == frozenset({"steward", "auditor"})


@pytest.mark.parametrize(
    "header", [None, "", "Bearer", "Bearer ", "Basic YWxpY2U6eA==", "Bearer wrong-key", "alice-key"]
)
def test_bad_credentials_are_rejected(tmp_path: Path, header: str | None) -> None:
    directory = PrincipalDirectory.from_file(write(tmp_path, GOOD))
    with pytest.raises(AuthenticationError):
        directory.authenticate(header)


def test_no_principals_file_authenticates_nobody() -> None:
    with pytest.raises(AuthenticationError):
        PrincipalDirectory.from_file(None).authenticate("Bearer anything")


@pytest.mark.parametrize(
    "body",
    [
        "principals: [{id: x, api_key_sha256: nothex, roles: [reader]}]",
        f"principals: [{{id: x, api_key_sha256: {'a' * 64}, roles: [superuser]}}]",
        f"principals: [{{id: x, api_key_sha256: {'a' * 64}, roles: [reader], clearance: secret}}]",
        f"principals: [{{id: x, api_key_sha256: {'a' * 64}, roles: [reader], regions: ['EU!']}}]",
        f"principals: [{{id: x, api_key_sha256: {'a' * 64}, roles: [reader], api_key: plain}}]",
        f"principals: [{{id: x, api_key_sha256: {A}, roles: [reader]}},"
        f" {{id: x, api_key_sha256: {B}, roles: [reader]}}]",
        f"principals: [{{id: x, api_key_sha256: {A}, roles: [reader]}},"
        f" {{id: y, api_key_sha256: {A}, roles: [reader]}}]",
        "principals: [{{",
    ],
)
def test_invalid_principals_file_stops_start_up(tmp_path: Path, body: str) -> None:
    with pytest.raises(ConfigurationError):
        PrincipalDirectory.from_file(write(tmp_path, body))


def test_missing_file_is_a_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError):
        PrincipalDirectory.from_file(tmp_path / "absent.yaml")
