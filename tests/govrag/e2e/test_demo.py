"""The README's demo stays true: `govrag demo` ingests the sample corpora and prints working keys."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_demo_ingests_the_samples_and_prints_keys_and_a_curl_call(tmp_path: Path) -> None:
    env = {**os.environ, "GOVRAG_DATA_DIR": str(tmp_path / "data")}
    result = subprocess.run(
        [sys.executable, "-m", "govrag.cli", "demo", "--no-serve"],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    out = result.stdout
    for corpus in ("eu-handbook", "us-contracts", "eu-press"):
        assert re.search(rf"corpus {corpus} .* job succeeded: (\d+)/\1 documents", out), out
    keys = dict(re.findall(r"^  (alice|bob|sam|audrey)\s+(\S+)", out, flags=re.M))
    assert set(keys) == {"alice", "bob", "sam", "audrey"}
    assert f"Authorization: Bearer {keys['alice']}" in out and "curl -s http://127.0.0.1:8000/retrieve" in out
    assert "Console: http://127.0.0.1:8000/console/" in out
    principals = (tmp_path / "data" / "demo-principals.yaml").read_text()
    assert all(key not in principals for key in keys.values()), "a plaintext key was stored"
