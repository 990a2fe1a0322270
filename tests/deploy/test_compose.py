"""compose.yaml, the Dockerfile and the entrypoint: services, health checks, secrets, settings wiring."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml
from sqlalchemy import create_engine, text

from retrieval.settings import REPO_ROOT, Settings
from tests.strict import require

COMPOSE = yaml.safe_load((REPO_ROOT / "compose.yaml").read_text())
SERVICES: dict[str, dict[str, Any]] = COMPOSE["services"]
DOCKERFILE = (REPO_ROOT / "Dockerfile").read_text()
ENTRYPOINT = REPO_ROOT / "deploy" / "entrypoint.sh"


def _pin(name: str) -> str:
    for line in (REPO_ROOT / "constraints.txt").read_text().splitlines():
        if line.lower().startswith(f"{name}=="):
            return line.split("==", 1)[1]
    raise AssertionError(f"{name} is not pinned in constraints.txt")


def _environment(service: str) -> dict[str, str]:
    env = SERVICES[service].get("environment", {})
    assert isinstance(env, dict), "environment is written as a mapping"
    return {key: str(value) for key, value in env.items()}


@pytest.mark.unit
def test_three_services_with_pinned_images() -> None:
    assert set(SERVICES) == {"qdrant", "postgres", "govrag"}
    qdrant = SERVICES["qdrant"]["image"]
    match = re.fullmatch(r"qdrant/qdrant:v(\d+)\.(\d+)\.(\d+)", qdrant)
    assert match, f"the Qdrant image is pinned to a release: {qdrant}"
    client_major, client_minor = _pin("qdrant-client").split(".")[:2]
    # qdrant-client supports servers of its own minor version (and one either side).
    assert (match[1], match[2]) == (client_major, client_minor)
    assert SERVICES["postgres"]["image"] == "postgres:15"
    assert SERVICES["govrag"]["build"] == "."


@pytest.mark.unit
def test_every_service_has_a_health_check_and_govrag_waits_for_them() -> None:
    for name, service in SERVICES.items():
        check = service.get("healthcheck")
        assert check and check["test"], f"{name} has no health check"
        assert check["retries"] >= 3 and check["interval"] and check["timeout"]
    assert "/readyz" in " ".join(SERVICES["qdrant"]["healthcheck"]["test"])
    assert "pg_isready" in SERVICES["postgres"]["healthcheck"]["test"]
    assert "/healthz" in " ".join(SERVICES["govrag"]["healthcheck"]["test"])
    assert SERVICES["govrag"]["depends_on"] == {
        "postgres": {"condition": "service_healthy"},
        "qdrant": {"condition": "service_healthy"},
    }


@pytest.mark.unit
def test_state_lives_in_named_volumes() -> None:
    declared = set(COMPOSE["volumes"])

    def mounts(service: str) -> dict[str, str]:
        pairs = (str(v).split(":")[:2] for v in SERVICES[service]["volumes"])
        return {target: source for source, target in pairs}

    assert mounts("qdrant")["/qdrant/storage"] in declared
    assert mounts("postgres")["/var/lib/postgresql/data"] in declared
    govrag = mounts("govrag")
    assert govrag["/var/lib/govrag"] in declared
    assert _environment("govrag")["GOVRAG_DATA_DIR"] == "/var/lib/govrag"
    # The corpora and the principals file are read-only inside the container.
    read_only = [str(v) for v in SERVICES["govrag"]["volumes"] if str(v).endswith(":ro")]
    assert any(":/srv/corpora:" in v for v in read_only)
    assert any(":/etc/govrag/principals.yaml:" in v for v in read_only)


def _settings_field(variable: str) -> bool:
    """Does GOVRAG_<variable> name a settings field (nested groups through `__`)?"""
    model: Any = Settings
    for part in variable.removeprefix("GOVRAG_").lower().split("__"):
        field = model.model_fields.get(part)
        if field is None:
            return False
        model = field.annotation
    return True


@pytest.mark.unit
def test_every_govrag_variable_is_a_setting_and_secrets_come_from_files() -> None:
    env = _environment("govrag")
    service_secrets = set(SERVICES["govrag"]["secrets"])
    for variable, value in env.items():
        if value.startswith("/run/secrets/"):
            assert variable.endswith("_FILE"), variable
            secret = value.removeprefix("/run/secrets/")
            assert value == f"/run/secrets/{secret}" and secret in service_secrets, variable
            assert COMPOSE["secrets"][secret]["file"] == f"./deploy/secrets/{secret}"
            variable = variable.removesuffix("_FILE")
        if variable.startswith("GOVRAG_"):
            # Settings ignore unknown variables, so a misspelt one would silently be a default instead.
            assert _settings_field(variable), f"{variable} is not a setting"
        else:
            assert variable == "PGPASSWORD", variable
    for secret in ("GOVRAG_QDRANT_API_KEY", "GOVRAG_AUDIT__QUERY_HMAC_KEY", "GOVRAG_AUDIT__CHECKPOINT_KEY"):
        assert secret not in env and f"{secret}_FILE" in env, f"{secret} must come from a secret file"
    for value in env.values():
        assert "password" not in value.lower() or value.startswith("/run/secrets/"), value


@pytest.mark.unit
def test_the_service_points_at_the_other_two(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    env = _environment("govrag")
    for variable in list(os.environ):
        if variable.startswith("GOVRAG_"):
            monkeypatch.delenv(variable)
    for variable, value in env.items():
        if value.startswith("/run/secrets/"):
            monkeypatch.setenv(variable.removesuffix("_FILE"), "s" * 48)  # what the entrypoint exports
        elif "${" not in value:
            monkeypatch.setenv(variable, value)
    settings = Settings()
    database = urlsplit(settings.resolved_database_url)
    postgres_env = _environment("postgres")
    assert database.scheme == "postgresql+psycopg" and database.password is None
    assert database.hostname == "postgres" and database.port == 5432
    assert database.username == postgres_env["POSTGRES_USER"]
    assert database.path == f"/{postgres_env['POSTGRES_DB']}"
    assert postgres_env["POSTGRES_PASSWORD_FILE"] == env["PGPASSWORD_FILE"]
    qdrant = urlsplit(settings.qdrant_url or "")
    assert (qdrant.hostname, qdrant.port) == ("qdrant", 6333)
    assert settings.qdrant_api_key is not None and settings.audit.query_hmac_key is not None
    assert settings.audit.checkpoint_key is not None
    assert settings.source_roots == [Path("/srv/corpora")]
    assert settings.principals_file == Path("/etc/govrag/principals.yaml")
    assert settings.auto_migrate is False  # the entrypoint migrates, once, before the service


@pytest.mark.unit
def test_dockerfile_installs_the_pinned_cpu_stack_then_migrates_before_serving() -> None:
    assert DOCKERFILE.splitlines()[2] == "FROM python:3.11-slim"
    torch = DOCKERFILE.index(
        f"pip install torch=={_pin('torch')} --index-url https://download.pytorch.org/whl/cpu"
    )
    project = DOCKERFILE.index("pip install -c constraints.txt -e .")
    assert torch < project, "torch (CPU) is installed first and alone"
    assert "catdoc" in DOCKERFILE
    assert 'ENTRYPOINT ["govrag-entrypoint"]' in DOCKERFILE
    assert 'CMD ["govrag", "serve", "--host", "0.0.0.0", "--port", "8000"]' in DOCKERFILE
    assert "USER govrag" in DOCKERFILE
    script = ENTRYPOINT.read_text()
    assert script.index("govrag db upgrade") < script.index('exec "$@"')


@pytest.mark.integration
def test_entrypoint_exports_secret_files_and_migrates_before_the_command(tmp_path: Path) -> None:
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    secret = secrets / "hmac"
    secret.write_text("k" * 40 + "\n")
    principals = tmp_path / "principals.yaml"
    database = tmp_path / "data" / "govrag.db"
    env = {
        "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
        "GOVRAG_DATA_DIR": str(tmp_path / "data"),
        "SECRETS_DIR": str(secrets),
        "GOVRAG_AUDIT__QUERY_HMAC_KEY_FILE": str(secret),
        "GOVRAG_PRINCIPALS_FILE": str(principals),  # a setting that names a file, not a secret
    }
    result = subprocess.run(
        [
            "sh",
            str(ENTRYPOINT),
            "sh",
            "-c",
            'echo "key=$GOVRAG_AUDIT__QUERY_HMAC_KEY file=${GOVRAG_AUDIT__QUERY_HMAC_KEY_FILE:-}"'
            ' "p=$GOVRAG_PRINCIPALS_FILE"',
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == "key=" + "k" * 40 + f" file= p={principals}"
    engine = create_engine(f"sqlite:///{database}")
    with engine.connect() as connection:
        assert connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
    engine.dispose()

    env["GOVRAG_AUDIT__QUERY_HMAC_KEY_FILE"] = str(secrets / "missing")
    failed = subprocess.run(
        ["sh", str(ENTRYPOINT), "true"], env=env, capture_output=True, text=True, timeout=60
    )
    assert failed.returncode == 2 and "cannot be read" in failed.stderr


@pytest.mark.unit
def test_docker_compose_accepts_the_file() -> None:
    require(shutil.which("docker-compose"), "Debian's docker-compose is not installed")
    result = subprocess.run(
        ["docker-compose", "-f", str(REPO_ROOT / "compose.yaml"), "config", "-q"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO_ROOT,
    )
    assert result.returncode == 0, result.stderr
