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
# Settings whose value is a file path the service opens itself (not a secret the entrypoint exports by value).
FILE_SETTINGS = {"GOVRAG_PRINCIPALS_FILE", "GOVRAG_AUDIT__SIGNING_KEY_FILE"}


def _pin(name: str) -> str:
    for line in (REPO_ROOT / "constraints.txt").read_text().splitlines():
        if line.lower().startswith(f"{name}=="):
            return line.split("==", 1)[1]
    raise AssertionError(f"{name} is not pinned in constraints.txt")


def _environment(service: str) -> dict[str, str]:
    env = SERVICES[service].get("environment", {})
    assert isinstance(env, dict), "environment is written as a mapping"
    return {key: str(value) for key, value in env.items()}


GOVRAG_SERVICES = ("govrag-api", "govrag-worker")


def _profiles(service: str) -> list[str]:
    return list(SERVICES[service].get("profiles", []))


@pytest.mark.unit
def test_services_profiles_and_pinned_images() -> None:
    default = {name for name in SERVICES if not _profiles(name)}
    assert default == {"qdrant", "postgres", "govrag-api", "govrag-worker", "proxy"}
    assert {name for name in SERVICES if _profiles(name) == ["ray"]} == {"ray-head", "ray-worker"}
    assert {name for name in SERVICES if _profiles(name) == ["s3"]} == {"minio", "s3-seed"}
    qdrant = SERVICES["qdrant"]["image"]
    match = re.fullmatch(r"qdrant/qdrant:v(\d+)\.(\d+)\.(\d+)", qdrant)
    assert match, f"the Qdrant image is pinned to a release: {qdrant}"
    client_major, client_minor = _pin("qdrant-client").split(".")[:2]
    # qdrant-client supports servers of its own minor version (and one either side).
    assert (match[1], match[2]) == (client_major, client_minor)
    assert SERVICES["postgres"]["image"] == "postgres:15"
    assert re.fullmatch(r"minio/minio:RELEASE\.[0-9T-]+Z", SERVICES["minio"]["image"])
    assert re.fullmatch(r"nginx:\d+\.\d+-alpine", SERVICES["proxy"]["image"])
    # One image for every govrag process, Ray nodes included: a Ray worker runs govrag's own parsing and
    # masking code, with the models packaged in the image.
    assert SERVICES["govrag-api"]["build"] == "."
    for name in ("govrag-worker", "ray-head", "ray-worker", "s3-seed"):
        assert SERVICES[name]["image"] == SERVICES["govrag-api"]["image"], name


@pytest.mark.unit
def test_two_api_replicas_behind_the_proxy_and_one_worker() -> None:
    api, worker, proxy = SERVICES["govrag-api"], SERVICES["govrag-worker"], SERVICES["proxy"]
    assert proxy["depends_on"] == {"govrag-api": {"condition": "service_healthy"}}
    assert api["deploy"]["replicas"] == 2
    assert api["command"][:4] == ["govrag", "serve", "--role", "api"]
    assert worker["command"][:2] == ["govrag", "worker"]
    # Only the proxy is reachable from outside; replicas of one service cannot share a published port.
    assert [name for name, service in SERVICES.items() if service.get("ports")] == ["proxy"]
    assert "govrag-api:8000" in (REPO_ROOT / "deploy" / "nginx.conf").read_text()
    # Processes that share jobs must share the vector store: the embedded one is owned by one process.
    for name in GOVRAG_SERVICES:
        assert _environment(name)["GOVRAG_QDRANT_URL"].startswith("http://qdrant:")
    assert _environment("govrag-api") == _environment("govrag-worker")


@pytest.mark.unit
def test_ray_profile_runs_a_head_and_workers_the_worker_can_reach() -> None:
    head = " ".join(SERVICES["ray-head"]["command"])
    assert "--head" in head and "--ray-client-server-port=10001" in head and "--block" in head
    assert "--address=ray-head:6379" in SERVICES["ray-worker"]["command"]
    env = _environment("govrag-worker")
    assert env["GOVRAG_INGEST__RAY_ADDRESS"] == "ray://ray-head:10001"
    assert env["GOVRAG_INGEST__EXECUTOR"] == "${GOVRAG_INGEST_EXECUTOR:-local}"


@pytest.mark.unit
def test_every_long_running_service_has_a_health_check_and_govrag_waits_for_its_stores() -> None:
    for name, service in SERVICES.items():
        if service.get("restart") == "no":
            continue  # a one-shot job (the S3 seed) has nothing to keep healthy
        check = service.get("healthcheck")
        assert check and check["test"], f"{name} has no health check"
        assert check["retries"] >= 3 and check["interval"] and check["timeout"]
    assert "/readyz" in " ".join(SERVICES["qdrant"]["healthcheck"]["test"])
    assert "pg_isready" in SERVICES["postgres"]["healthcheck"]["test"]
    assert "/healthz" in " ".join(SERVICES["govrag-api"]["healthcheck"]["test"])
    assert "8001/healthz" in " ".join(SERVICES["govrag-worker"]["healthcheck"]["test"])
    for name in GOVRAG_SERVICES:
        depends = SERVICES[name]["depends_on"]
        assert depends["postgres"] == {"condition": "service_healthy"}
        assert depends["qdrant"] == {"condition": "service_healthy"}


