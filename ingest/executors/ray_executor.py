"""`GOVRAG_INGEST__EXECUTOR=ray`: a job's documents fan out over a Ray cluster; the owner writes the results.

    owner (the job's process)        Ray                                   owner
    read a batch's bytes   ──►  parse + chunk + mask task (CPU)  ──►  embed actor (GPU)  ──►  write
                                parse + chunk + mask + embed task (a cluster without GPUs)

The owner reads each document through the corpus's source (the same confined read as the local executor:
links refused, inode and content hash checked), so workers on other hosts need no access to the source;
a batch of `ray_batch_documents` documents goes to one task, which parses them (in a parser process, under
the same limits), chunks them and masks all their chunks in one call. Where the cluster has GPUs, its
result goes straight to an embedding actor holding the model on a GPU (Ray hands the task's result to the
actor without a round trip through the owner), which embeds the masked chunks and returns the finished
documents; on CPUs alone the task embeds its batch itself (`GOVRAG_INGEST__RAY_EMBED_ON`). The owner
takes batches back in input order and writes them with the pipeline's crash-safe order. At most
`ray_batches_in_flight` batches are in flight: that bounds the owner's memory and gives backpressure.

Faults: a task whose worker dies is retried by Ray (`max_retries`), an actor that dies is restarted and
its call retried (`max_restarts`, `max_task_retries`); the work is deterministic, so a retry gives the same
result. A batch that still fails comes back as failed documents with an `internal error` reason, which the
next run retries. A cluster that cannot be reached fails the job with that reason: there is no silent
fallback to local work.
"""

from __future__ import annotations

import collections
import dataclasses
import logging
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from ingest.executors.models import WorkerModels
from ingest.processing import (
    DocumentWork,
    Processed,
    WorkItem,
    check_format,
    document_slots,
    embed_slots,
    failed_document,
    mask_slots,
    parse_document,
    read_item,
)
from retrieval.domain import MaskingProfile
from retrieval.errors import ConfigurationError, IngestionError
from retrieval.protocols import Embedder
from retrieval.settings import IngestSettings

logger = logging.getLogger(__name__)

# A task or actor call is retried this often when its worker dies (an OOM kill, a lost node).
_RETRIES = 3
LOST_BATCH = "internal error while ingesting: the Ray cluster lost this document's batch"


@dataclass(slots=True)
class RayStats:
    """Seconds spent per stage by the workers (summed over tasks) and by the owner, for benchmarks."""

    documents: int = 0
    chunks: int = 0
    read: float = 0.0
    parse: float = 0.0
    mask: float = 0.0
    embed: float = 0.0

    def add(self, timings: dict[str, float]) -> None:
        for stage, seconds in timings.items():
            setattr(self, stage, getattr(self, stage) + seconds)


