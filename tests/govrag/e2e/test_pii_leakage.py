"""Leakage: 200 planted personal-data values never come back, from the index, a search or the audit log.

Three corpora (replace, redact, pseudonymize) hold the planted sentences (`tests/govrag/e2e/pii_seed.py`);
each value is then asked for, alone and in its sentence. No chunk in the index, no returned chunk and no
column of any audit record may contain a planted value (or a part of it that identifies on its own: see
`pii_seed.leaks`).
One runtime, real models, SQLite.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from govrag.runtime import Runtime, build_runtime
from retrieval.catalog import CorpusSpec
from retrieval.domain import JobStatus, Principal, Sensitivity
from retrieval.settings import PiiSettings, Settings
from tests.govrag.e2e.pii_seed import Seeded, leaks, name_documents, plant, seed_values

pytestmark = [pytest.mark.integration, pytest.mark.slow]

STRATEGIES = ("replace", "redact", "pseudonymize")
DOCUMENTS_PER_CORPUS = 6
STEWARD = Principal("steward", frozenset({"steward"}))
READER = Principal("reader", frozenset({"reader"}), clearance=Sensitivity.internal, regions=frozenset({"eu"}))


@pytest.fixture(scope="module")
def seeded() -> list[Seeded]:
    values = seed_values()
    assert len(values) == 200 and len({item.value for item in values}) == 200
    return values


@pytest.fixture(scope="module")
def one_torch_thread() -> Iterator[None]:
    """Hundreds of one-query embeddings: on a shared two-core machine torch's second thread mostly waits for a
    core (a short query takes ~0.6 s with two threads, ~0.08 s with one). Only the test's speed changes."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def runtime(
    seeded: list[Seeded], tmp_path_factory: pytest.TempPathFactory, one_torch_thread: None
) -> Iterator[Runtime]:
    root = tmp_path_factory.mktemp("leakage")
    texts = plant(seeded, DOCUMENTS_PER_CORPUS * len(STRATEGIES))
    for index, body in enumerate(texts):
        corpus = root / "sources" / STRATEGIES[index % len(STRATEGIES)]
        corpus.mkdir(parents=True, exist_ok=True)
        (corpus / f"case-{index + 1:02d}.md").write_text(body, encoding="utf-8")
    settings = Settings(
        data_dir=root / "data",
        database_url=f"sqlite:///{root / 'govrag.db'}",
        source_roots=[root / "sources"],
        pii=PiiSettings(pseudonym_key="leakage-test-key-0123456789abcdef"),  # type: ignore[arg-type]
    )
    built = build_runtime(settings)
    try:
        for strategy in STRATEGIES:
            spec = CorpusSpec(
                f"cases-{strategy}",
                "eu",
                Sensitivity.internal,
                str(root / "sources" / strategy),
                masking_strategy=strategy,
            )
            corpus_id = built.stewardship.register(STEWARD, spec).id
            built.stewardship.approve(STEWARD, corpus_id)
            job_id = built.stewardship.ingest(STEWARD, corpus_id).id
            built.jobs.wait(job_id, timeout=600)
            job = built.catalog.get_job(job_id)
            assert job.status == JobStatus.succeeded.value and job.documents_ingested == DOCUMENTS_PER_CORPUS
        yield built
    finally:
        built.close()


# A time the system stamped (SQLite keeps them as text; the canonical form as ISO 8601): its digits are the
# clock's, and the microseconds can hold seven digits of a planted number by chance, as a score's can.
_TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:\.\d{1,6})?(?:Z|[+-]\d{2}:\d{2})?")


