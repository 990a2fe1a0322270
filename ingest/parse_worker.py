"""Parser processes: each document is parsed in a child process under memory, CPU and wall-time limits.

A hostile document (a decompression bomb, a pathological PDF) can drive a parsing library to exhaust
memory or spin for hours inside C code, where no budget check runs. In the service's own process that
kills the service (the kernel's OOM killer), and the job, resumed at start-up, meets the same document
again. In a parser process it costs only that process: `RLIMIT_AS` turns runaway allocation into a
MemoryError (or the process's death), `RLIMIT_CPU` ends a spinning parse with SIGXCPU, and the parent
kills a child that overruns its wall time. The document then fails with the reason, and the next one
gets a fresh process.

A parser process is persistent (importing unstructured and loading the spaCy model takes seconds) and
serves one document at a time over a pipe; the processes wait in a process-wide pool. They are started
with `spawn`, as the PII helpers are: a forked copy of a process that runs torch or database threads
can deadlock. A child exits when its parent dies.
"""

from __future__ import annotations

import atexit
import logging
import multiprocessing
import os
import resource
import signal
import threading
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

from ingest.formats.budget import ParseLimits
from ingest.parsing import ParsedDocument
from retrieval.errors import IngestionError

__all__ = ["ParseFailure", "ParserPool", "parse_isolated", "shutdown"]

logger = logging.getLogger(__name__)

# A new process imports the parsers and loads the spaCy model before its first document: seconds on an
# idle machine, a minute or more on a busy one. Not counted against any document.
_START_TIMEOUT_S = 600.0
_STOPPED = "parsing was stopped"


@dataclass(frozen=True, slots=True)
class ParseFailure:
    """Why a document could not be parsed; `acl` marks an e-mail whose readers cannot be named."""

    reason: str
    acl: bool = False


@dataclass(frozen=True, slots=True)
class _Request:
    data: bytes
    suffix: str
    stem: str
    max_bytes: int
    limits: ParseLimits
    mail_recipients: bool


class _Worker:
    """One parser process and the parent's end of its pipe."""

    def __init__(self, limits: ParseLimits) -> None:
        context = multiprocessing.get_context("spawn")
        self.connection, child_end = context.Pipe()
        self.process = context.Process(
            target=_serve, args=(child_end, limits.memory_bytes), name="govrag-parser", daemon=True
        )
        self.process.start()
        child_end.close()
        self.memory_bytes = limits.memory_bytes
        if not self.connection.poll(_START_TIMEOUT_S):
            self.kill()
            raise IngestionError("internal error: the parser process did not start in time")
        try:
            self.connection.recv()  # "ready"
        except (EOFError, OSError) as exc:
            self.kill()
            raise IngestionError("internal error: the parser process could not start") from exc

    def parse(self, request: _Request) -> ParsedDocument | ParseFailure:
        """The child's answer; kills the child (and says why) when it overruns or dies."""
        try:
            self.connection.send(request)
        except (BrokenPipeError, OSError):
            return self._died(request.limits)
        if not self.connection.poll(request.limits.timeout_seconds):
            self.kill()
            return ParseFailure(f"parsing took longer than {request.limits.timeout_seconds:g} s; stopped")
        try:
            answer: ParsedDocument | ParseFailure = self.connection.recv()
        except (EOFError, OSError):
            return self._died(request.limits)
        return answer

    def _died(self, limits: ParseLimits) -> ParseFailure:
        self.process.join(timeout=5)
        code = self.process.exitcode
        self.kill()
        if code == -signal.SIGXCPU or code == -signal.SIGKILL:
            return ParseFailure(
                f"parsing was stopped: it needed more than {limits.cpu_seconds} s of CPU or "
                f"{limits.memory_bytes} bytes of memory"
            )
        return ParseFailure(f"the parser process crashed on this document (exit status {code})")

    @property
    def alive(self) -> bool:
        return self.process.is_alive()

    def kill(self) -> None:
        if self.process.is_alive():
            self.process.kill()
        self.process.join(timeout=10)
        self.connection.close()


