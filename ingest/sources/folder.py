"""A folder source: the `Source` protocol over `SourceTree`, whose confinement (openat, no link followed)
it keeps: every read goes through the tree's descriptors."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from ingest.source_tree import SourceTree, problem_of
from ingest.sources.protocol import SourceObject, SourceReadError, TooLarge, confined_relative

__all__ = ["FolderSource"]


class FolderSource:
    """One corpus's folder below an allowed root. Raises `SourceOutsideRoots` like `SourceTree`."""

    def __init__(self, source_path: str | Path, allowed_roots: Sequence[Path]) -> None:
        self.tree = SourceTree(source_path, allowed_roots)

    def uri(self, relative: str) -> str:
        return (self.tree.root / confined_relative(relative)).as_uri()

    def list(self) -> list[SourceObject]:
        found: list[SourceObject] = []
        for entry in self.tree.entries():
            if entry.problem is not None:
                found.append(SourceObject(entry.relative, problem=entry.problem))
                continue
            try:
                found.append(self.stat(entry.relative))
            except SourceReadError as exc:
                found.append(SourceObject(entry.relative, problem=exc.detail))
        return found

    def stat(self, relative: str) -> SourceObject:
        descriptor = self._open(relative)
        try:
            info = os.fstat(descriptor)
        finally:
            os.close(descriptor)
        problem = problem_of(info)
        fingerprint = f"{info.st_dev}:{info.st_ino}:{info.st_mtime_ns}:{info.st_size}"
        return SourceObject(relative, info.st_size, fingerprint, problem)

    def read(self, relative: str, max_bytes: int) -> bytes:
        descriptor = self._open(relative)
        try:
            info = os.fstat(descriptor)
            problem = problem_of(info)
            if problem is not None:
                raise SourceReadError(problem)
            if info.st_size > max_bytes:
                raise TooLarge(f"file is {info.st_size} bytes; the limit is {max_bytes}")
            with os.fdopen(descriptor, "rb", closefd=False) as handle:
                data = handle.read(max_bytes + 1)
        finally:
            os.close(descriptor)
        if len(data) > max_bytes:  # grew after the fstat
            raise TooLarge(f"file is over {max_bytes} bytes; the limit is {max_bytes}")
        return data

    def close(self) -> None:
        self.tree.close()

    def _open(self, relative: str) -> int:
        try:
            return self.tree.open(confined_relative(relative))
        except OSError as exc:
            problem = self.tree.why_unopenable(relative)
            raise SourceReadError(
                problem or f"cannot read file: {exc.strerror or type(exc).__name__}"
            ) from exc
