"""`govrag eval retrieval` end to end on a 30-document slice of BEIR SciFact (real pipeline and models)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from govrag.cli import app
from retrieval.settings import get_settings

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.shared_data]

METRICS = {"ndcg@10", "recall@10", "recall@100", "mrr@10"}


def _slice(scifact: Path, work: Path, *options: str) -> list[str]:
    return [
        "eval",
        "retrieval",
        "--corpus",
        str(scifact),
        "--queries",
        str(scifact / "queries.jsonl"),
        "--qrels",
        str(scifact / "qrels" / "train.tsv"),
        "--limit-docs",
        "30",
        "--work-dir",
        str(work),
        *options,
    ]


def test_eval_retrieval_on_a_scifact_slice(
    shared_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    scifact = shared_data / "scifact"
    monkeypatch.delenv("GOVRAG_RETRIEVAL__FUSION", raising=False)
    get_settings.cache_clear()
    result = CliRunner().invoke(app, _slice(scifact, tmp_path / "work"))
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)

    assert report["dataset"]["documents"] == 30
    assert report["ingestion"]["documents_ingested"] == 30 and report["ingestion"]["documents_failed"] == 0
    assert report["ingestion"]["chunks"] >= 30
    assert set(report["pipeline"]) == {"dense", "sparse", "hybrid"}
    for scores in [*report["pipeline"].values(), *report["bare"].values()]:
        assert set(scores) >= METRICS
        assert all(0.0 <= scores[m] <= 1.0 for m in METRICS)
    # 30 documents and answers of 100: every document comes back by dense search, so every relevant one is
    # found, which proves that chunk hits map back to the right BEIR ids.
    assert report["pipeline"]["dense"]["recall@100"] == 1.0
    assert report["bare"]["dense_exact"]["recall@100"] == 1.0
    # Chunking, masking and the index lose little against the bare model on the same documents; the slice
    # is easy (its distractors are few), so these are sanity bounds, not the SciFact targets.
    assert report["dense_over_bare_ndcg@10"] >= 0.95
    # Hybrid is fused as configured (the default here) and set beside the bare model too.
    assert report["settings"]["fusion"] == "dbsf"
    assert report["hybrid_over_bare_ndcg@10"] == pytest.approx(
        report["pipeline"]["hybrid"]["ndcg@10"] / report["bare"]["dense_exact"]["ndcg@10"], abs=1e-4
    )
    assert "rankings" not in report
    assert report["pipeline"]["hybrid"]["ndcg@10"] >= 0.8
    assert report["pipeline"]["sparse"]["ndcg@10"] >= 0.7
    # Every query is run, and scored also on each side of the fixed tune/holdout split of query ids.
    assert report["dataset"]["split"] == {"queries": "all", "seed": 20, "holdout_fraction": 0.3}
    for scores in [*report["pipeline"].values(), *report["bare"].values()]:
        sides = scores["by_split"]
        assert set(sides) == {"tune", "holdout"}
        assert sides["tune"]["queries"] + sides["holdout"]["queries"] == report["dataset"]["queries"]
        assert all(0.0 <= sides[side][m] <= 1.0 for side in sides for m in METRICS)

    # The other fusion, by its setting, on the data already ingested.
    monkeypatch.setenv("GOVRAG_RETRIEVAL__FUSION", "rrf")
    get_settings.cache_clear()
    try:
        again = CliRunner().invoke(
            app, _slice(scifact, tmp_path / "work", "--mode", "hybrid", "--no-baselines")
        )
    finally:
        get_settings.cache_clear()
    assert again.exit_code == 0, again.output
    rrf = json.loads(again.stdout)
    assert rrf["settings"]["fusion"] == "rrf"
    assert rrf["ingestion"]["documents_skipped"] == 30
    assert set(rrf["pipeline"]) == {"hybrid"} and "bare" not in rrf
    assert rrf["pipeline"]["hybrid"]["ndcg@10"] >= 0.8


@pytest.mark.parametrize(("option", "value"), [("--mode", "fuzzy"), ("--split", "validation")])
def test_eval_retrieval_refuses_an_unknown_choice(
    shared_data: Path, tmp_path: Path, option: str, value: str
) -> None:
    result = CliRunner().invoke(app, _slice(shared_data / "scifact", tmp_path, option, value))
    assert result.exit_code == 2
    assert value in result.output
    assert not any(tmp_path.iterdir())  # refused before any work
