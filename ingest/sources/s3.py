"""An S3 source: a corpus's `s3://bucket/prefix`, read through fsspec/s3fs, confined to that prefix.

Confinement: the source's own URI must lie under an allowed `s3://bucket[/prefix]` root, component by
component (`s3://b/pre` does not cover `s3://b/prefix2`); a listed key is kept only when it lies below
`prefix/`, and a name with `..`, `.` or empty components is never read. Sizes come from the listing and are
checked before a download. The secret key is a SecretStr, handed to the client only, and never put in an
error: store errors are reported by their class and the endpoint.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ingest.sources.protocol import SourceObject, SourceReadError, TooLarge, confined_relative
from retrieval.errors import ConfigurationError
from retrieval.settings import S3Settings

__all__ = ["NOT_A_PLAIN_KEY", "S3Location", "S3Source", "S3SourceOutsideRoots", "parse_s3_uri"]

NOT_A_PLAIN_KEY = "an object key that is not a plain path below the source (., .. or an empty part): not read"
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")


class S3SourceOutsideRoots(SourceReadError):
    """The corpus's `s3://` source is malformed or not under an allowed source root: nothing is read."""

    type = "source_outside_roots"


@dataclass(frozen=True, slots=True)
class S3Location:
    bucket: str
    prefix: str  # no leading or trailing slash; "" for the whole bucket

    def covers(self, other: S3Location) -> bool:
        if self.bucket != other.bucket:
            return False
        return not self.prefix or other.prefix == self.prefix or other.prefix.startswith(self.prefix + "/")

    def key(self, relative: str) -> str:
        return f"{self.prefix}/{relative}" if self.prefix else relative

    def __str__(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}" if self.prefix else f"s3://{self.bucket}"


def parse_s3_uri(uri: str) -> S3Location:
    """`s3://bucket[/prefix]` as a location; `S3SourceOutsideRoots` for anything else (a `..`, an empty
    part, a bad bucket name)."""
    if not uri.startswith("s3://"):
        raise S3SourceOutsideRoots(f"not an s3:// URI: {uri!r}")
    bucket, _, prefix = uri[len("s3://") :].partition("/")
    prefix = prefix.rstrip("/")
    if not _BUCKET.match(bucket):
        raise S3SourceOutsideRoots(f"not a valid bucket name in {uri!r}")
    if prefix:
        try:
            confined_relative(prefix)
        except SourceReadError as exc:
            raise S3SourceOutsideRoots(f"not a plain prefix in {uri!r}") from exc
    return S3Location(bucket, prefix)


def filesystem(settings: S3Settings) -> Any:
    """An s3fs file system from the settings; without keys, the standard AWS credential chain."""
    try:
        import s3fs  # the `s3` extra; imported here so folder-only installs do not need it
    except ImportError as exc:
        raise ConfigurationError("s3:// sources need the `s3` extra: pip install 'govrag[s3]'") from exc

    secret = settings.secret_access_key.get_secret_value() if settings.secret_access_key else None
    return s3fs.S3FileSystem(
        key=settings.access_key_id,
        secret=secret,
        endpoint_url=settings.endpoint_url,
        client_kwargs={"region_name": settings.region} if settings.region else {},
        config_kwargs={
            "connect_timeout": settings.connect_timeout_seconds,
            "read_timeout": settings.connect_timeout_seconds,
            "retries": {"max_attempts": 2},
        },
        skip_instance_cache=True,
        use_listings_cache=False,
    )


class S3Source:
    """One corpus's `s3://bucket/prefix`. Raises `S3SourceOutsideRoots` unless it lies under one of
    `allowed_roots` (`s3://` URIs; other roots are ignored)."""

    def __init__(self, source_uri: str, allowed_roots: Sequence[str], settings: S3Settings) -> None:
        self.location = parse_s3_uri(source_uri)
        roots = [parse_s3_uri(r) for r in allowed_roots if str(r).startswith("s3://")]
        if not any(root.covers(self.location) for root in roots):
            raise S3SourceOutsideRoots(
                "the corpus's s3:// source is not under an allowed source root (GOVRAG_SOURCE_ROOTS); "
                "nothing was read"
            )
        self._endpoint = settings.endpoint_url or "the AWS default endpoint"
        self._fs = filesystem(settings)

    def uri(self, relative: str) -> str:
        return f"s3://{self.location.bucket}/{self.location.key(confined_relative(relative))}"

    def list(self) -> list[SourceObject]:
        base = f"{self.location.bucket}/{self.location.prefix}".rstrip("/")
        below = f"{self.location.bucket}/{self.location.key('')}"
        try:
            listing = self._fs.find(base, detail=True, withdirs=False)
        except FileNotFoundError:
            return []
        except Exception as exc:
            raise self._unreachable("list", exc) from exc
        found: list[SourceObject] = []
        for name, info in listing.items():
            if not name.startswith(below):
                continue  # a prefix sibling (s3://b/pre vs s3://b/prefix2), or the prefix itself
            relative = name[len(below) :]
            if any(part.startswith(".") for part in relative.split("/") if part not in ("", ".", "..")):
                continue
            try:
                confined_relative(relative)
            except SourceReadError:
                found.append(SourceObject(relative, problem=NOT_A_PLAIN_KEY))
                continue
            found.append(_object(relative, info))
        found.sort(key=lambda item: item.relative.split("/"))
        return found

    def stat(self, relative: str) -> SourceObject:
        path = f"{self.location.bucket}/{self.location.key(confined_relative(relative))}"
        try:
            info = self._fs.info(path)
        except FileNotFoundError as exc:
            raise SourceReadError("cannot read object: not found") from exc
        except Exception as exc:
            raise self._unreachable("read", exc) from exc
        if info.get("type") != "file":
            raise SourceReadError("cannot read object: not found")
        return _object(relative, info)

    def read(self, relative: str, max_bytes: int) -> bytes:
        found = self.stat(relative)
        if found.size is None or found.size > max_bytes:
            raise TooLarge(f"object is {found.size} bytes; the limit is {max_bytes}")
        path = f"{self.location.bucket}/{self.location.key(relative)}"
        try:
            data: bytes = self._fs.cat_file(path, start=0, end=max_bytes + 1)
        except FileNotFoundError as exc:
            raise SourceReadError("cannot read object: not found") from exc
        except Exception as exc:
            raise self._unreachable("read", exc) from exc
        if len(data) > max_bytes:  # replaced by a larger object after the listing
            raise TooLarge(f"object is over {max_bytes} bytes; the limit is {max_bytes}")
        return data

    def close(self) -> None:
        """Nothing held open between calls."""

    def _unreachable(self, what: str, exc: Exception) -> SourceReadError:
        # The class name and endpoint only: a library's message may quote request details.
        return SourceReadError(
            f"cannot {what} {self.location} at {self._endpoint}: the object store failed "
            f"({type(exc).__name__})"
        )


def _object(relative: str, info: dict[str, Any]) -> SourceObject:
    fingerprint = info.get("VersionId") or info.get("ETag") or info.get("etag")
    size = info.get("size")
    return SourceObject(
        relative, int(size) if size is not None else None, str(fingerprint) if fingerprint else None
    )
