"""The latest cut a prune through the API may take: never later than now minus the configured retention."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from retrieval.audit.retention import retention_bound
from retrieval.errors import Conflict

pytestmark = pytest.mark.unit

NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)


def test_the_default_cut_is_the_retention_cut() -> None:
    assert retention_bound(None, 30, NOW) == NOW - timedelta(days=30)


@pytest.mark.parametrize("days_ago", [31, 30, 365])
def test_a_cut_at_or_before_the_retention_cut_is_taken(days_ago: int) -> None:
    cut = NOW - timedelta(days=days_ago)
    assert retention_bound(cut, 30, NOW) == cut


@pytest.mark.parametrize("cut", [NOW + timedelta(days=1), NOW, NOW - timedelta(days=29, hours=23)])
def test_a_later_cut_is_refused(cut: datetime) -> None:
    with pytest.raises(Conflict, match="later than the retention"):
        retention_bound(cut, 30, NOW)


def test_without_a_retention_nothing_is_pruned() -> None:
    for cut in (None, NOW - timedelta(days=3650)):
        with pytest.raises(Conflict, match="no retention is configured"):
            retention_bound(cut, None, NOW)
