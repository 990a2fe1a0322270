"""Structured (JSON lines) logging; messages never carry keys, raw queries or document text."""

from __future__ import annotations

import json
import logging
from contextvars import ContextVar
from datetime import UTC, datetime

# Fields a log call may add with `extra=`; anything else passed that way is left out of the line.
_EXTRA_FIELDS = ("rid", "corpus_id", "job_id", "method", "path", "status", "duration_ms")

# The HTTP request being served (set by the API's middleware): every line logged while serving it has it.
request_id_var: ContextVar[str | None] = ContextVar("govrag_request_id", default=None)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, the request id, and the known extras."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = request_id_var.get()
        if request_id is not None:
            entry["request_id"] = request_id
        for name in _EXTRA_FIELDS:
            if hasattr(record, name):
                entry[name] = getattr(record, name)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def configure_logging(level: str = "INFO") -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    logging.getLogger("httpx").setLevel("WARNING")
    # presidio warns, once per start, about every recognizer of a language we do not load: noise, not news.
    logging.getLogger("presidio-analyzer").setLevel("ERROR")
