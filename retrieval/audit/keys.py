"""The log's secrets: the key that hashes raw queries, the Ed25519 key that signs the chain head and the
checkpoints, and the HMAC key that signed checkpoints before public-key signatures (kept to verify them).

The HMAC keys come from settings (`GOVRAG_AUDIT__QUERY_HMAC_KEY`, `GOVRAG_AUDIT__CHECKPOINT_KEY`). Where one
is unset (the embedded mode), a random key is made once and kept in `<data_dir>/audit-keys.json` (mode 0600),
so that restarts keep verifying. The signing key is the PEM file `GOVRAG_AUDIT__SIGNING_KEY_FILE`, or one
generated once into `<data_dir>/audit-signing-key.pem` (mode 0600). Deployments with several hosts share all
of them; the signing key belongs outside the database, or anyone who can write the log could re-sign it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from retrieval.audit.signing import KEY_FILE as SIGNING_KEY_FILE
from retrieval.audit.signing import SigningKey, load_signing_key
from retrieval.errors import ConfigurationError
from retrieval.settings import Settings

KEY_FILE = "audit-keys.json"


@dataclass(frozen=True, slots=True, repr=False)
class AuditKeys:
    query_key: bytes
    checkpoint_key: bytes  # verifies checkpoints signed before revision 0007 (HMAC)
    signing_key: SigningKey | None = None

    @classmethod
    def random(cls) -> AuditKeys:
        """Keys for one store instance only (tests): checkpoints signed with them verify nowhere else."""
        return cls(secrets.token_bytes(32), secrets.token_bytes(32), SigningKey.generate())

    @property
    def signer(self) -> SigningKey:
        """The Ed25519 key; keys built without one (tests, tools) sign with a key derived from the checkpoint
        key, so that two stores over the same bare keys verify each other. `load_keys` always sets it."""
        return self.signing_key if self.signing_key is not None else SigningKey.derived(self.checkpoint_key)

    def query_hmac(self, query: str) -> str:
        return hmac.new(self.query_key, query.encode("utf-8", "surrogatepass"), hashlib.sha256).hexdigest()

    def derived_key(self, label: str) -> bytes:
        """A key for another keyed digest, derived from the query key under `label` (one secret to share)."""
        return hmac.new(self.query_key, label.encode(), hashlib.sha256).digest()

    def subject_digest(self, end_user_id: str) -> str:
        """The keyed digest under which an end user's personal values are found for erasure (a key derived
        from the query key: a digest of an id cannot be tested against guesses without it)."""
        key = self.derived_key("govrag-audit-subject")
        return hmac.new(key, end_user_id.encode("utf-8", "surrogatepass"), hashlib.sha256).hexdigest()

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
    configured = audit.signing_key_file
    if configured is not None:
        signing = load_signing_key(configured, create=False)
    else:
        signing = load_signing_key(settings.data_dir / SIGNING_KEY_FILE, create=True)
    return AuditKeys(query, checkpoint, signing)


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