class RayExecutor:
    """Runs `process` on a Ray cluster; connects (or starts a local Ray) on first use, once per process."""

    def __init__(self, settings: IngestSettings, models: WorkerModels, embedder: Embedder) -> None:
        """`embedder` is the owner's: the workers' must be the same model with the same weights."""
        self._settings = settings
        self._models = models
        self._expected = (embedder.model_name, embedder.weights_sha256)
        self._lock = threading.Lock()
        self._ray: Any = None
        self._started_ray = False
        self._actors: list[Any] = []
        self._next_actor = 0
        self.stats = RayStats()

    @property
    def address(self) -> str:
        return self._settings.ray_address or "a local Ray started by this process"

    def process(self, items: Iterable[WorkItem], profile: MaskingProfile) -> Iterator[Processed]:
        self._connect()
        return self._process(items, profile)

    def close(self) -> None:
        with self._lock:
            ray, self._ray = self._ray, None
            actors, self._actors = self._actors, []
            if ray is None:
                return
            for actor in actors:
                try:
                    ray.kill(actor)
                except Exception:  # a cluster already gone has nothing left to release
                    logger.debug("could not stop an embedding actor", exc_info=True)
            if self._started_ray:
                ray.shutdown()
                self._started_ray = False

    # -- the cluster ----------------------------------------------------------------------------------------

    def _connect(self) -> None:
        with self._lock:
            if self._ray is not None:
                return
            try:
                import ray
            except ImportError as exc:
                raise ConfigurationError(
                    "GOVRAG_INGEST__EXECUTOR=ray needs Ray: pip install 'govrag[ray]'"
                ) from exc
            options: dict[str, Any] = {
                "include_dashboard": False,
                "log_to_driver": False,
                "configure_logging": False,
                "ignore_reinit_error": True,
            }
            address = self._settings.ray_address
            try:
                if not ray.is_initialized():
                    if address is None:
                        ray.init(num_cpus=self._settings.ray_num_cpus, **options)
                        self._started_ray = True
                    else:
                        ray.init(address=address, **options)
                actors = self._start_actors(ray)
            except Exception as exc:
                # Also after a failed connection to a cluster: Ray keeps half a client otherwise, and the
                # next `ray.init` in this process would fail on it.
                ray.shutdown()
                self._started_ray = False
                if isinstance(exc, IngestionError | ConfigurationError):
                    raise
                raise IngestionError(
                    f"the Ray cluster at {self.address} cannot be reached: {_first_line(exc)}"
                ) from exc
            self._ray, self._actors = ray, actors

    def _start_actors(self, ray: Any) -> list[Any]:
        """The embedding actors, or none where the tasks embed; checks the workers' model either way."""
        resources = ray.cluster_resources()
        gpus = resources.get("GPU", 0.0)
        cpus = resources.get("CPU", 0.0)
        settings = self._settings
        where = settings.ray_embed_on
        if where == "tasks" or (where == "auto" and gpus < 1):
            # On CPUs alone, a task embeds its own batch: every core then does whole batches, where an actor
            # pool would split each chunk between two kinds of worker whose costs differ about 2:1
            # (bench/ingest_scale.py), leaving one kind idle half the time.
            identity = ray.get(
                ray.remote(_identity).options(num_cpus=settings.ray_task_cpus).remote(self._models)
            )
            self._check_identity(identity)
            logger.info("Ray executor ready at %s: tasks embed their own batches on CPUs", self.address)
            return []
        count = settings.ray_embed_actors
        if gpus >= 1:
            # One GPU each: more actors than GPUs would wait for a GPU forever.
            count = min(count, int(gpus))
            placement: dict[str, Any] = {"num_gpus": 1, "num_cpus": 0}
        else:
            # The actors must leave a task's worth of CPUs, or no document would ever be parsed to embed.
            spare = max(0.0, cpus - settings.ray_task_cpus) / count
            placement = {"num_cpus": min(settings.ray_embed_cpus, spare)}
        actor_class = ray.remote(max_restarts=-1, max_task_retries=_RETRIES)(_Embedder)
        actors = [
            actor_class.options(**placement).remote(self._models, "cuda" if gpus >= 1 else "cpu")
            for _ in range(count)
        ]
        for identity in ray.get([actor.identity.remote() for actor in actors]):
            self._check_identity(identity)
        logger.info(
            "Ray executor ready at %s: %d embedding actor(s) on %s",
            self.address,
            len(actors),
            "GPU" if gpus >= 1 else f"{placement['num_cpus']} CPU(s) each",
        )
        return actors

    def _check_identity(self, identity: tuple[str, str]) -> None:
        if tuple(identity) != self._expected:
            raise ConfigurationError(
                f"the Ray workers embed with {identity[0]} (weights {identity[1][:12]}…), this process "
                f"with {self._expected[0]} (weights {self._expected[1][:12]}…): install the same "
                "govrag on the cluster"
            )

    # -- the work -------------------------------------------------------------------------------------------

    def _process(self, items: Iterable[WorkItem], profile: MaskingProfile) -> Iterator[Processed]:
        ray = self._ray
        work = _prepare if self._actors else _prepare_and_embed
        prepare = ray.remote(work).options(
            num_cpus=self._settings.ray_task_cpus, max_retries=_RETRIES, retry_exceptions=False
        )
        in_flight: collections.deque[_Batch] = collections.deque()
        try:
            for batch in _batches(items, self._settings.ray_batch_documents):
                while len(in_flight) >= self._settings.ray_batches_in_flight:
                    yield from self._collect(in_flight.popleft())
                in_flight.append(self._submit(batch, prepare, profile))
            while in_flight:
                yield from self._collect(in_flight.popleft())
        finally:
            for pending in in_flight:  # the caller stopped early: drop what is still queued
                if pending.result is not None:
                    try:
                        ray.cancel(pending.result)
                    except Exception:
                        logger.debug("could not cancel a Ray batch", exc_info=True)

    def _submit(self, items: list[WorkItem], prepare: Any, profile: MaskingProfile) -> _Batch:
        started = time.perf_counter()
        batch = _Batch(items)
        remote: list[tuple[WorkItem, bytes]] = []
        for index, item in enumerate(items):
            try:
                check_format(item)
                data = read_item(item, self._models.max_file_bytes)
            except Exception as exc:
                batch.failed[index] = failed_document(item, exc)
                continue
            remote.append((item.detached(), data))
        self.stats.read += time.perf_counter() - started
        if remote:
            prepared = prepare.remote(self._models, profile, remote)
            if self._actors:
                actor = self._actors[self._next_actor % len(self._actors)]
                self._next_actor += 1
                prepared = actor.embed.remote(prepared)
            batch.result = prepared
        return batch

    def _collect(self, batch: _Batch) -> Iterator[Processed]:
        finished: list[Processed] = []
        if batch.result is not None:
            try:
                finished, timings = self._ray.get(batch.result)
                self.stats.add(timings)
            except Exception as exc:  # retries spent: these documents fail now and are retried next run
                logger.warning("a Ray batch of %d documents failed: %s", len(batch.items), _first_line(exc))
                finished = [
                    Processed(item, error=LOST_BATCH)
                    for index, item in enumerate(batch.items)
                    if index not in batch.failed
                ]
        remote = iter(finished)
        for index, item in enumerate(batch.items):
            self.stats.documents += 1
            if index in batch.failed:
                yield batch.failed[index].result()
                continue
            result = next(remote)
            # The worker had a detached copy; the owner's item keeps the handle to the source. An e-mail's
            # readers were learnt by its parse.
            owned = dataclasses.replace(item, acl_groups=result.item.acl_groups)
            self.stats.chunks += len(result.chunks)
            yield dataclasses.replace(result, item=owned)


