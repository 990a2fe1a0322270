"""A corpus's source folder, listed and read below an allowed source root without ever following a link.

A contributor who may write into a registered folder may also swap it, or a file in it, for a symbolic
link after registration; a path checked at one moment and opened at the next would then read whatever
the link points at, outside the allowed roots. So the folder is reached from a descriptor of its allowed
root one component at a time, each opened with `O_NOFOLLOW` relative to the one before (`openat`), and
so is every file and folder below it. A link is never followed: it is listed, with the reason, and not
read. Nor are hard-linked files (another name of the same file may lie anywhere on the file system) or
special files (a fifo would block the reader, a device would stream without end).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from retrieval.errors import IngestionError

__all__ = [
    "HARD_LINK",
    "LINK",
    "SPECIAL",
    "FileIdentity",
    "SourceEntry",
    "SourceOutsideRoots",
    "SourceTree",
    "problem_of",
]

LINK = "a symbolic link: links are not followed (one could lead outside the allowed source roots)"
HARD_LINK = "a hard-linked file: not read (another name of it may lie outside the allowed source roots)"
SPECIAL = "not a regular file (a fifo, device or socket): not read"
TOO_DEEP = "folders nested deeper than 64 levels: not read"

_DIRECTORY = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
# O_NONBLOCK: opening a fifo swapped in for a file must not wait for a writer.
_FILE = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
_MAX_DEPTH = 64


class SourceOutsideRoots(IngestionError):
    """The corpus's source folder is not (or no longer) reachable inside an allowed root: nothing is read."""

    type = "source_outside_roots"


@dataclass(frozen=True, slots=True)
class SourceEntry:
    """A file of the source, by its path below the corpus root; `problem` says why it is not read."""

    relative: str
    problem: str | None = None


@dataclass(frozen=True, slots=True)
class FileIdentity:
    """Which file a descriptor is: a later open of the same name must find the same one."""

    device: int
    inode: int


def problem_of(info: os.stat_result) -> str | None:
    """Why an opened file is not read, or None for a regular file with one name."""
    if stat.S_ISLNK(info.st_mode):
        return LINK
    if not stat.S_ISREG(info.st_mode):
        return SPECIAL
    if info.st_nlink > 1:
        return HARD_LINK
    return None


class SourceTree:
    """One corpus's source folder, held open for a job. Close it (or use it as a context manager)."""

    def __init__(self, source_path: str | Path, allowed_roots: Sequence[Path]) -> None:
        """Raises `SourceOutsideRoots` unless `source_path` lies under one of `allowed_roots` with no link on
        the way, as its real path and as it is opened now."""
        self.root = Path(source_path)
        real = Path(os.path.realpath(self.root))
        base = next((r for r in allowed_roots if real == r or real.is_relative_to(r)), None)
        if base is None or real != self.root:
            raise SourceOutsideRoots(
                "the corpus's source folder is not under an allowed source root (GOVRAG_SOURCE_ROOTS), or "
                "a part of its path was replaced by a link; nothing was read"
            )
        descriptor = os.open(base, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            for part in self.root.relative_to(base).parts:
                descriptor = _step(descriptor, part)
        except OSError as exc:
            raise SourceOutsideRoots(
                f"the corpus's source folder cannot be opened inside its source root without following a "
                f"link ({exc.strerror or type(exc).__name__}); nothing was read"
            ) from exc
        self._descriptor = descriptor

    def close(self) -> None:
        if self._descriptor >= 0:
            os.close(self._descriptor)
            self._descriptor = -1

    def __enter__(self) -> SourceTree:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()

    # -- listing --------------------------------------------------------------------------------------------

    def entries(self) -> list[SourceEntry]:
        """Every non-hidden entry that is not a folder, in path order, links and special files included
        (with their problem); a folder that cannot be entered without following a link is one entry."""
        found: list[SourceEntry] = []
        self._walk(os.dup(self._descriptor), "", 0, found)
        found.sort(key=lambda entry: entry.relative.split("/"))
        return found

    def _walk(self, descriptor: int, prefix: str, depth: int, found: list[SourceEntry]) -> None:
        try:
            with os.scandir(descriptor) as listing:
                children = list(listing)
            for child in children:
                if child.name.startswith("."):
                    continue
                relative = prefix + child.name
                if child.is_symlink():
                    found.append(SourceEntry(relative, LINK))
                elif child.is_dir(follow_symlinks=False):
                    if depth >= _MAX_DEPTH:
                        found.append(SourceEntry(relative, TOO_DEEP))
                        continue
                    try:
                        inner = os.open(child.name, _DIRECTORY, dir_fd=descriptor)
                    except OSError:
                        problem = _classify(descriptor, child.name) or "a folder that cannot be opened"
                        found.append(SourceEntry(relative, problem))
                        continue
                    self._walk(inner, relative + "/", depth + 1, found)
                elif child.is_file(follow_symlinks=False):
                    found.append(SourceEntry(relative))
                else:
                    found.append(SourceEntry(relative, SPECIAL))
        finally:
            os.close(descriptor)

    # -- reading --------------------------------------------------------------------------------------------

    def open(self, relative: str) -> int:
        """A read-only descriptor of the file at `relative`, every component opened without following a
        link. OSError if there is none, or a component is a link (ELOOP, ENOTDIR)."""
        parts = relative.split("/")
        if any(part in ("", ".", "..") for part in parts):
            raise OSError(f"not a path below the corpus root: {relative!r}")
        directory = os.dup(self._descriptor)
        try:
            for part in parts[:-1]:
                directory = _step(directory, part)
            return os.open(parts[-1], _FILE, dir_fd=directory)
        finally:
            os.close(directory)

    def why_unopenable(self, relative: str) -> str | None:
        """After `open` failed: LINK or SPECIAL if that is why, else None (gone, or no permission)."""
        parent, _, name = relative.rpartition("/")
        try:
            directory = self.open_directory(parent) if parent else os.dup(self._descriptor)
        except OSError:
            return LINK
        try:
            return _classify(directory, name)
        finally:
            os.close(directory)

    def open_directory(self, relative: str) -> int:
        directory = os.dup(self._descriptor)
        for part in relative.split("/"):
            directory = _step(directory, part)
        return directory

    def read_acl_file(self, path: Path, max_bytes: int) -> bytes | None:
        """An ACL file's bytes (or None where there is none), through the tree's descriptors."""
        relative = path.relative_to(self.root).as_posix()
        try:
            descriptor = self.open(relative)
        except FileNotFoundError:
            return None
        try:
            info = os.fstat(descriptor)
            problem = problem_of(info)
            if problem is not None:
                raise OSError(problem)
            if info.st_size > max_bytes:
                raise OSError(f"larger than {max_bytes} bytes")
            with os.fdopen(descriptor, "rb", closefd=False) as handle:
                return handle.read(max_bytes + 1)
        finally:
            os.close(descriptor)


def _step(directory: int, name: str) -> int:
    """Open folder `name` below `directory` without following a link, closing `directory`."""
    try:
        return os.open(name, _DIRECTORY, dir_fd=directory)
    finally:
        os.close(directory)


def _classify(directory: int, name: str) -> str | None:
    try:
        info = os.lstat(name, dir_fd=directory)
    except OSError:
        return None
    if stat.S_ISLNK(info.st_mode):
        return LINK
    if not stat.S_ISREG(info.st_mode) and not stat.S_ISDIR(info.st_mode):
        return SPECIAL
    return None
