"""How far back the log may be pruned: never past the retention the deployment configured."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from retrieval.errors import Conflict


def retention_bound(
    before: datetime | None, retention_days: int | None, now: datetime | None = None
) -> datetime:
    """The cut a prune may use: `before` if given, else the retention cut; never later than the retention cut.

    Without the bound an admin could prune the log up to now, and what is left (the signed anchor and the
    prune event) would still verify: the evidence gone and the log "intact". `Conflict` when no retention is
    configured (the log is then kept whole) or when `before` is later than the retention cut.
    """
    if retention_days is None:
        raise Conflict("no retention is configured (GOVRAG_AUDIT__RETENTION_DAYS): the log is kept whole")
    limit = (now or datetime.now(UTC)) - timedelta(days=retention_days)
    if before is None:
        return limit
    if before > limit:
        raise Conflict(
            f"the cut {before.astimezone(UTC).isoformat(timespec='seconds')} is later than the retention "
            f"of {retention_days} days allows ({limit.astimezone(UTC).isoformat(timespec='seconds')}); "
            "nothing was pruned"
        )
    return before
