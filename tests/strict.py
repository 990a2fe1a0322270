"""Skips that would hide a failure in CI. Where a test cannot run on a user's clone (no root, no catdoc, no
network namespace, no docker-compose, no shared data) it skips with the reason; with GOVRAG_TEST_STRICT=1, as
`.ci/run` sets, the same condition fails the test, because CI provides all of them."""

from __future__ import annotations

import os
from typing import NoReturn

import pytest

STRICT = os.environ.get("GOVRAG_TEST_STRICT") == "1"


def skip_or_fail(reason: str) -> NoReturn:
    if STRICT:
        pytest.fail(f"required where GOVRAG_TEST_STRICT=1 (CI): {reason}")
    pytest.skip(reason)


def require(available: object, reason: str) -> None:
    """Skip (or, in CI, fail) unless `available` is truthy."""
    if not available:
        skip_or_fail(reason)
