"""Span-level evaluation of the ingestion PII masker on labelled sentences (presidio-research format).

Input: a JSON list of `{"full_text": str, "spans": [{"entity_type", "start_position", "end_position", ...}]}`
(other keys are ignored), as `../shared/data/pii-synth/dev.json`.

How labels meet predictions. The data set's labels (`STREET_ADDRESS`, `GPE`, `ZIP_CODE`, ...) are not the
masker's entity types, so each in-scope label names the masker types that count as finding it
(`LABEL_MAPPING`); its first type is the label's *primary* type, under which it is reported. A labelled span
is found when at least one predicted span of an accepted type overlaps it (by one character or more). A
predicted span is correct when it overlaps a labelled span whose label accepts its type; anything else is a
false positive, including a prediction over a label the masker leaves alone on purpose (`OUT_OF_SCOPE`:
organisations, dates, nationalities, web addresses, job titles), and a prediction over PII of a different
type. Out-of-scope labels are not counted in recall. Counting is per span, so a prediction covering two
labelled spans finds both, and an address masked in three pieces gives three correct predictions.

Reported: precision, recall and F2 (recall weighted four times as much as precision: a leak costs more than
an over-masked word) overall and per masker type, recall per data-set label, the same figures ignoring the
type (`untyped`: was *some* PII masked there?), the share of labelled characters masked (`char_recall`:
overlap counting is generous to an address masked only in part), and throughput.
"""

from __future__ import annotations

import json
import random
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from retrieval.protocols import MaskedSpan, MaskedText, PiiMasker

__all__ = [
    "LABEL_MAPPING",
    "OUT_OF_SCOPE",
    "LabelledSpan",
    "Sample",
    "evaluate",
    "evaluate_file",
    "load_samples",
    "template_folds",
]

# Data-set label → masker entity types that count as finding it; the first is the label's primary type.
LABEL_MAPPING: dict[str, tuple[str, ...]] = {
    "PERSON": ("PERSON",),
    "GPE": ("LOCATION", "STREET_ADDRESS"),
    # A street address is a location: a city or country found inside it by the NER model masks part of it.
    "STREET_ADDRESS": ("STREET_ADDRESS", "LOCATION", "POSTAL_CODE"),
    "ZIP_CODE": ("POSTAL_CODE", "STREET_ADDRESS"),
    "AGE": ("AGE",),
    "PHONE_NUMBER": ("PHONE_NUMBER",),
    "EMAIL_ADDRESS": ("EMAIL_ADDRESS",),
    "CREDIT_CARD": ("CREDIT_CARD",),
    "IBAN_CODE": ("IBAN_CODE",),
    "IP_ADDRESS": ("IP_ADDRESS",),
    "US_SSN": ("US_SSN",),
    "US_DRIVER_LICENSE": ("US_DRIVER_LICENSE",),
    "US_PASSPORT": ("US_PASSPORT",),
    "US_BANK_NUMBER": ("US_BANK_NUMBER",),
    "US_ITIN": ("US_ITIN",),
    "UK_NHS": ("UK_NHS",),
    "UK_NINO": ("UK_NINO",),
    "DATE_OF_BIRTH": ("DATE_OF_BIRTH",),
}

# Labels of things the masker keeps on purpose (see masker.DEFAULT_ENTITIES): not counted in recall,
# and a prediction over one of them is a false positive. TITLE covers job titles ("Accountant") and
# honorifics ("Mrs."); the name after an honorific is labelled PERSON and counted there.
OUT_OF_SCOPE: frozenset[str] = frozenset({"ORGANIZATION", "DATE_TIME", "NRP", "DOMAIN_NAME", "TITLE", "URL"})


@dataclass(frozen=True, slots=True)
class LabelledSpan:
    label: str
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class Sample:
    text: str
    spans: tuple[LabelledSpan, ...]
    # The template the sentence was generated from, where the data set says (`template_id`).
    template: str | None = None


