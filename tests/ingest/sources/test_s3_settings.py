"""GOVRAG_SOURCE_ROOTS holds folders and `s3://` roots side by side; the S3 secret stays secret."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from retrieval.settings import Settings

pytestmark = pytest.mark.unit


def test_folders_and_s3_roots_are_split(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GOVRAG_SOURCE_ROOTS", json.dumps(["/srv/corpora", "s3://bucket/pre", "s3://other"]))
    settings = Settings()
    assert settings.source_roots == [Path("/srv/corpora")]
    assert settings.object_source_roots == ["s3://bucket/pre", "s3://other"]


def test_a_bare_folder_still_works(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GOVRAG_SOURCE_ROOTS", "/srv/corpora")
    settings = Settings()
    assert settings.source_roots == [Path("/srv/corpora")] and settings.object_source_roots == []


@pytest.mark.parametrize("root", ["s3://bucket/../x", "s3://bucket//x", "s3://B", "s3://bucket/./x", "s3://"])
def test_malformed_s3_roots_are_refused(monkeypatch: pytest.MonkeyPatch, root: str) -> None:
    monkeypatch.setenv("GOVRAG_SOURCE_ROOTS", json.dumps([root]))
    with pytest.raises(ValidationError):
        Settings()


def test_s3_settings_from_the_environment_keep_the_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GOVRAG_S3__ENDPOINT_URL", "http://minio:9000")
    monkeypatch.setenv("GOVRAG_S3__REGION", "eu-west-1")
    monkeypatch.setenv("GOVRAG_S3__ACCESS_KEY_ID", "AKID")
    monkeypatch.setenv("GOVRAG_S3__SECRET_ACCESS_KEY", "very-secret-value")
    settings = Settings()
    assert settings.s3.endpoint_url == "http://minio:9000" and settings.s3.region == "eu-west-1"
    assert settings.s3.secret_access_key is not None
    assert settings.s3.secret_access_key.get_secret_value() == "very-secret-value"
    assert "very-secret-value" not in repr(settings) and "very-secret-value" not in str(settings)
