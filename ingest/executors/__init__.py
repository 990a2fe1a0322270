"""Where a job's documents are parsed, masked and embedded: in this process, or fanned out over Ray.

The pipeline decides what to process and writes the results in order; an executor only computes them.
Both give the same `Processed` results for the same documents (tests/ingest/test_ray_executor.py), so
the index does not depend on where the work ran.
"""

from __future__ import annotations

from ingest.executors.local import DocumentExecutor, LocalExecutor

__all__ = ["DocumentExecutor", "LocalExecutor"]
