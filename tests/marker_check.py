"""A pytest plugin (loaded from pyproject's addopts): every test carries exactly one of `unit` or
`integration`, so `-m unit` really is the fast, component-free set and nothing falls between the two."""

from __future__ import annotations

import pytest

KINDS = ("unit", "integration")


def unmarked(items: list[pytest.Item]) -> list[str]:
    wrong = []
    for item in items:
        kinds = {mark.name for mark in item.iter_markers() if mark.name in KINDS}
        if len(kinds) != 1:
            wrong.append(f"{item.nodeid}: {sorted(kinds) or 'neither'}")
    return wrong


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    wrong = unmarked(items)
    if wrong:
        listed = "\n  ".join(wrong[:50])
        raise pytest.UsageError(
            f"{len(wrong)} test(s) must carry exactly one of the markers unit, integration:\n  {listed}"
        )
