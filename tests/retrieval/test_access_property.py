"""Property: no chunk outside the policy's grant is ever returned, and every allowed exact match is found
(once top_k covers the first hit of each partition searched), over random corpora, documents with ACLs,
callers, end users and queries (see tests/retrieval/access_fuzz.py).

A CI-sized run; `bench/policy_fuzz.py --trials 10000` runs the same property at benchmark size.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings

from tests.retrieval.access_fuzz import (
    AccessFuzz,
    CorpusSpec,
    Request,
    corpora,
    oracle_may_read,
    requests,
    scratch_directory,
)

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def fuzz() -> Iterator[AccessFuzz]:
    with scratch_directory() as root:
        harness = AccessFuzz(root)
        yield harness
        harness.close()
    # Enough trials ran to mean something (hypothesis may stop early only on a failure).
    assert harness.tally.trials >= 200, harness.tally


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(specs=corpora, batch=requests)
def test_no_leak_and_every_allowed_exact_match_is_found(
    fuzz: AccessFuzz, specs: list[CorpusSpec], batch: list[Request]
) -> None:
    before = fuzz.tally.failures
    fuzz.run(specs, batch)
    assert fuzz.tally.failures == before, fuzz.tally.violations


def test_the_oracle_is_not_trivial() -> None:
    """The oracle allows and denies: a property checked against an always-false oracle would prove nothing."""
    from retrieval.domain import CorpusRef, CorpusStatus, EndUser, Principal, Sensitivity

    reader = Principal("r", frozenset({"reader"}), frozenset({"hr"}), Sensitivity.internal, frozenset({"eu"}))
    corpus = CorpusRef("c", "c", "eu", Sensitivity.public, CorpusStatus.approved, "o")
    assert oracle_may_read(reader, None, corpus, None)
    assert oracle_may_read(reader, None, corpus, ("hr", "legal"))
    assert not oracle_may_read(reader, None, corpus, ("legal",))
    app = Principal("a", frozenset({"app"}), frozenset(), Sensitivity.public, frozenset({"eu"}))
    person = EndUser("p", frozenset({"legal"}), Sensitivity.restricted, frozenset({"eu", "us"}))
    assert not oracle_may_read(app, None, corpus, None)
    assert oracle_may_read(app, person, corpus, ("legal",))
    assert not oracle_may_read(app, person, corpus, ("hr",))
