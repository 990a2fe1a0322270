"""Where a corpus's documents are read from: one small protocol, a folder and an S3 implementation."""

from ingest.sources.protocol import Source, SourceObject, SourceReadError

__all__ = ["Source", "SourceObject", "SourceReadError"]
