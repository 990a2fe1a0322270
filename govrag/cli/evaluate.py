"""`govrag eval`: measure the models and the retrieval the service uses (PII masking, BEIR retrieval)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from govrag.cli._shared import print_json
from govrag.evaluation.beir import DEFAULT_HOLDOUT_FRACTION, DEFAULT_SPLIT_SEED

eval_app = typer.Typer(
    help="Measure the models and the retrieval the service uses (PII masking, BEIR retrieval).",
    no_args_is_help=True,
)


@eval_app.command("pii")
def eval_pii(
    file: Annotated[
        Path,
        typer.Argument(
            help="Labelled sentences in the presidio-research format (a JSON list of {full_text, spans}).",
            exists=True,
            dir_okay=False,
        ),
    ],
    folds: Annotated[
        int, typer.Option(min=0, help="Leave-templates-out folds (by template_id, where given); 0: none.")
    ] = 5,
) -> None:
    """Score the ingestion PII masker on labelled sentences: span precision, recall, F2, speed (JSON), and
    per fold of held-out templates."""
    from retrieval.pii.evaluation import evaluate_file

    try:
        report = evaluate_file(file, folds=folds)
    except ValueError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    print_json(report)


@eval_app.command("retrieval")
def eval_retrieval(
    corpus: Annotated[
        Path, typer.Option(help="BEIR corpus.jsonl, or a BEIR data-set directory holding one.", exists=True)
    ],
    queries: Annotated[Path, typer.Option(help="BEIR queries.jsonl.", exists=True, dir_okay=False)],
    qrels: Annotated[Path, typer.Option(help="BEIR qrels TSV (query-id, corpus-id, score).", exists=True)],
    limit_docs: Annotated[
        int | None,
        typer.Option(
            min=1, help="Index at most N documents, the judged ones first (a quick, optimistic slice)."
        ),
    ] = None,
    mode: Annotated[
        list[str] | None,
        typer.Option("--mode", help="dense, sparse or hybrid; repeat for several (default: all)."),
    ] = None,
    no_baselines: Annotated[
        bool, typer.Option("--no-baselines", help="Skip the bare model and BM25 exact-search reference.")
    ] = False,
    work_dir: Annotated[
        Path | None, typer.Option(help="Keep the ingested data here (default: a temporary directory).")
    ] = None,
    split: Annotated[
        str,
        typer.Option(
            help="Queries to run: tune, holdout (a fixed split of query ids, by a hash of the seed and id) "
            "or all (every query, reported also per side)."
        ),
    ] = "all",
    split_seed: Annotated[int, typer.Option(help="Seed of the query split.")] = DEFAULT_SPLIT_SEED,
    holdout_fraction: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="Share of the queries held out from tuning.")
    ] = DEFAULT_HOLDOUT_FRACTION,
) -> None:
    """Ingest a BEIR data set through the pipeline and score /retrieve per mode (JSON: nDCG@10, Recall@10/100,
    MRR@10), beside the bare embedding model and BM25 searched exactly on the same documents."""
    from govrag.evaluation.run import EvaluationRequest, run_evaluation
    from govrag.logs import configure_logging
    from retrieval.domain import SearchMode
    from retrieval.settings import get_settings

    try:
        modes = tuple(SearchMode(m) for m in mode) if mode else tuple(SearchMode)
    except ValueError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    settings = get_settings()
    configure_logging("WARNING")
    request = EvaluationRequest(
        corpus=corpus,
        queries=queries,
        qrels=qrels,
        limit_docs=limit_docs,
        modes=modes,
        baselines=not no_baselines,
        work_dir=work_dir,
        split=split,
        split_seed=split_seed,
        holdout_fraction=holdout_fraction,
    )
    try:
        report = run_evaluation(request, settings)
    except ValueError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    print_json(report)
