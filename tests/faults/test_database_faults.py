"""PostgreSQL restarts, or kills the service's connections, mid-run: 503 and no chunks while it is down, and
the requests after it succeed without a restart of the service."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from tests.conftest import _postgres_database
from tests.faults.private_postgres import private_postgres
from tests.faults.service import assert_unavailable, retrieve, serve, settings_for, stop
from tests.govrag.e2e.corpus_fixture import auth
from tests.govrag.e2e.live_service import ingest, register_and_approve

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_postgres_restarted_mid_run(tmp_path: Path) -> None:
    with private_postgres() as postgres:
        runtime, http = serve(settings_for(tmp_path, database_url=postgres.url))
        try:
            corpus_id = register_and_approve(
                http, "eu-internal", "eu", "internal", tmp_path / "sources" / "eu-internal"
            )
            assert ingest(http, corpus_id)["status"] == "succeeded"
            assert retrieve(http).json()["chunks"]

            postgres.stop()
            # The catalog and the provenance log are down: 503, and not one chunk.
            assert_unavailable(retrieve(http))
            assert http.get("/audit/events", headers=auth("auditor")).status_code == 503
            postgres.start()

            answers = [retrieve(http) for _ in range(3)]
            assert [a.status_code for a in answers] == [200, 200, 200]
            assert all(a.json()["chunks"] for a in answers)
            logged = http.get("/audit/events", headers=auth("auditor"), params={"limit": 100}).json()[
                "events"
            ]
            assert {a.json()["request_id"] for a in answers} <= {e["request_id"] for e in logged}
            assert http.get("/audit/verify", headers=auth("auditor")).json()["ok"] is True
        finally:
            stop(runtime, http)


@pytest.fixture
def postgres_url() -> Iterator[str]:
    yield from _postgres_database()


@pytest.mark.postgres
def test_postgres_connections_killed_mid_run(tmp_path: Path, postgres_url: str) -> None:
    runtime, http = serve(settings_for(tmp_path, database_url=postgres_url))
    database = postgres_url.rsplit("/", 1)[1]
    admin = create_engine(postgres_url.rsplit("/", 1)[0] + "/postgres", isolation_level="AUTOCOMMIT")
    try:
        corpus_id = register_and_approve(
            http, "eu-internal", "eu", "internal", tmp_path / "sources" / "eu-internal"
        )
        assert ingest(http, corpus_id)["status"] == "succeeded"
        for _ in range(3):
            assert retrieve(http).status_code == 200
            with admin.connect() as connection:
                killed = connection.execute(
                    text(
                        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                        "WHERE datname = :db AND pid <> pg_backend_pid()"
                    ),
                    {"db": database},
                ).scalar()
            assert killed and killed > 0  # the service's pooled connections were there, and are gone
            # The pool notices the dead connections (pre-ping) and opens new ones: no request fails.
            after = retrieve(http)
            assert after.status_code == 200 and after.json()["chunks"], after.text
    finally:
        admin.dispose()
        stop(runtime, http)
