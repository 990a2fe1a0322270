"""Benchmark of reader-triggered backtracking in PII masking: a pathological query against a normal one.

    .venv/bin/python bench/pii_redos.py                 # 4,000 characters, 3 rounds
    .venv/bin/python bench/pii_redos.py --chars 20000   # longer texts: analysed in pieces

A reader's query is masked for the provenance log by the same analyzer as documents (`CorpusMaskers.default`,
in this process: no helper). Each pathological text repeats a token chosen to make a backtracking pattern
scan again from each of its starts (a run of capitals, of capitalised words, of hyphenated words, of spaces,
digits or punctuation, one huge word, contact-block lines, unfinished dialogue lines, comma lists without
"and"). The normal query is prose with names and addresses of the same length. Median CPU seconds of a
`mask` call, per text, and the worst pathological time over the normal one (goal: at most 3). CPU time
(of this process), not wall time: other processes on a shared machine inflate it less. Prints one JSON
object.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from retrieval.settings import configure_offline_runtime

configure_offline_runtime()

from retrieval.pii.profiles import CorpusMaskers  # noqa: E402

NORMAL = (
    "Can you find the letter that Maria Garcia sent to the tenants at 12 Baker Street, London, about the "
    "rent review, and the reply from Mr. Jan Novak (jan.novak@example.com, +49 30 1234567) last spring? "
    "I also need the minutes where the board discussed the new office in Lisbon and the budget for 2024. "
)
PATHOLOGICAL = {
    "capital letters": "A",
    "capitalised words": "Ab ",
    "upper-case words": "AB  ",
    "hyphenated words": "Ab-",
    "spaces": " ",
    "digits": "1",
    "digit groups": "12 ",
    "punctuation": ".-",
    "one huge word": "a",
    "contact-block lines": "Ab Cd\n",
    "dialogue lines": "Ab: Cd ef",
    "comma list": "Ab, ",
    "speech verbs": "Ab said ",
    "e-mail shapes": "a@",
}


def _cpu_median(mask: object, text: str, rounds: int) -> float:
    times = []
    for _ in range(rounds):
        started = time.process_time()
        mask(text)  # type: ignore[operator]
        times.append(time.process_time() - started)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--chars", type=int, default=4000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    masker = CorpusMaskers(workers=0).default
    normal = (NORMAL * (args.chars // len(NORMAL) + 1))[: args.chars]
    masker.mask(normal)  # warm up
    normal_s = _cpu_median(masker.mask, normal, args.rounds)
    results = {}
    for name, token in PATHOLOGICAL.items():
        text = (token * (args.chars // len(token) + 1))[: args.chars]
        results[name] = round(_cpu_median(masker.mask, text, args.rounds), 4)
    worst = max(results, key=lambda name: results[name])
    print(
        json.dumps(
            {
                "chars": args.chars,
                "rounds": args.rounds,
                "normal_cpu_s": round(normal_s, 4),
                "pathological_cpu_s": results,
                "worst": worst,
                "worst_over_normal": round(results[worst] / normal_s, 2),
                "goal_worst_over_normal": 3.0,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
