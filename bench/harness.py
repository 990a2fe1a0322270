"""What the benchmarks share: `govrag serve` as a subprocess, timing calls, and latency summaries."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import numpy as np


def ms_summary(seconds: list[float], digits: int = 1) -> dict[str, float]:
    """p50/p95/p99 and mean of `seconds`, in milliseconds, and how many there were."""
    values = np.array(seconds) * 1000
    return {
        "p50_ms": round(float(np.percentile(values, 50)), digits),
        "p95_ms": round(float(np.percentile(values, 95)), digits),
        "p99_ms": round(float(np.percentile(values, 99)), digits),
        "mean_ms": round(float(values.mean()), digits),
        "n": len(seconds),
    }


def timed(record: list[float], call: Callable[..., Any]) -> Callable[..., Any]:
    """`call`, appending the seconds each call takes to `record`."""

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return call(*args, **kwargs)
        finally:
            record.append(time.perf_counter() - started)

    return wrapper


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def running_service(env: dict[str, str], log_path: Path, *, ready: str = "/readyz") -> Iterator[str]:
    """`govrag serve` on a free local port with the `GOVRAG_*` settings in `env` (none inherited), its
    output in `log_path`; yields its URL once `ready` answers 200, and stops it (SIGTERM) afterwards."""
    with service_process(env, log_path, ready=ready) as (url, _pid):
        yield url


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def process_tree_cpu_s(pid: int) -> float:
    """CPU seconds (user + system) used so far by `pid` and every live process below it (its helper
    processes), read from /proc."""
    stats: dict[int, tuple[int, float]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # ended meanwhile
        stats[int(entry.name)] = (int(fields[1]), (int(fields[11]) + int(fields[12])) / CLOCK_TICKS)
    total, todo = 0.0, [pid]
    while todo:
        current = todo.pop()
        total += stats.get(current, (0, 0.0))[1]
        todo += [child for child, (parent, _) in stats.items() if parent == current]
    return total


@contextmanager
def service_process(
    env: dict[str, str], log_path: Path, *, ready: str = "/readyz"
) -> Iterator[tuple[str, int]]:
    """`running_service`, yielding the URL and the server's process id."""
    port = free_port()
    settings = {**{k: v for k, v in os.environ.items() if not k.startswith("GOVRAG_")}, **env}
    command = [
        str(Path(sys.executable).parent / "govrag"),
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    url = f"http://127.0.0.1:{port}"
    with log_path.open("ab") as log:
        server = subprocess.Popen(command, env=settings, stdout=log, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 300
            while True:
                try:
                    if httpx.get(f"{url}{ready}").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if server.poll() is not None:
                    raise SystemExit(f"govrag serve exited with {server.returncode}; see {log_path}")
                if time.monotonic() > deadline:
                    raise SystemExit(f"govrag serve was not ready after 300 s; see {log_path}")
                time.sleep(0.5)
            yield url, server.pid
        finally:
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(timeout=60)
            except subprocess.TimeoutExpired:
                server.kill()
