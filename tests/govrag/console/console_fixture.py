"""A runtime with the e2e test corpora and principals, for the console's tests, and a sign-in helper."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
from fastapi.testclient import TestClient

from retrieval.settings import Settings
from tests.govrag.e2e.corpus_fixture import KEYS, write_principals, write_sources


def console_settings(root: Path) -> Settings:
    write_sources(root / "sources")
    write_principals(root / "principals.yaml")
    return Settings(
        data_dir=root / "data",
        database_url=f"sqlite:///{root / 'govrag.db'}",
        source_roots=[root / "sources"],
        principals_file=root / "principals.yaml",
    )


def csrf_of(page: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert match, "the page has no CSRF token"
    return match.group(1)


def sign_in(client: TestClient | httpx.Client, who: str) -> httpx.Response:
    """Sign in through the form as the test principal `who`; the client keeps the session cookie."""
    form = client.get("/console/login")
    return client.post(
        "/console/login",
        data={"api_key": KEYS[who], "csrf_token": csrf_of(form.text)},
        follow_redirects=False,
    )
