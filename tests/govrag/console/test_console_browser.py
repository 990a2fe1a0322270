"""The console in a real browser: the system's Chromium, headless, driven by Playwright against the service
on a loopback socket. A steward registers, approves and ingests a corpus and watches the job end; an auditor
filters the log, opens answers, replays one, verifies the log and downloads exports; a reader and a wrong key
are refused. Screenshots of the main pages go to the test's tmp dir.

Where Chromium or Playwright is missing these tests skip with the reason, or fail under
GOVRAG_TEST_STRICT=1 (CI). Playwright's own browser download is never used.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from govrag.runtime import Runtime, build_runtime
from tests.govrag.console.console_fixture import console_settings
from tests.govrag.e2e.corpus_fixture import KEYS, PLANTED_PII, auth
from tests.govrag.e2e.live_service import ingest, live_server, register_and_approve
from tests.strict import skip_or_fail

pytestmark = [pytest.mark.integration, pytest.mark.slow]

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
LONG = 180_000  # ms: an ingestion on a loaded 2-core machine


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    problem = None
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        problem = "the playwright package is not installed (pip install -e '.[test]')"
    if problem is None and not CHROMIUM.exists():
        problem = f"no Chromium at {CHROMIUM} (apt-get install chromium)"
    if problem is not None:
        skip_or_fail(problem)
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Runtime, Path]]:
    root = tmp_path_factory.mktemp("console-browser")
    settings = console_settings(root)
    runtime = build_runtime(settings)
    try:
        with live_server(settings, runtime) as (base, _):
            yield base, runtime, root
    finally:
        runtime.close()


@pytest.fixture
def page(browser: Any, service: tuple[str, Runtime, Path]) -> Iterator[Any]:
    context = browser.new_context(base_url=service[0], viewport={"width": 1280, "height": 860})
    try:
        yield context.new_page()
    finally:
        context.close()


def sign_in(page: Any, who: str) -> None:
    page.goto("/console/login")
    page.get_by_label("API key").fill(KEYS[who])
    page.get_by_role("button", name="Sign in").click()


def test_a_steward_registers_approves_and_ingests(
    page: Any, service: tuple[str, Runtime, Path], tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    _, runtime, root = service
    sign_in(page, "steward")
    expect(page).to_have_url(f"{service[0]}/console/")
    page.get_by_role("navigation").get_by_role("link", name="Corpora").click()

    # A mistake first: the error is written beside its field, and the field says it is invalid.
    page.get_by_label("Name").fill("handbook-eu")
    page.get_by_label("Region").fill("Europe")
    page.get_by_label("Source directory").fill(str(root / "sources" / "eu-internal"))
    page.get_by_role("button", name="Register").click()
    expect(page.locator("#region-error")).to_be_visible()
    expect(page.get_by_label("Region")).to_have_attribute("aria-invalid", "true")
    page.get_by_label("Region").fill("eu")
    page.get_by_label("Sensitivity").select_option("internal")
    page.get_by_role("button", name="Register").click()
    expect(page.get_by_role("status")).to_contain_text("Corpus registered")
    row = page.get_by_role("row").filter(has_text="handbook-eu")
    expect(row).to_contain_text("registered")

    page.get_by_role("button", name="Approve handbook-eu").click()
    expect(page.get_by_role("status")).to_contain_text("Corpus approved")
    expect(row).to_contain_text("approved")
    page.get_by_role("button", name="Ingest handbook-eu").click()

    # The job page refreshes itself until the job ends.
    expect(page.get_by_role("heading", name="Ingestion job")).to_be_visible()
    expect(page.locator("#job-status")).to_contain_text("succeeded", timeout=LONG)
    expect(page.locator("#job-progress-label")).to_contain_text("(100%)")
    failed = page.get_by_role("table", name="Files that failed")
    expect(failed).to_contain_text("notes.xyz")
    expect(failed).to_contain_text("unsupported format")
    page.screenshot(path=str(tmp_path / "console-job.png"), full_page=True)

    page.get_by_role("link", name="handbook-eu").click()
    documents = page.get_by_role("table", name="Documents")
    expect(documents).to_contain_text("Parental leave")
    expect(documents).to_contain_text("ingested")
    expect(documents).to_contain_text("none (the corpus decides)")
    page.get_by_role("link", name="← Corpora").click()
    expect(page.get_by_role("row").filter(has_text="handbook-eu")).to_contain_text("succeeded")
    page.screenshot(path=str(tmp_path / "console-corpora.png"), full_page=True)

    # The console acted through the same use cases as the API: the catalog and the log say so.
    corpus = next(c for c in runtime.catalog.corpora() if c.name == "handbook-eu")
    assert corpus.status == "approved" and corpus.owner == "steward"
    auditor = runtime.principals.get("auditor")
    from retrieval.audit import AuditQuery

    logged = runtime.auditing.events(auditor, AuditQuery(action="corpus.*", corpus_id=corpus.id, limit=50))
    assert {(e.action, e.outcome) for e in logged.events} >= {
        ("corpus.register", "succeeded"),
        ("corpus.approve", "succeeded"),
        ("corpus.ingest", "succeeded"),
    }


@pytest.fixture(scope="module")
def answers(service: tuple[str, Runtime, Path]) -> dict[str, str]:
    """Through the API: a US corpus, one answer and one refusal in the log; their request ids."""
    base, _, root = service
    with httpx.Client(base_url=base, timeout=120) as http:
        corpus_id = register_and_approve(
            http, "contracts-us", "us", "confidential", root / "sources" / "us-confidential"
        )
        assert ingest(http, corpus_id)["status"] == "succeeded"
        question = {
            "query": "What does Robert Miller say about the vendor contract termination notice?",
            "top_k": 3,
        }
        answered = http.post("/retrieve", headers=auth("reader_us"), json=question)
        denied = http.post("/retrieve", headers=auth("reader_none"), json=question)
        assert answered.status_code == 200 and answered.json()["chunks"], answered.text
        return {"answered": answered.json()["request_id"], "denied": denied.json()["request_id"]}


def test_an_auditor_filters_opens_replays_verifies_and_exports(
    page: Any, answers: dict[str, str], tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    sign_in(page, "auditor")
    page.get_by_role("navigation").get_by_role("link", name="Provenance log").click()
    expect(page.get_by_role("table", name="Events, newest first")).to_contain_text("reader_us")

    # Filter: the refusals only.
    page.get_by_label("Outcome").select_option("denied")
    page.get_by_role("button", name="Filter").click()
    events = page.get_by_role("table", name="Events, newest first")
    expect(events).to_contain_text("reader_none")
    expect(events).not_to_contain_text("reader_us")
    assert "outcome=denied" in page.url
    page.screenshot(path=str(tmp_path / "console-log.png"), full_page=True)
    events.get_by_role("link").first.click()
    decisions = page.get_by_role("table", name="Policy decisions per corpus")
    expect(decisions).to_contain_text("denied")
    expect(decisions).to_contain_text("retrieve-only-own-regions")

    # One answer: the masked query, its decisions, its chunks with citations, then a replay.
    page.get_by_role("link", name="← Provenance log").click()
    page.get_by_label("Caller").fill("reader_us")
    page.get_by_role("button", name="Filter").click()
    page.get_by_role("table", name="Events, newest first").get_by_role("link").first.click()
    expect(page).to_have_url(f"{page.url.split('/console/')[0]}/console/audit/{answers['answered']}")
    facts = page.locator("dl.facts").first
    expect(facts).to_contain_text("<PERSON>")
    body = page.content()
    assert "Robert Miller" not in body and not any(value in body for value in PLANTED_PII)
    expect(page.get_by_role("table", name="Policy decisions per corpus")).to_contain_text("reader-retrieve")
    chunks = page.get_by_role("table", name="Chunks returned, with citations")
    expect(chunks).to_contain_text("contracts-us")
    expect(page.get_by_text("The app submitted no verification of this answer.")).to_be_visible()
    page.screenshot(path=str(tmp_path / "console-answer.png"), full_page=True)
    page.get_by_role("button", name="Replay against today's catalog and policy").click()
    replay = page.locator("#replay")
    expect(replay).to_contain_text("unchanged")
    expect(replay).to_contain_text("allowed")

    # A document's usage, from a chunk's citation.
    chunks = page.get_by_role("table", name="Chunks returned, with citations")
    chunks.get_by_role("link", name="usage").first.click()
    expect(page.get_by_role("table", name="Answers that used it, newest first")).to_contain_text("reader_us")

    # Verify the log.
    page.goto("/console/audit")
    page.get_by_role("button", name="Verify the whole log").click()
    expect(page.locator("#verify-result")).to_contain_text("Intact")

    # Export downloads.
    page.goto("/console/audit?action=retrieve")
    with page.expect_download() as download_info:
        page.get_by_role("link", name="JSON Lines").click()
    lines = Path(download_info.value.path()).read_text(encoding="utf-8").splitlines()
    exported = [json.loads(line) for line in lines]
    assert {answers["answered"], answers["denied"]} <= {e["request_id"] for e in exported}
    assert {e["action"] for e in exported} == {"retrieve"}
    with page.expect_download() as download_info:
        page.get_by_role("link", name="CSV").click()
    assert download_info.value.suggested_filename == "govrag-audit.csv"
    rows = list(csv.DictReader(io.StringIO(Path(download_info.value.path()).read_text(encoding="utf-8"))))
    assert answers["answered"] in {row["request_id"] for row in rows}

    page.get_by_role("navigation").get_by_role("link", name="Insights").click()
    expect(page.get_by_role("img", name="Answers per day by outcome")).to_be_visible()
    expect(page.get_by_role("img", name="Refusals by deciding policy")).to_contain_text(
        "retrieve-only-own-regions"
    )
    page.screenshot(path=str(tmp_path / "console-insights.png"), full_page=True)


def test_a_reader_is_refused(page: Any) -> None:
    from playwright.sync_api import expect

    sign_in(page, "reader_eu")
    expect(page.get_by_role("heading", name="403 · Not allowed")).to_be_visible()
    page.goto("/console/audit")
    expect(page.get_by_role("heading", name="403 · Not allowed")).to_be_visible()
    page.goto("/console/corpora")
    expect(page.get_by_role("heading", name="403 · Not allowed")).to_be_visible()


def test_a_wrong_key_is_refused(page: Any) -> None:
    from playwright.sync_api import expect

    page.goto("/console/login")
    page.get_by_label("API key").fill("not-a-key")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("That key is not valid.")
    page.goto("/console/corpora")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()


def test_keyboard_alone_reaches_the_form_and_signs_in(page: Any) -> None:
    from playwright.sync_api import expect

    page.goto("/console/login")
    expect(page.get_by_label("API key")).to_be_focused()  # the form's one field has the focus
    page.keyboard.type(KEYS["auditor"])
    page.keyboard.press("Enter")
    expect(page.get_by_text("Signed in as")).to_be_visible()
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Skip to content")).to_be_focused()
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    expect(page.get_by_role("navigation").get_by_role("link", name="Corpora")).to_be_focused()


def test_the_pages_carry_the_content_security_policy(page: Any) -> None:
    response = page.goto("/console/login")
    assert response is not None
    assert "default-src 'self'" in response.headers["content-security-policy"]
    assert response.headers["x-frame-options"] == "DENY"
