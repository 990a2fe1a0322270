"""A worker process for the multi-process job tests: claims jobs from a shared PostgreSQL catalog.

Each process owns its own embedded vector store (one process per directory), with deterministic stand-in
models; what is under test is the claim, the lease, the takeover and the scheduler's leadership.
Usage: python -m tests.ingest.job_process DB_URL DATA_DIR SOURCE_ROOT LEASE_SECONDS SECONDS_PER_DOCUMENT
It prints `ready`, then `lead 0|1` every 0.2 s, and runs until killed or its stdin closes.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

from ingest.jobs import JobRunner, RefreshScheduler
from ingest.processing import Processed, WorkItem
from retrieval.job_leases import JobLeases
from retrieval.protocols import PiiMasker
from tests.ingest.pipeline_fixture import RecordingProcessor, build_world


class SlowProcessor(RecordingProcessor):
    """Takes `delay` seconds a document, so that a job is still running when the test acts."""

    delay = 0.0

    def process(self, items: Iterable[WorkItem], masker: PiiMasker | None = None) -> Iterator[Processed]:  # type: ignore[override]
        for result in super().process(items, masker):
            time.sleep(self.delay)
            yield result


def main() -> None:
    url, data_dir, source_root, lease, delay = sys.argv[1:6]
    world = build_world(Path(data_dir), Path(source_root), url)
    world.processor.__class__ = SlowProcessor
    SlowProcessor.delay = float(delay)
    leases = JobLeases(world.db, world.catalog, float(lease))
    runner = JobRunner(world.pipeline, leases=leases, poll_seconds=0.2)
    leases.recover(at_start=True)
    runner.start()
    scheduler = RefreshScheduler(world.catalog, runner, tick_seconds=3600)
    print("ready", runner.owner, flush=True)
    done = threading.Event()
    threading.Thread(target=lambda: (sys.stdin.read(), done.set()), daemon=True).start()
    while not done.wait(0.2):
        print("lead", int(scheduler.leading), flush=True)
    scheduler.stop()
    runner.shutdown()
    world.store.close()
    world.db.dispose()


if __name__ == "__main__":
    main()