class ParserPool:
    """Idle parser processes, shared by every caller of the process; one busy process per caller."""

    def __init__(self) -> None:
        self._idle: list[_Worker] = []
        self._lock = threading.Lock()
        self._closed = False

    def parse(self, request: _Request) -> ParsedDocument | ParseFailure:
        worker = self._take(request.limits)
        try:
            answer = worker.parse(request)
        except BaseException:
            worker.kill()
            raise
        if isinstance(answer, ParseFailure) and answer.reason.startswith(_STOPPED):
            worker.kill()  # it exits after such a failure (see `_serve`); wait for it, never reuse it
        else:
            self._give_back(worker)
        return answer

    def _take(self, limits: ParseLimits) -> _Worker:
        with self._lock:
            while self._idle:
                worker = self._idle.pop()
                if worker.alive and worker.memory_bytes == limits.memory_bytes:
                    return worker
                worker.kill()
        return _Worker(limits)

    def _give_back(self, worker: _Worker) -> None:
        if not worker.alive:
            worker.kill()
            return
        with self._lock:
            if not self._closed:
                self._idle.append(worker)
                return
        worker.kill()

    def shutdown(self) -> None:
        with self._lock:
            workers, self._idle = self._idle, []
        for worker in workers:
            worker.kill()


_pool = ParserPool()
atexit.register(_pool.shutdown)


def parse_isolated(
    data: bytes,
    *,
    suffix: str,
    stem: str,
    max_bytes: int,
    limits: ParseLimits,
    mail_recipients: bool = False,
) -> ParsedDocument | ParseFailure:
    """`ingest.parsing.parse_bytes` in a parser process: the document, or why it failed. Never raises for
    a bad document; IngestionError only if no parser process can be started."""
    return _pool.parse(_Request(data, suffix, stem, max_bytes, limits, mail_recipients))


def shutdown() -> None:
    """Stop the idle parser processes (the next document starts a new one)."""
    _pool.shutdown()


# -- in the parser process ----------------------------------------------------------------------------------


class _CpuExceeded(BaseException):
    """Raised by the SIGXCPU handler; a BaseException, so that a library's `except Exception` lets it by."""


def _serve(connection: Connection, memory_bytes: int) -> None:
    """The parser process: set its limits, warm up, then answer documents until the pipe closes."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    threading.Thread(target=_exit_with_parent, name="parent-watch", daemon=True).start()
    from ingest.parsing import warm_up

    warm_up()
    resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    signal.signal(signal.SIGXCPU, _on_cpu_limit)
    connection.send("ready")
    while True:
        try:
            request: _Request = connection.recv()
        except (EOFError, OSError):
            return
        answer = _answer(request)
        connection.send(answer)
        if isinstance(answer, ParseFailure) and answer.reason.startswith(_STOPPED):
            # After a MemoryError or a CPU overrun a library may have been left half-way: a fresh process
            # takes the next document.
            return


def _answer(request: _Request) -> ParsedDocument | ParseFailure:
    from ingest.acl import AclError
    from ingest.parsing import parse_bytes

    _, hard = resource.getrlimit(resource.RLIMIT_CPU)
    used = resource.getrusage(resource.RUSAGE_SELF)
    spent = int(used.ru_utime + used.ru_stime) + 1
    # Past the soft limit the kernel sends SIGXCPU (handled: the document fails). The hard limit is left
    # alone, since it could not be raised again for the next document; a library stuck in C, where the
    # handler cannot run, is killed by the parent's wall-time limit instead.
    resource.setrlimit(resource.RLIMIT_CPU, (_within(hard, spent + request.limits.cpu_seconds), hard))
    try:
        return parse_bytes(
            request.data,
            suffix=request.suffix,
            stem=request.stem,
            max_bytes=request.max_bytes,
            limits=request.limits,
            mail_recipients=request.mail_recipients,
        )
    except AclError as exc:
        return ParseFailure(exc.detail, acl=True)
    except IngestionError as exc:
        return ParseFailure(exc.detail)
    except _CpuExceeded:
        return ParseFailure(f"parsing was stopped: it needed more than {request.limits.cpu_seconds} s of CPU")
    except MemoryError:
        return ParseFailure(
            f"parsing was stopped: it needed more than {request.limits.memory_bytes} bytes of memory"
        )
    except Exception as exc:
        logger.exception("unexpected error parsing a document")
        return ParseFailure(f"internal error while parsing: {type(exc).__name__}")
    finally:
        resource.setrlimit(resource.RLIMIT_CPU, (hard, hard))


def _within(hard: int, wanted: int) -> int:
    return wanted if hard == resource.RLIM_INFINITY else min(hard, wanted)


def _on_cpu_limit(signum: int, frame: Any) -> None:
    raise _CpuExceeded


def _exit_with_parent() -> None:
    parent = multiprocessing.parent_process()
    if parent is None:  # pragma: no cover - always set in a spawned process
        return
    parent.join()
    os._exit(0)
