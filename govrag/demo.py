"""`govrag demo`: the service on the embedded default with the sample corpora of `examples/` ingested."""

from __future__ import annotations

import secrets
import time
from pathlib import Path
from typing import Any

import typer
import yaml

from retrieval.catalog import CorpusSpec
from retrieval.domain import Sensitivity
from retrieval.identity import hash_api_key
from retrieval.settings import REPO_ROOT, Settings, get_settings

EXAMPLES = REPO_ROOT / "examples"
DEMO_FILE = EXAMPLES / "demo.yaml"


def write_demo_principals(principals: list[dict[str, Any]], path: Path) -> dict[str, str]:
    """Make a fresh key per demo principal, store only its hash in `path`, return id → key."""
    keys = {entry["id"]: secrets.token_urlsafe(24) for entry in principals}
    entries = [
        {
            "id": entry["id"],
            "api_key_sha256": hash_api_key(keys[entry["id"]]),
            "roles": entry["roles"],
            "groups": entry.get("groups", []),
            "clearance": entry.get("clearance", "public"),
            "regions": entry.get("regions", []),
        }
        for entry in principals
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump({"principals": entries}, sort_keys=False), encoding="utf-8")
    path.chmod(0o600)
    return keys


def demo_settings(base: Settings) -> Settings:
    return base.model_copy(
        update={
            "source_roots": [EXAMPLES / "corpora"],
            "principals_file": base.data_dir / "demo-principals.yaml",
            "docs_public": True,  # the demo is for looking around: the API docs need no key there
        }
    )


def run_demo(*, host: str, port: int, serve: bool) -> None:
    from govrag.logs import configure_logging
    from govrag.runtime import build_runtime

    spec = yaml.safe_load(DEMO_FILE.read_text(encoding="utf-8"))
    settings = demo_settings(get_settings())
    configure_logging("WARNING")
    assert settings.principals_file is not None
    keys = write_demo_principals(spec["principals"], settings.principals_file)

    typer.echo("govrag demo: loading models and stores (the first start takes about half a minute)...")
    started = time.perf_counter()
    runtime = build_runtime(settings)
    typer.echo(f"  ready in {time.perf_counter() - started:.1f} s")
    steward = runtime.principals.authenticate(f"Bearer {keys['sam']}")
    existing = {row.name: row for row in runtime.catalog.corpora()}

    try:
        for entry in spec["corpora"]:
            row = existing.get(entry["name"])
            if row is None:
                row = runtime.stewardship.register(
                    steward,
                    CorpusSpec(
                        name=entry["name"],
                        region=entry["region"],
                        sensitivity=Sensitivity.parse(entry["sensitivity"]),
                        source_path=str((EXAMPLES / entry["source_path"]).resolve()),
                        description=entry.get("description", ""),
                    ),
                )
            runtime.stewardship.approve(steward, row.id)
            job_started = time.perf_counter()
            job = runtime.stewardship.ingest(steward, row.id)
            runtime.jobs.wait(job.id)
            job = runtime.catalog.get_job(job.id)
            typer.echo(
                f"  corpus {entry['name']:<13} {entry['region']}.{entry['sensitivity']:<13} "
                f"job {job.status}: {job.documents_ingested}/{job.documents_seen} documents, "
                f"{job.chunks_written} chunks written, {time.perf_counter() - job_started:.1f} s"
            )
            for error in job.errors:
                typer.echo(f"    failed: {error['source_uri']}: {error['reason']}")

        base = f"http://{host}:{port}"
        typer.echo("\nDemo API keys (new on every start; only their sha256 is stored):")
        for entry in spec["principals"]:
            typer.echo(f"  {entry['id']:<7} {keys[entry['id']]}   {entry.get('note', '')}")
        typer.echo(
            "\nTry it:\n"
            f"  curl -s {base}/retrieve -H 'Authorization: Bearer {keys['alice']}' \\\n"
            "       -H 'Content-Type: application/json' \\\n"
            '       -d \'{"query": "How many days can I work remotely?", "top_k": 3}\'\n'
            f"  curl -s {base}/audit/events -H 'Authorization: Bearer {keys['audrey']}'\n"
            f"  GOVRAG_API_KEY={keys['sam']} govrag corpus list --url {base}\n"
            f"  API docs: {base}/docs\n"
            f"\nConsole: {base}/console/ (sign in with sam's key as a steward, audrey's as an auditor)\n"
        )
        if serve:
            import uvicorn

            from govrag.api.app import create_app
            from govrag.api.middleware import server_options

            typer.echo(f"Serving on {base} (Ctrl-C stops)")
            uvicorn.run(
                create_app(settings, runtime, stop_process=True),
                host=host,
                port=port,
                log_level="warning",
                **server_options(),
            )
    finally:
        runtime.close()