def _strings(column: str) -> list[str]:
    """The text of a column: itself, or where it holds JSON, every key and string in it; a column or string
    that is a timestamp alone is not text."""
    if _TIMESTAMP.fullmatch(column):
        return []
    try:
        parsed = json.loads(column)
    except ValueError:
        return [column]
    if not isinstance(parsed, dict | list):
        return [column]  # a query of digits alone is text, not a number of the system's
    found: list[str] = []
    todo: list[Any] = [parsed]
    while todo:
        item = todo.pop()
        if isinstance(item, str):
            if not _TIMESTAMP.fullmatch(item):
                found.append(item)
        elif isinstance(item, dict):
            found.extend(item)
            todo.extend(item.values())
        elif isinstance(item, list):
            todo.extend(item)
    return found


def _report(found: dict[str, list[Seeded]]) -> str:
    lines = [f"{where}: {[f'{item.kind}: {item.value}' for item in items]}" for where, items in found.items()]
    return "\n".join(lines)


def test_every_planted_value_is_in_the_sources(seeded: list[Seeded]) -> None:
    planted = "\n".join(plant(seeded, DOCUMENTS_PER_CORPUS * len(STRATEGIES)))
    assert {item.value for item in leaks(seeded, planted)} == {item.value for item in seeded}


def test_no_planted_value_reaches_the_index_a_search_or_the_audit_log(
    runtime: Runtime, seeded: list[Seeded]
) -> None:
    found: dict[str, list[Seeded]] = {}

    # -- the index: every chunk of every corpus ----------------------------------------------------------
    chunks = 0
    for corpus in runtime.catalog.refs():
        for point in runtime.store.scroll(corpus.partition, corpus_id=corpus.id):
            chunks += 1
            if hit := leaks(seeded, str(point.payload["text"])):
                found[f"index {point.payload['source_uri'].rsplit('/', 1)[-1]} ({corpus.name})"] = hit
    assert chunks >= len(STRATEGIES) * DOCUMENTS_PER_CORPUS

    # -- searches: each value alone (a date alone is no date of birth) and in its sentence ---------------
    queries = [item.sentence for item in seeded]
    queries += [item.value for item in seeded if item.kind != "date_of_birth"]
    answered = 0
    for query in queries:
        result = runtime.retrieval.retrieve(READER, query, top_k=3)
        answered += bool(result.chunks)
        for chunk in result.chunks:
            if hit := leaks(seeded, chunk.text):
                found[f"answer to {query!r}"] = hit
    assert answered == len(queries)  # every query searched the three corpora and got chunks back

    # -- the audit log: every column of every record, JSON included --------------------------------------
    engine = create_engine(runtime.settings.resolved_database_url)
    try:
        with engine.connect() as connection:
            events = [dict(row._mapping) for row in connection.execute(text("SELECT * FROM audit_events"))]
            side = [
                dict(row._mapping)
                for table in ("audit_event_chunks", "audit_event_regions", "audit_checkpoints")
                for row in connection.execute(text(f"SELECT * FROM {table}"))
            ]
    finally:
        engine.dispose()
    retrievals = [event for event in events if event["action"] == "retrieve"]
    assert len(retrievals) == len(queries)
    for record in events + side:
        # Every text column, and every string inside a column that holds JSON (the details, the stored
        # canonical form of the event). Numbers (scores, latencies, sequence numbers) are the system's own:
        # a score's sixteen digits can hold seven of a planted phone number by chance.
        for column, value in record.items():
            if isinstance(value, str) and (hit := leaks(seeded, "\n".join(_strings(value)))):
                found[f"audit record {record.get('sequence', record.get('event_id'))}, column {column}"] = hit
    masked_queries: list[Any] = [event["query_masked"] for event in retrievals]
    assert all(isinstance(query, str) and query for query in masked_queries)

    assert not found, f"{sum(map(len, found.values()))} leaks:\n{_report(found)}"


# -- names: titles, file and folder names ------------------------------------------------------------------


