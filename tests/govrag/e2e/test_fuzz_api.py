"""schemathesis against the service's own OpenAPI, on a live socket, as every role: no 5xx, and every
response matches the schema it documents.

CI runs a few examples per operation and role;
`GOVRAG_FUZZ_EXAMPLES=200 pytest tests/govrag/e2e/test_fuzz_api.py` runs a bigger campaign.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import schemathesis
import yaml
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from govrag.api.app import create_app
from retrieval.identity import hash_api_key
from retrieval.settings import Settings
from tests.govrag.e2e.corpus_fixture import KEYS, write_principals, write_sources
from tests.govrag.e2e.live_service import ingest, live_server, register_and_approve

pytestmark = [pytest.mark.integration, pytest.mark.slow]

EXAMPLES = int(os.environ.get("GOVRAG_FUZZ_EXAMPLES", "3"))
ADMIN_KEY = "key-admin-fuzz"
ROLES = {
    "reader": KEYS["reader_eu"],
    "steward": KEYS["steward"],
    "auditor": KEYS["auditor"],
    "admin": ADMIN_KEY,
    "anonymous": None,
}


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("fuzz")
    sources = write_sources(root / "sources")
    principals = root / "principals.yaml"
    write_principals(principals)
    entries = yaml.safe_load(principals.read_text())
    entries["principals"].append(
        {"id": "admin", "roles": ["admin"], "api_key_sha256": hash_api_key(ADMIN_KEY), "regions": ["eu"]}
    )
    principals.write_text(yaml.safe_dump(entries))
    config = Settings(data_dir=root / "data", source_roots=[root / "sources"], principals_file=principals)
    with live_server(config) as (url, _), httpx.Client(base_url=url) as http:
        corpus_id = register_and_approve(http, "eu-internal", "eu", "internal", sources["eu-internal"])
        assert ingest(http, corpus_id)["status"] == "succeeded"
        yield url


# The schema is built from the app object at collection (no backends are built for that); the test checks
# that the live service serves the same one. (schemathesis's fixture-based loader relies on a pytest
# internal that pytest 9 removed.)
OPENAPI = create_app(Settings()).openapi()
schema = schemathesis.openapi.from_dict(OPENAPI)


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_no_server_error_and_responses_match_the_schema(case: Any, service: str) -> None:
    # Every generated request is sent once as each role (and once without a key), so each role's path
    # through authentication and policy meets the same inputs.
    for key in ROLES.values():
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        case.call_and_validate(
            base_url=service,
            headers=headers,
            checks=[not_a_server_error, response_schema_conformance],
            timeout=60,
        )


def test_the_live_service_serves_the_schema_under_test(service: str) -> None:
    # To callers with a key: the docs are not public unless GOVRAG_DOCS_PUBLIC says so.
    assert httpx.get(f"{service}/openapi.json").status_code == 401
    keyed = httpx.get(f"{service}/openapi.json", headers={"Authorization": f"Bearer {ADMIN_KEY}"})
    assert keyed.json() == OPENAPI
