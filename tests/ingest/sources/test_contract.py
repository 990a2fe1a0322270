"""One contract, every source: the folder source (over SourceTree) and the S3 source (against a real S3
API) must list, stat and read alike."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from ingest.sources.folder import FolderSource
from ingest.sources.protocol import Source, SourceReadError, TooLarge
from ingest.sources.s3 import S3Source, filesystem
from retrieval.settings import S3Settings

pytestmark = pytest.mark.integration


@dataclass
class Kit:
    """Writes documents into one source's store, and opens the source."""

    kind: str
    root: Any
    fs: Any = None

    def put(self, relative: str, data: bytes) -> None:
        if self.kind == "folder":
            path = self.root["dir"] / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
        else:
            self.fs.pipe_file(f"{self.root['bucket']}/corpus/{relative}", data)

    def delete(self, relative: str) -> None:
        if self.kind == "folder":
            (self.root["dir"] / relative).unlink()
        else:
            self.fs.rm_file(f"{self.root['bucket']}/corpus/{relative}")

    def open(self) -> Source:
        if self.kind == "folder":
            return FolderSource(self.root["dir"], [self.root["base"]])
        return S3Source(
            f"s3://{self.root['bucket']}/corpus", [f"s3://{self.root['bucket']}"], self.fs_settings
        )

    fs_settings: Any = None


@pytest.fixture(params=["folder", "s3"])
def kit(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Kit]:
    if request.param == "folder":
        base = tmp_path.resolve()
        (base / "corpus").mkdir()
        yield Kit("folder", {"dir": base / "corpus", "base": base})
    else:
        settings: S3Settings = request.getfixturevalue("s3_settings")
        bucket: str = request.getfixturevalue("bucket")
        yield Kit("s3", {"bucket": bucket}, fs=filesystem(settings), fs_settings=settings)


def _relatives(source: Source) -> list[str]:
    return [item.relative for item in source.list()]


def test_lists_documents_in_path_order_without_hidden_names(kit: Kit) -> None:
    for name in [
        "b.txt",
        "a/z.txt",
        "a/b/c.md",
        ".hidden.txt",
        "a/.secret",
        ".dir/x.txt",
        ".govrag-acl.yaml",
    ]:
        kit.put(name, b"text of " + name.encode())
    source = kit.open()
    listed = source.list()
    assert [item.relative for item in listed] == ["a/b/c.md", "a/z.txt", "b.txt"]
    assert all(item.problem is None and item.fingerprint for item in listed)
    assert [item.size for item in listed] == [
        len(b"text of a/b/c.md"),
        len(b"text of a/z.txt"),
        len(b"text of b.txt"),
    ]


def test_reads_documents_and_acl_files(kit: Kit) -> None:
    kit.put("a/doc.txt", b"hello")
    kit.put("a/.govrag-acl.yaml", b"groups: [x]\n")
    source = kit.open()
    assert source.read("a/doc.txt", 100) == b"hello"
    assert source.read("a/.govrag-acl.yaml", 100) == b"groups: [x]\n"
    assert source.stat("a/doc.txt").size == 5


def test_fingerprint_changes_with_content_and_only_then(kit: Kit) -> None:
    kit.put("same.txt", b"one")
    kit.put("changed.txt", b"one")
    source = kit.open()
    before = {item.relative: item.fingerprint for item in source.list()}
    kit.put("changed.txt", b"two, longer")
    after = {item.relative: item.fingerprint for item in source.list()}
    assert after["same.txt"] == before["same.txt"]
    assert after["changed.txt"] != before["changed.txt"]
    assert source.read("changed.txt", 100) == b"two, longer"


def test_a_deleted_document_leaves_the_listing_and_cannot_be_read(kit: Kit) -> None:
    kit.put("keep.txt", b"k")
    kit.put("gone.txt", b"g")
    source = kit.open()
    kit.delete("gone.txt")
    assert _relatives(source) == ["keep.txt"]
    with pytest.raises(SourceReadError):
        source.read("gone.txt", 100)
    with pytest.raises(SourceReadError):
        source.stat("gone.txt")


def test_a_document_over_the_limit_is_refused(kit: Kit) -> None:
    kit.put("big.txt", b"x" * 101)
    source = kit.open()
    with pytest.raises(TooLarge, match="101 bytes"):
        source.read("big.txt", 100)
    assert source.read("big.txt", 101) == b"x" * 101


@pytest.mark.parametrize(
    "name", ["../outside.txt", "a/../b.txt", "/etc/passwd", "a//b.txt", "./a.txt", "a\\..\\b"]
)
def test_names_outside_the_source_are_refused(kit: Kit, name: str) -> None:
    kit.put("a.txt", b"a")
    source = kit.open()
    with pytest.raises(SourceReadError):
        source.read(name, 100)
    with pytest.raises(SourceReadError):
        source.stat(name)


def test_uris_name_the_document_in_its_store(kit: Kit) -> None:
    kit.put("d/e.txt", b"e")
    source = kit.open()
    uri = source.uri("d/e.txt")
    if kit.kind == "folder":
        assert uri == (kit.root["dir"] / "d/e.txt").as_uri()
    else:
        assert uri == f"s3://{kit.root['bucket']}/corpus/d/e.txt"