@pytest.fixture(scope="module")
def named(
    seeded: list[Seeded], tmp_path_factory: pytest.TempPathFactory, one_torch_thread: None
) -> Iterator[tuple[Runtime, list[Seeded], dict[str, str]]]:
    """One corpus per strategy holding `pii_seed.name_documents`, each ingested by a job of its own."""
    root = tmp_path_factory.mktemp("names")
    used, documents = name_documents(seeded)
    for strategy in STRATEGIES:
        for relative, body in documents.items():
            path = root / "sources" / strategy / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(body, encoding="utf-8")
    settings = Settings(
        data_dir=root / "data",
        database_url=f"sqlite:///{root / 'govrag.db'}",
        source_roots=[root / "sources"],
        pii=PiiSettings(pseudonym_key="leakage-test-key-0123456789abcdef"),  # type: ignore[arg-type]
    )
    built = build_runtime(settings)
    jobs = {}
    try:
        for strategy in STRATEGIES:
            spec = CorpusSpec(
                f"named-{strategy}",
                "eu",
                Sensitivity.internal,
                str(root / "sources" / strategy),
                masking_strategy=strategy,
            )
            corpus_id = built.stewardship.register(STEWARD, spec).id
            built.stewardship.approve(STEWARD, corpus_id)
            jobs[corpus_id] = built.stewardship.ingest(STEWARD, corpus_id).id
        for job_id in jobs.values():
            built.jobs.wait(job_id, timeout=600)
        yield built, used, documents
    finally:
        built.close()


def test_no_planted_value_reaches_readers_through_titles_or_file_names(
    named: tuple[Runtime, list[Seeded], dict[str, str]], caplog: pytest.LogCaptureFixture
) -> None:
    runtime, used, documents = named
    found: dict[str, list[Seeded]] = {}

    def check(where: str, text: str) -> None:
        if hit := leaks(used, text):
            found[where] = hit

    caplog.set_level("DEBUG")
    for corpus in runtime.catalog.refs():
        # The documents listing; the file of an unsupported type failed, by a name that shows no value.
        rows = runtime.stewardship.documents(STEWARD, corpus.id)
        assert len(rows) == len(documents)
        for row in rows:
            check(f"listing of {corpus.name}: source_uri", row.source_uri)
            check(f"listing of {corpus.name}: title", row.title)
            check(f"listing of {corpus.name}: error", row.error or "")
        failed = [row for row in rows if row.status == "failed"]
        assert len(failed) == 1 and "unsupported format" in (failed[0].error or "")
        # Citations: every document answers a question about its body.
        result = runtime.retrieval.retrieve(READER, "when is the review meeting planned", top_k=20)
        for chunk in result.chunks:
            check(f"citation in {corpus.name}: source_uri", chunk.citation.source_uri)
            check(f"citation in {corpus.name}: title", chunk.citation.title)
        # The append-only log: a steward deletes a document named after a person.
        named_after = next(row for row in rows if row.status == "ingested" and "#" in row.source_uri)
        runtime.stewardship.delete_document(STEWARD, corpus.id, named_after.id)
        assert len({row.source_uri for row in rows}) == len(rows)  # masked alike, still distinct
    for job in _jobs(runtime):
        check(f"job {job.id} errors", json.dumps(job.errors))
        check(f"job {job.id} detail", job.detail or "")
    engine = create_engine(runtime.settings.resolved_database_url)
    try:
        with engine.connect() as connection:
            for table in ("audit_events", "audit_event_chunks"):
                for row in connection.execute(text(f"SELECT * FROM {table}")):
                    for column, value in dict(row._mapping).items():
                        if isinstance(value, str):
                            check(f"{table}.{column}", "\n".join(_strings(value)))
    finally:
        engine.dispose()
    check("log lines", caplog.text)
    assert not found, f"{sum(map(len, found.values()))} leaks:\n{_report(found)}"


def _jobs(runtime: Runtime) -> list[Any]:
    from sqlalchemy import select

    from retrieval.models import JobRow

    with runtime.db.session() as session:
        return list(session.scalars(select(JobRow)))
