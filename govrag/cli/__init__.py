"""The `govrag` command line: the app assembled from one module per audience.

`serve` runs the service (and `demo` with the sample corpora); `steward`, `auditor` and `privacy` call a
running service through the typed client (the service process owns the embedded store); `maintenance` works
on this machine's database, vector store and keys; `evaluate` measures the models and the retrieval.
"""

from __future__ import annotations

import typer

from govrag.cli import auditor, evaluate, maintenance, privacy, serve, steward

app = typer.Typer(help="govrag: governed retrieval for enterprise RAG.", no_args_is_help=True)
app.add_typer(steward.corpus_app, name="corpus")
app.add_typer(steward.job_app, name="job")
app.add_typer(auditor.audit_app, name="audit")
app.add_typer(auditor.policy_app, name="policy")
app.add_typer(privacy.privacy_app, name="privacy")
app.add_typer(maintenance.db_app, name="db")
app.add_typer(maintenance.key_app, name="key")
app.add_typer(maintenance.store_app, name="store")
app.add_typer(evaluate.eval_app, name="eval")
app.command()(serve.worker)
app.command()(serve.serve)
app.command()(serve.demo)
app.command()(steward.reindex)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