@pytest.mark.unit
def test_state_lives_in_named_volumes() -> None:
    declared = set(COMPOSE["volumes"])

    def mounts(service: str) -> dict[str, str]:
        pairs = (str(v).split(":")[:2] for v in SERVICES[service]["volumes"])
        return {target: source for source, target in pairs}

    assert mounts("qdrant")["/qdrant/storage"] in declared
    assert mounts("postgres")["/var/lib/postgresql/data"] in declared
    assert mounts("minio")["/data"] in declared
    for name in GOVRAG_SERVICES:
        assert mounts(name)["/var/lib/govrag"] in declared
        assert _environment(name)["GOVRAG_DATA_DIR"] == "/var/lib/govrag"
        # The corpora and the principals file are read-only inside the container.
        read_only = [str(v) for v in SERVICES[name]["volumes"] if str(v).endswith(":ro")]
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
    env = _environment("govrag-api")
    service_secrets = set(SERVICES["govrag-api"]["secrets"])
    for variable, value in env.items():
        if value.startswith("/run/secrets/"):
            assert variable.endswith("_FILE"), variable
            secret = value.removeprefix("/run/secrets/")
            assert value == f"/run/secrets/{secret}" and secret in service_secrets, variable
            assert COMPOSE["secrets"][secret]["file"] == f"./deploy/secrets/{secret}"
            if variable not in FILE_SETTINGS:
                variable = variable.removesuffix("_FILE")
        if variable.startswith("GOVRAG_"):
            # Settings ignore unknown variables, so a misspelt one would silently be a default instead.
            assert _settings_field(variable), f"{variable} is not a setting"
        else:
            assert variable == "PGPASSWORD", variable
    for secret in (
        "GOVRAG_QDRANT_API_KEY",
        "GOVRAG_AUDIT__QUERY_HMAC_KEY",
        "GOVRAG_AUDIT__CHECKPOINT_KEY",
        "GOVRAG_S3__SECRET_ACCESS_KEY",
        "GOVRAG_S3__ACCESS_KEY_ID",
    ):
        assert secret not in env and f"{secret}_FILE" in env, f"{secret} must come from a secret file"
    for value in env.values():
        assert "password" not in value.lower() or value.startswith("/run/secrets/"), value
    # The entrypoint exports every other *_FILE secret by value; these name files the service opens.
    script = ENTRYPOINT.read_text()
    for variable in FILE_SETTINGS - {"GOVRAG_PRINCIPALS_FILE"}:
        assert variable in script


@pytest.mark.unit
def test_the_service_points_at_the_other_two(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    env = _environment("govrag-api")
    for variable in list(os.environ):
        if variable.startswith("GOVRAG_"):
            monkeypatch.delenv(variable)
    for variable, value in env.items():
        if variable in FILE_SETTINGS:
            monkeypatch.setenv(variable, value)
        elif value.startswith("/run/secrets/"):
            monkeypatch.setenv(variable.removesuffix("_FILE"), "s" * 48)  # what the entrypoint exports
        else:
            # What compose makes of `${NAME:-default}` when NAME is unset.
            monkeypatch.setenv(variable, re.sub(r"\$\{[A-Z0-9_]+:-([^}]*)\}", r"\1", value))
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
    assert settings.object_source_roots == ["s3://govrag-corpora"]
    assert settings.s3.endpoint_url == "http://minio:9000"
    assert settings.s3.access_key_id is not None and settings.s3.secret_access_key is not None
    assert settings.principals_file == Path("/etc/govrag/principals.yaml")
    assert settings.auto_migrate is False  # the entrypoint migrates, once, before the service


@pytest.mark.unit
def test_dockerfile_installs_the_pinned_cpu_stack_then_migrates_before_serving() -> None:
    assert DOCKERFILE.splitlines()[2] == "FROM python:3.11-slim"
    torch = DOCKERFILE.index(
        f"pip install torch=={_pin('torch')} --index-url https://download.pytorch.org/whl/cpu"
    )
    project = DOCKERFILE.index("pip install -c constraints.txt -e ./clients/python -e '.[ray,s3]'")
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
        # A secret file the service opens itself: kept as a path even though it lies under the secrets dir.
        "GOVRAG_AUDIT__SIGNING_KEY_FILE": str(secrets / "signing.pem"),
    }
    result = subprocess.run(
        [
            "sh",
            str(ENTRYPOINT),
            "sh",
            "-c",
            'echo "key=$GOVRAG_AUDIT__QUERY_HMAC_KEY file=${GOVRAG_AUDIT__QUERY_HMAC_KEY_FILE:-}"'
            ' "p=$GOVRAG_PRINCIPALS_FILE s=$GOVRAG_AUDIT__SIGNING_KEY_FILE"',
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == (
        "key=" + "k" * 40 + f" file= p={principals} s={secrets / 'signing.pem'}"
    )
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
