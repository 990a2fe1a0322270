"""The access property at benchmark size: ≥ 10,000 retrievals checked against the policy's plain oracle.

    .venv/bin/python bench/policy_fuzz.py --trials 10000

Runs the hypothesis property of tests/retrieval/test_access_property.py
(harness: tests/retrieval/access_fuzz.py)
until at least `--trials` retrievals were checked, on the real service (Cedar policy, access planner,
qdrant-edge with the ACL filter, SQLite audit log). Prints one JSON object: trials, examples (random worlds),
leaks (chunks the oracle forbids), unfindable (allowed exact matches not returned
where top_k covers the first hit of each partition searched), inexact (with top_k above
the world's size, a result set other than exactly the allowed chunks), chunks the service had to drop because
the store's filter let them through, and audit events that do not match their answer. All must be 0.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hypothesis import HealthCheck, given, seed, settings

from tests.retrieval.access_fuzz import AccessFuzz, CorpusSpec, Request, corpora, requests, scratch_directory


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--trials", type=int, default=10_000, help="retrievals to check at least")
    parser.add_argument("--examples-per-round", type=int, default=500, help="hypothesis examples per round")
    parser.add_argument("--seed", type=int, default=None, help="make the run reproducible")
    args = parser.parse_args()

    started = time.perf_counter()
    rounds = 0
    with scratch_directory() as root:
        fuzz = AccessFuzz(root)
        try:
            while fuzz.tally.trials < args.trials and fuzz.tally.failures == 0:

                @settings(
                    max_examples=args.examples_per_round,
                    deadline=None,
                    database=None,
                    suppress_health_check=list(HealthCheck),
                )
                @given(specs=corpora, batch=requests)
                def property_round(specs: list[CorpusSpec], batch: list[Request]) -> None:
                    before = fuzz.tally.failures
                    fuzz.run(specs, batch)
                    assert fuzz.tally.failures == before

                if args.seed is not None:
                    property_round = seed(args.seed + rounds)(property_round)
                try:
                    property_round()
                except AssertionError:
                    break  # hypothesis shrank a failure; the tally holds it
                rounds += 1
        finally:
            fuzz.close()
    tally = fuzz.tally
    print(
        json.dumps(
            {
                "trials": tally.trials,
                "examples": tally.examples,
                "rounds": rounds,
                "leaks": tally.leaks,
                "unfindable": tally.unfindable,
                "inexact": tally.inexact,
                "dropped_by_service": tally.dropped_by_service,
                "audit_mismatches": tally.audit_mismatches,
                "first_violations": tally.violations[:5],
                "seconds": round(time.perf_counter() - started, 1),
            },
            indent=2,
        )
    )
    return 0 if tally.failures == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
