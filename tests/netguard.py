"""A network tripwire for subprocess tests: an audit hook that records every attempt to resolve or connect.

govrag must run on a closed network: models come from installed packages, nothing phones home. A test
proves it by running the code in a fresh interpreter whose first act is to install `sys.addaudithook`
(PEP 578) with a hook that appends every socket resolve/connect/send event to a file, then asserting that
the file stayed empty. Recording, rather than raising, catches the attempts that a library would swallow
and recover from (tldextract falls back to its bundled snapshot after a failed download, for instance).

    from tests.netguard import run_guarded

    result = run_guarded("from retrieval.embedding import load_embedder; load_embedder()", tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.events == []

`guard_prelude(events_file)` is the hook alone, as source, for a test that builds its own script.
The hook sees what goes through Python's `socket` module (requests, httpx, urllib, huggingface_hub); a
native extension opening its own sockets would not be seen.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

# Audit events (https://docs.python.org/3/library/audit_events.html) that mean "talk to another host".
NETWORK_EVENTS: tuple[str, ...] = (
    "socket.connect",
    "socket.getaddrinfo",
    "socket.gethostbyname",
    "socket.gethostbyaddr",
    "socket.sendto",
    "socket.sendmsg",
)

# Variables that would make a library offline on the test's behalf; the subprocess runs without them so
# that the code under test has to set up offline mode itself.
OFFLINE_ENV_VARS: tuple[str, ...] = (
    "HF_HUB_OFFLINE",
    "TRANSFORMERS_OFFLINE",
    "HF_DATASETS_OFFLINE",
    "TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS",
    "TLDEXTRACT_CACHE",
)


def guard_prelude(events_file: Path) -> str:
    """Python source that installs the tripwire; put it first in the script a subprocess runs.

    Each network event is appended to `events_file` at once, one JSON object a line (`event`, `args`), so
    that the record survives a crash or a hang of the code under test.
    """
    return textwrap.dedent(
        f"""\
        import sys as _netguard_sys

        _netguard_events = {NETWORK_EVENTS!r}
        _netguard_log = open({str(events_file)!r}, "a", encoding="utf-8")

        def _netguard_hook(event, args):
            if event in _netguard_events:
                import json as _json

                _netguard_log.write(_json.dumps({{"event": event, "args": repr(args)}}) + "\\n")
                _netguard_log.flush()

        _netguard_sys.addaudithook(_netguard_hook)
        del _netguard_sys
        """
    )


def read_events(events_file: Path) -> list[dict[str, str]]:
    """The events the prelude recorded, in order; none if the file was never written."""
    if not events_file.exists():
        return []
    lines = events_file.read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


@dataclass(frozen=True)
class GuardedRun:
    returncode: int
    stdout: str
    stderr: str
    events: list[dict[str, str]]


def run_guarded(
    body: str,
    workdir: Path,
    *,
    timeout: float = 600,
    argv: Sequence[str] = (),
    command_prefix: Sequence[str] = (),
) -> GuardedRun:
    """Run `body` in a fresh interpreter behind the tripwire; return its outcome and the recorded events.

    The script is written to `workdir` (a test's `tmp_path`) and runs with the repository root as current
    directory, the same interpreter as the tests, and the environment minus `OFFLINE_ENV_VARS`. `argv`
    becomes the script's `sys.argv[1:]`; `command_prefix` wraps the interpreter (e.g. `["unshare", "-n"]`
    to run in a network namespace with no route anywhere).
    """
    events_file = workdir / "netguard-events.jsonl"
    script = workdir / "netguard_script.py"
    script.write_text(guard_prelude(events_file) + "\n" + textwrap.dedent(body), encoding="utf-8")
    env = {name: value for name, value in os.environ.items() if name not in OFFLINE_ENV_VARS}
    completed = subprocess.run(
        [*command_prefix, sys.executable, str(script), *argv],
        cwd=Path(__file__).resolve().parents[1],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    return GuardedRun(completed.returncode, completed.stdout, completed.stderr, read_events(events_file))
