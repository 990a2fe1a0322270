"""The log's two secrets: the key that hashes raw queries and the key that signs checkpoints.

They come from settings (`GOVRAG_AUDIT__QUERY_HMAC_KEY`, `GOVRAG_AUDIT__CHECKPOINT_KEY`). Where one is unset
(the embedded mode), a random key is made once and kept in `<data_dir>/audit-keys.json` (mode 0600), so that
restarts keep verifying. Deployments with several hosts set both, the same on every worker; the checkpoint key
belongs outside the database, or anyone who can write the log could re-sign it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from retrieval.errors import ConfigurationError
from retrieval.settings import Settings

KEY_FILE = "audit-keys.json"


@dataclass(frozen=True, slots=True, repr=False)
class AuditKeys:
    query_key: bytes
    checkpoint_key: bytes

    @classmethod
    def random(cls) -> AuditKeys:
        """Keys for one store instance only (tests): checkpoints signed with them verify nowhere else."""
        return cls(secrets.token_bytes(32), secrets.token_bytes(32))

    def query_hmac(self, query: str) -> str:
        return hmac.new(self.query_key, query.encode("utf-8", "surrogatepass"), hashlib.sha256).hexdigest()

    def __repr__(self) -> str:
        return "AuditKeys(<secret>)"


def load_keys(settings: Settings) -> AuditKeys:
    audit = settings.audit
    query = audit.query_hmac_key.get_secret_value().encode() if audit.query_hmac_key else None
    checkpoint = audit.checkpoint_key.get_secret_value().encode() if audit.checkpoint_key else None
    if query is None or checkpoint is None:
        stored = _file_keys(settings.data_dir / KEY_FILE)
        query = query or stored.query_key
        checkpoint = checkpoint or stored.checkpoint_key
    return AuditKeys(query, checkpoint)


def _file_keys(path: Path) -> AuditKeys:
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        body = json.dumps({"query_hmac_key": secrets.token_hex(32), "checkpoint_key": secrets.token_hex(32)})
        temporary = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(body)
            handle.flush()
            os.fsync(handle.fileno())
        try:
            # link() fails if the file exists: when several workers start at once, the first one's keys win.
            os.link(temporary, path)
        except FileExistsError:
            pass
        finally:
            temporary.unlink()
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        return AuditKeys(bytes.fromhex(raw["query_hmac_key"]), bytes.fromhex(raw["checkpoint_key"]))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ConfigurationError(f"cannot read the audit keys in {path}: {type(exc).__name__}") from exc