@dataclass(slots=True)
class _Batch:
    items: list[WorkItem]
    failed: dict[int, DocumentWork] = field(default_factory=dict)
    result: Any = None  # the ObjectRef of the embedding actor's answer


def _batches(items: Iterable[WorkItem], size: int) -> Iterator[list[WorkItem]]:
    batch: list[WorkItem] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:300]


# -- what runs on the workers -----------------------------------------------------------------------------


def _prepare(
    models: WorkerModels, profile: MaskingProfile, entries: list[tuple[WorkItem, bytes]]
) -> tuple[list[DocumentWork], dict[str, float]]:
    """A Ray task: parse and chunk a batch's documents, then mask all their chunks in one call."""
    config = models.parse_config()
    started = time.perf_counter()
    documents = [parse_document(item, config, data) for item, data in entries]
    parsed = time.perf_counter()
    mask_slots(models.masker(profile), document_slots(documents))
    return documents, {"parse": parsed - started, "mask": time.perf_counter() - parsed}


def _prepare_and_embed(
    models: WorkerModels, profile: MaskingProfile, entries: list[tuple[WorkItem, bytes]]
) -> tuple[list[Processed], dict[str, float]]:
    """A Ray task on a CPU-only cluster: `_prepare`, then embed the batch here (the model is loaded once per
    worker process)."""
    return _embedded(models.embedder("cpu"), _prepare(models, profile, entries))


def _identity(models: WorkerModels) -> tuple[str, str]:
    embedder = models.embedder("cpu")
    return embedder.model_name, embedder.weights_sha256


def _embedded(
    embedder: Embedder, prepared: tuple[list[DocumentWork], dict[str, float]]
) -> tuple[list[Processed], dict[str, float]]:
    documents, timings = prepared
    started = time.perf_counter()
    embed_slots(embedder, document_slots(documents))
    return [d.result() for d in documents], {**timings, "embed": time.perf_counter() - started}


class _Embedder:
    """A Ray actor holding one copy of the embedding model (on a GPU where the cluster has them)."""

    def __init__(self, models: WorkerModels, device: str) -> None:
        self._embedder = models.embedder(device)

    def identity(self) -> tuple[str, str]:
        return self._embedder.model_name, self._embedder.weights_sha256

    def embed(
        self, prepared: tuple[list[DocumentWork], dict[str, float]]
    ) -> tuple[list[Processed], dict[str, float]]:
        return _embedded(self._embedder, prepared)
