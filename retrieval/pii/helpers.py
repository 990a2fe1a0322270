"""The PII helper processes: a process-wide pool that analyses large batches and single texts off the
calling process (`retrieval.pii.analyzer.analyse`, each helper with its own analyzer).

spaCy and presidio hold the GIL, so in threads they would run on one core, and they would keep the embedding
thread of an ingestion waiting for the GIL between torch's operations. A single text (a query, masked for the
log while the request embeds and searches it) goes to a helper too: ~10 ms of pure Python in a request thread
would hold the GIL against the event loop and the embedding's Python glue. Smaller batches stay in the
calling process, where sending them would cost more than it saves. Only texts and entity settings are sent;
the pseudonym key never leaves the calling process.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import threading
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from retrieval.pii.analyzer import Finding, analyse
from retrieval.pii.engine import shared_analysis

__all__ = ["MIN_TEXTS_PER_WORKER", "find", "start_helpers", "stop_helpers"]

logger = logging.getLogger(__name__)

# A batch is split only where each process gets at least this many texts: below it (a query, a small
# document) starting the work elsewhere and sending the texts costs more than it saves.
MIN_TEXTS_PER_WORKER = 8

_pools: dict[int, ProcessPoolExecutor] = {}
_pools_lock = threading.Lock()


def _start_helper() -> None:
    """First in each helper process: ignore Ctrl-C (the parent decides when to stop), exit when the parent
    is gone, build the analyzer."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    threading.Thread(target=_exit_with_parent, name="parent-watch", daemon=True).start()
    shared_analysis()


def _exit_with_parent() -> None:
    """Wait for the parent process to end, then end this helper.

    A parent that dies without shutting its pool down (killed; or stopped by a signal whose default action
    ends it, as uvicorn re-raises SIGTERM after a graceful shutdown) would otherwise leave its helpers
    blocked on their task queue for ever, each holding a spaCy model.
    """
    parent = multiprocessing.parent_process()
    if parent is None:  # pragma: no cover - always set in a process the pool spawned
        return
    parent.join()
    os._exit(0)


def _helpers(processes: int) -> ProcessPoolExecutor:
    """The process-wide pool of `processes` helper processes, started on first use.

    Started with `spawn`: a forked copy of a process that has torch or database threads running can
    deadlock. A helper takes ~5 s to build its analyzer; batches sent meanwhile wait in its queue.
    """
    with _pools_lock:
        pool = _pools.get(processes)
        if pool is None:
            pool = ProcessPoolExecutor(
                max_workers=processes,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_start_helper,
            )
            _pools[processes] = pool
        return pool


def start_helpers(processes: int) -> None:
    """Start the pool of `processes` helper processes now rather than at the first text sent to it (each
    builds its analyzer, ~5 s): a service calls this at start-up so that its first queries do not wait.
    Returns at once; does nothing for 0."""
    if processes == 0:
        return
    helpers = _helpers(processes)
    try:
        for _ in range(processes):  # one task per helper: the pool starts a process for each
            helpers.submit(_start_helper_task)
    except (BrokenProcessPool, RuntimeError):
        _discard_helpers(processes, helpers)  # the next batch starts a new pool


def stop_helpers() -> None:
    """Shut every helper pool down and wait for its processes to exit; the next batch starts new ones.

    For a process that is ending (the service, on shutdown). Helpers also exit by themselves when their
    parent dies (`_exit_with_parent`).
    """
    with _pools_lock:
        pools = list(_pools.values())
        _pools.clear()
    for pool in pools:
        pool.shutdown(wait=True, cancel_futures=True)


def _start_helper_task() -> None:
    """Nothing: the helper's initializer (`_start_helper`) has built its analyzer when this runs."""


def _discard_helpers(processes: int, broken: ProcessPoolExecutor) -> None:
    with _pools_lock:
        if _pools.get(processes) is broken:
            del _pools[processes]
    broken.shutdown(wait=False, cancel_futures=True)


def _split(texts: Sequence[str], parts: int) -> list[Sequence[str]]:
    """`texts` in up to `parts` consecutive slices of about equal length in characters, each of at least
    MIN_TEXTS_PER_WORKER texts (fewer slices where the batch is small)."""
    parts = max(1, min(parts, len(texts) // MIN_TEXTS_PER_WORKER))
    total = sum(len(text) for text in texts)
    slices: list[Sequence[str]] = []
    start, seen = 0, 0
    for index, text in enumerate(texts):
        seen += len(text)
        remaining = parts - len(slices) - 1
        if (
            remaining
            and seen * parts >= total * (len(slices) + 1)
            and index + 1 - start >= MIN_TEXTS_PER_WORKER
            and len(texts) - (index + 1) >= MIN_TEXTS_PER_WORKER * remaining
        ):
            slices.append(texts[start : index + 1])
            start = index + 1
    slices.append(texts[start:])
    return slices


def find(
    texts: Sequence[str],
    entities: Sequence[str],
    score_threshold: float,
    batch_size: int,
    workers: int,
    *,
    together: bool = False,
) -> list[list[Finding]]:
    """`analyse(texts, ...)`, in `workers` helper processes where that pays (see the module docstring), here
    otherwise; a helper that is gone has its share analysed here, and the next batch starts a new pool.
    `together`: the batch goes to one helper whatever its size (queries for the log, batched across
    requests: kept off this process's GIL as a single query is)."""
    settings = (entities, score_threshold, batch_size)
    if workers == 0 or (not together and 1 < len(texts) < MIN_TEXTS_PER_WORKER):
        return analyse(texts, *settings)
    parts = [texts] if together else _split(texts, workers)
    helpers = _helpers(workers)
    try:
        futures = [helpers.submit(analyse, part, *settings) for part in parts]
    except (BrokenProcessPool, RuntimeError):
        logger.warning("the PII analysis processes are gone; analysing the batch here")
        _discard_helpers(workers, helpers)
        return analyse(texts, *settings)
    findings: list[list[Finding]] = []
    for part, future in zip(parts, futures, strict=True):
        try:
            findings.extend(future.result())
        except BrokenProcessPool:
            # A helper died (killed, out of memory): its texts are analysed here.
            logger.warning("a PII analysis process is gone; analysing its share of the batch here")
            _discard_helpers(workers, helpers)
            findings.extend(analyse(part, *settings))
    return findings
