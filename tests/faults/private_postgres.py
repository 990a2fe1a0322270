"""A PostgreSQL server of the test's own (initdb in a temporary directory), so a test may stop and restart
it without touching the machine's shared server."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.govrag.e2e.live_service import free_port
from tests.strict import skip_or_fail


def _bin_dir() -> Path | None:
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"))
    return candidates[-1].parent if candidates else None


class PrivatePostgres:
    def __init__(self, bin_dir: Path, data: Path, port: int) -> None:
        self._bin = bin_dir
        self.data = data
        self.port = port

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str) -> None:
        subprocess.run(
            ["runuser", "-u", "postgres", "--", str(self._bin / args[0]), *args[1:]],
            check=True,
            capture_output=True,
            timeout=120,
        )

    def start(self) -> None:
        options = f"-p {self.port} -k {self.data} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run(
            "pg_ctl", "-D", str(self.data / "db"), "-o", options, "-w", "-l", str(self.data / "log"), "start"
        )

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.data / "db"), "-m", "fast", "-w", "stop")


@contextmanager
def private_postgres() -> Iterator[PrivatePostgres]:
    """A running private server; skips where one cannot be made (not root, no PostgreSQL binaries)."""
    bin_dir = _bin_dir()
    if bin_dir is None or shutil.which("runuser") is None or os.geteuid() != 0:
        skip_or_fail("a private PostgreSQL server needs root, runuser and the PostgreSQL binaries")
    data = Path(tempfile.mkdtemp(prefix="govrag-pg-"))
    shutil.chown(data, "postgres", "postgres")
    server = PrivatePostgres(bin_dir, data, free_port())
    try:
        server._run("initdb", "-D", str(data / "db"), "-A", "trust", "-U", "postgres", "--no-sync")
        server.start()
        yield server
    finally:
        with contextlib.suppress(subprocess.CalledProcessError):  # already stopped
            server.stop()
        shutil.rmtree(data, ignore_errors=True)