def load_samples(path: Path) -> list[Sample]:
    """Read a presidio-research file; `ValueError` naming the first record that does not fit the format."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path} is not JSON: {exc}") from exc
    if not isinstance(raw, list):
        raise ValueError(f"{path}: expected a JSON list of samples, got {type(raw).__name__}")
    samples: list[Sample] = []
    for index, record in enumerate(raw):
        try:
            text = record["full_text"]
            spans = tuple(
                LabelledSpan(str(s["entity_type"]), int(s["start_position"]), int(s["end_position"]))
                for s in record["spans"]
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"{path}: sample {index} is not a presidio-research record: {exc!r}") from exc
        if not isinstance(text, str):
            raise ValueError(f"{path}: sample {index}: full_text is not a string")
        for span in spans:
            if not 0 <= span.start < span.end <= len(text):
                raise ValueError(f"{path}: sample {index}: span {span} is outside the text")
        template = record.get("template_id")
        samples.append(Sample(text, spans, None if template is None else str(template)))
    return samples


def _scores(tp_predicted: int, predicted: int, tp_labelled: int, labelled: int) -> dict[str, float | int]:
    precision = tp_predicted / predicted if predicted else 1.0
    recall = tp_labelled / labelled if labelled else 1.0
    f2 = 5 * precision * recall / (4 * precision + recall) if precision + recall else 0.0
    return {
        "precision": round(precision, 4),
        "recall": round(recall, 4),
        "f2": round(f2, 4),
        "predicted": predicted,
        "labelled": labelled,
        "false_positives": predicted - tp_predicted,
        "missed": labelled - tp_labelled,
    }


def _overlaps(a_start: int, a_end: int, b_start: int, b_end: int) -> bool:
    return a_start < b_end and b_start < a_end


def evaluate(
    samples: Sequence[Sample],
    masker: PiiMasker,
    *,
    mapping: Mapping[str, Sequence[str]] = LABEL_MAPPING,
    folds: int = 0,
) -> dict[str, Any]:
    """Mask every sample's text with `masker` (one `mask_batch` call) and score the spans (see the module);
    with `folds`, the leave-templates-out figures too (`template_folds`)."""
    texts = [sample.text for sample in samples]
    started = time.perf_counter()
    masked = masker.mask_batch(texts)
    seconds = time.perf_counter() - started
    report = _score(samples, masked, mapping)
    report["throughput"] = {
        "seconds": round(seconds, 3),
        "sentences_per_second": round(len(samples) / seconds, 1) if seconds > 0 else None,
        "characters_per_second": round(sum(map(len, texts)) / seconds) if seconds > 0 else None,
    }
    if folds:
        report["template_folds"] = template_folds(samples, masked, folds, mapping=mapping)
    return report


def _score(
    samples: Sequence[Sample], masked: Sequence[MaskedText], mapping: Mapping[str, Sequence[str]]
) -> dict[str, Any]:
    primary = {label: types[0] for label, types in mapping.items()}
    counts: Counter[tuple[str, str]] = Counter()  # (figure, type) → count
    unmapped: Counter[str] = Counter()
    covered_chars = total_chars = 0
    for sample, result in zip(samples, masked, strict=True):
        in_scope = [s for s in sample.spans if s.label in mapping]
        unmapped.update(
            s.label for s in sample.spans if s.label not in mapping and s.label not in OUT_OF_SCOPE
        )
        predictions: tuple[MaskedSpan, ...] = result.spans
        for p in predictions:
            hits = [s for s in in_scope if _overlaps(p.start, p.end, s.start, s.end)]
            counts["predicted", p.entity_type] += 1
            counts["tp_predicted", p.entity_type] += any(p.entity_type in mapping[s.label] for s in hits)
            counts["untyped_tp_predicted", ""] += bool(hits)
        for s in in_scope:
            hits_p = [p for p in predictions if _overlaps(p.start, p.end, s.start, s.end)]
            found = any(p.entity_type in mapping[s.label] for p in hits_p)
            for key in (primary[s.label], "label:" + s.label):
                counts["labelled", key] += 1
                counts["tp_labelled", key] += found
            counts["untyped_tp_labelled", ""] += bool(hits_p)
            masked_chars = {i for p in hits_p for i in range(max(p.start, s.start), min(p.end, s.end))}
            labelled_chars = [i for i in range(s.start, s.end) if not sample.text[i].isspace()]
            total_chars += len(labelled_chars)
            covered_chars += sum(i in masked_chars for i in labelled_chars)

    def total(figure: str) -> int:
        return sum(n for (name, key), n in counts.items() if name == figure and not key.startswith("label:"))

    types = sorted({key for (name, key) in counts if name in ("predicted", "labelled") and ":" not in key})
    labels = sorted({key[6:] for (name, key) in counts if name == "labelled" and key.startswith("label:")})
    return {
        "samples": len(samples),
        "overall": _scores(
            total("tp_predicted"), total("predicted"), total("tp_labelled"), total("labelled")
        ),
        "per_type": {
            t: _scores(
                counts["tp_predicted", t],
                counts["predicted", t],
                counts["tp_labelled", t],
                counts["labelled", t],
            )
            for t in types
        },
        "recall_per_label": {
            label: {
                "recall": round(
                    counts["tp_labelled", "label:" + label] / counts["labelled", "label:" + label], 4
                ),
                "labelled": counts["labelled", "label:" + label],
                "counted_as": list(mapping[label]),
            }
            for label in labels
        },
        "untyped": _scores(
            counts["untyped_tp_predicted", ""],
            total("predicted"),
            counts["untyped_tp_labelled", ""],
            total("labelled"),
        ),
        "char_recall": round(covered_chars / total_chars, 4) if total_chars else 1.0,
        "type_mapping": {label: list(types) for label, types in mapping.items()},
        "out_of_scope_labels": sorted(OUT_OF_SCOPE),
        "unmapped_labels": dict(sorted(unmapped.items())),
    }


def template_folds(
    samples: Sequence[Sample],
    masked: Sequence[MaskedText],
    folds: int = 5,
    *,
    mapping: Mapping[str, Sequence[str]] = LABEL_MAPPING,
    seed: int = 0,
) -> dict[str, Any]:
    """Leave-templates-out: the samples' templates dealt into `folds` folds (shuffled with `seed`), each fold
    scored on its own, as sentences of templates that a change tuned on the other folds has not seen.

    The masker is not trained, so pooling the folds gives the full-set figures back; what the folds add is
    the spread across unseen templates: per-fold overall and per-type scores, their mean and worst fold.
    The protocol for a change: look only at the errors of four folds, then read the fifth's figures.
    `ValueError` without templates, or with fewer templates than folds.
    """
    templates = sorted({sample.template for sample in samples if sample.template is not None})
    if len(templates) < folds:
        raise ValueError(
            f"leave-templates-out needs at least {folds} templates (template_id), got {len(templates)}"
        )
    random.Random(seed).shuffle(templates)  # noqa: S311  (a reproducible split, no secret)
    fold_of = {template: index % folds for index, template in enumerate(templates)}
    reports = []
    for fold in range(folds):
        chosen = [i for i, sample in enumerate(samples) if fold_of.get(sample.template or "") == fold]
        report = _score([samples[i] for i in chosen], [masked[i] for i in chosen], mapping)
        reports.append(
            {
                "fold": fold,
                "templates": sum(1 for f in fold_of.values() if f == fold),
                "samples": len(chosen),
                "overall": report["overall"],
                "per_type": {
                    t: {k: v[k] for k in ("precision", "recall", "labelled")}
                    for t, v in report["per_type"].items()
                },
            }
        )

    def spread(figure: str) -> dict[str, float]:
        values = [r["overall"][figure] for r in reports]
        return {"mean": round(sum(values) / len(values), 4), "min": min(values), "max": max(values)}

    types = sorted({t for r in reports for t in r["per_type"]})
    return {
        "folds": folds,
        "seed": seed,
        "templates": len(templates),
        "precision": spread("precision"),
        "recall": spread("recall"),
        "per_type_mean": {
            t: {
                figure: round(
                    sum(r["per_type"][t][figure] for r in reports if t in r["per_type"])
                    / sum(1 for r in reports if t in r["per_type"]),
                    4,
                )
                for figure in ("precision", "recall")
            }
            for t in types
        },
        "per_fold": reports,
    }


def evaluate_file(path: Path, masker: PiiMasker | None = None, *, folds: int = 5) -> dict[str, Any]:
    """`evaluate` on a file, with the ingestion's default masker (replace, the configured score threshold:
    `GOVRAG_PII__SCORE_THRESHOLD`) unless given."""
    samples = load_samples(path)
    if masker is None:
        from retrieval.pii.profiles import CorpusMaskers
        from retrieval.settings import get_settings

        masker = CorpusMaskers.from_settings(get_settings().pii).default
    has_templates = any(sample.template is not None for sample in samples)
    report = evaluate(samples, masker, folds=folds if has_templates else 0)
    report["file"] = str(path)
    return report
