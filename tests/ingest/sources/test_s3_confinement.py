"""An S3 source reads below its registered prefix and nowhere else, and an unreachable store fails with a
clear reason that never carries the secret key."""

from __future__ import annotations

import logging

import pytest
from pydantic import SecretStr

from ingest.sources.protocol import SourceReadError
from ingest.sources.s3 import NOT_A_PLAIN_KEY, S3Source, S3SourceOutsideRoots, filesystem, parse_s3_uri
from retrieval.settings import S3Settings


@pytest.mark.unit
@pytest.mark.parametrize(
    ("root", "source", "covered"),
    [
        ("s3://bucket", "s3://bucket/any/prefix", True),
        ("s3://bucket/pre", "s3://bucket/pre", True),
        ("s3://bucket/pre", "s3://bucket/pre/sub", True),
        ("s3://bucket/pre/", "s3://bucket/pre/sub/", True),
        ("s3://bucket/pre", "s3://bucket/prefix2", False),
        ("s3://bucket/pre", "s3://bucket/pr", False),
        ("s3://bucket/pre", "s3://bucket", False),
        ("s3://bucket/pre", "s3://bucket2/pre", False),
        ("s3://bucket", "s3://bucketx/pre", False),
    ],
)
def test_a_root_covers_its_prefix_by_whole_components(root: str, source: str, covered: bool) -> None:
    assert parse_s3_uri(root).covers(parse_s3_uri(source)) is covered


@pytest.mark.unit
@pytest.mark.parametrize(
    "uri",
    [
        "s3://bucket/pre/../other",
        "s3://bucket/pre/./x",
        "s3://bucket/pre//x",
        "s3://bucket//pre",
        "s3://bucket/pre\\..\\x",
        "s3://Bad_Bucket/pre",
        "s3://",
        "s3:/bucket/pre",
        "/srv/corpora",
        "file:///srv/corpora",
    ],
)
def test_malformed_or_escaping_uris_are_refused(uri: str) -> None:
    with pytest.raises(S3SourceOutsideRoots):
        parse_s3_uri(uri)


@pytest.mark.unit
def test_a_source_outside_every_root_is_refused_before_any_request() -> None:
    s3_settings = S3Settings(endpoint_url="http://127.0.0.1:9")
    roots = ["s3://bucket/pre", "/srv/corpora"]
    for outside in ["s3://bucket/prefix2", "s3://other/pre", "s3://bucket/pre/../x"]:
        with pytest.raises(S3SourceOutsideRoots):
            S3Source(outside, roots, s3_settings)


@pytest.mark.integration
def test_prefix_siblings_and_the_rest_of_the_bucket_are_never_listed(
    s3_settings: S3Settings, bucket: str
) -> None:
    fs = filesystem(s3_settings)
    for key in [
        "pre/in.txt",
        "pre/sub/in2.txt",
        "prefix2/secret.txt",
        "pre-x.txt",
        "pre",
        "other/secret.txt",
    ]:
        fs.pipe_file(f"{bucket}/{key}", b"data")
    source = S3Source(f"s3://{bucket}/pre", [f"s3://{bucket}/pre"], s3_settings)
    assert [item.relative for item in source.list()] == ["in.txt", "sub/in2.txt"]
    with pytest.raises(SourceReadError):
        source.read("../prefix2/secret.txt", 100)


@pytest.mark.integration
def test_keys_that_are_not_plain_paths_are_listed_with_the_reason_and_never_read(
    s3_settings: S3Settings, bucket: str
) -> None:
    fs = filesystem(s3_settings)
    fs.pipe_file(f"{bucket}/pre/ok.txt", b"ok")
    fs.pipe_file(f"{bucket}/pre/a/../b.txt", b"escaping")
    fs.pipe_file(f"{bucket}/pre/a//c.txt", b"empty part")
    source = S3Source(f"s3://{bucket}/pre", [f"s3://{bucket}"], s3_settings)
    listed = {item.relative: item.problem for item in source.list()}
    assert listed["ok.txt"] is None
    assert listed["a/../b.txt"] == NOT_A_PLAIN_KEY
    assert listed["a//c.txt"] == NOT_A_PLAIN_KEY
    for relative in ("a/../b.txt", "a//c.txt"):
        with pytest.raises(SourceReadError):
            source.read(relative, 100)


@pytest.mark.integration
def test_an_unreachable_store_fails_with_the_reason_and_never_the_secret(
    caplog: pytest.LogCaptureFixture,
) -> None:
    import socket

    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    secret = "do-not-leak-7f3a9c"
    settings = S3Settings(
        endpoint_url=f"http://127.0.0.1:{port}",
        region="eu-west-1",
        access_key_id="AKIDEXAMPLE",
        secret_access_key=SecretStr(secret),
        connect_timeout_seconds=1,
    )
    assert secret not in repr(settings) and secret not in str(settings.model_dump())
    caplog.set_level(logging.DEBUG)
    source = S3Source("s3://bucket/pre", ["s3://bucket"], settings)
    with pytest.raises(SourceReadError) as failure:
        source.list()
    detail = failure.value.detail
    assert f"127.0.0.1:{port}" in detail and "object store failed" in detail
    assert secret not in detail and secret not in str(failure.value.__cause__)
    assert secret not in caplog.text
