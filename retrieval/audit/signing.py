"""The log's public-key signatures (Ed25519): the signing key, what it signs, and the keys a verifier trusts.

The service signs with a private key that is neither in the database nor needed to verify: the chain head on
every append (`head`: sequence, hash, time), every checkpoint, and a new key when the key is rotated. Anyone
holding only the public key can then check an export offline; someone who can write the database but not
read the key file can neither re-sign a rewritten stretch nor move the head back after deleting the newest
events (short of restoring a head they saved earlier, which the head's time and an auditor's last verified
head expose; see `offline`).

Messages are ASCII lines under the chain's domain tag, each starting with what is signed, so that no
signature of one kind stands for another. A key's id is the first 32 hex digits of the sha256 of its raw
public bytes.

Rotation: the new key is announced by a statement (previous key id, new key id, new raw public key) that the
old key and the new key both sign; a verifier that trusts either one trusts the other (`Trust.extend`).
"""

from __future__ import annotations

import hashlib
import os
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from retrieval.errors import ConfigurationError

DOMAIN = "govrag-audit-v1"
KEY_FILE = "audit-signing-key.pem"


def key_id(public: Ed25519PublicKey) -> str:
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:32]


def public_pem(public: Ed25519PublicKey) -> str:
    return public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode("ascii")


def load_public_pem(pem: str | bytes) -> Ed25519PublicKey:
    """An Ed25519 public key from its PEM text; `ValueError` for anything else."""
    data = pem.encode("ascii") if isinstance(pem, str) else pem
    loaded = serialization.load_pem_public_key(data)
    if not isinstance(loaded, Ed25519PublicKey):
        raise ValueError("not an Ed25519 public key")
    return loaded


def utc_text(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def head_message(sequence: int, hash_: str, signed_at: datetime) -> bytes:
    return f"{DOMAIN}\nhead\n{sequence}\n{hash_}\n{utc_text(signed_at)}".encode("ascii")


def checkpoint_message(kind: str, sequence: int, hash_: str) -> bytes:
    # The kind is signed so that no periodic checkpoint poses as a retention anchor.
    return f"{DOMAIN}\ncheckpoint\n{kind}\n{sequence}\n{hash_}".encode("ascii")


def rotation_message(previous_key_id: str, new_key_id: str, new_public_raw_hex: str) -> bytes:
    return f"{DOMAIN}\nkey\n{previous_key_id}\n{new_key_id}\n{new_public_raw_hex}".encode("ascii")


@dataclass(frozen=True, slots=True, repr=False, eq=False)
class SigningKey:
    """The service's Ed25519 private key (repr never shows it; equal keys have equal ids)."""

    private: Ed25519PrivateKey
    # Derived once: every append names the key, and deriving the public key is a scalar multiplication.
    public: Ed25519PublicKey = field(init=False)
    key_id: str = field(init=False)

    def __post_init__(self) -> None:
        public = self.private.public_key()
        object.__setattr__(self, "public", public)
        object.__setattr__(self, "key_id", key_id(public))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SigningKey) and other.key_id == self.key_id

    def __hash__(self) -> int:
        return hash(self.key_id)

    @classmethod
    def generate(cls) -> SigningKey:
        return cls(Ed25519PrivateKey.generate())

    @classmethod
    def derived(cls, secret: bytes) -> SigningKey:
        """A key fixed by a secret (for stores built from bare keys in tests and tools)."""
        seed = hashlib.sha256(f"{DOMAIN}\nsigning-key\n".encode("ascii") + secret).digest()
        return cls(Ed25519PrivateKey.from_private_bytes(seed))

    def public_pem(self) -> str:
        return public_pem(self.public)

    def sign(self, message: bytes) -> str:
        return self.private.sign(message).hex()

    def __repr__(self) -> str:
        return f"SigningKey(<private>, key_id={self.key_id})"


@dataclass(frozen=True, slots=True)
class PublishedKey:
    """A public key the log has used. A key that replaced another names it (`previous_key_id`) and carries
    the rotation statement's signatures by the previous key and by itself; the first key has none."""

    key_id: str
    public_key: str  # PEM
    created_at: datetime
    previous_key_id: str | None = None
    previous_signature: str | None = None
    new_signature: str | None = None

    def public(self) -> Ed25519PublicKey | None:
        """The key, if its PEM is an Ed25519 key whose id is `key_id`."""
        try:
            loaded = load_public_pem(self.public_key)
        except ValueError:
            return None
        return loaded if key_id(loaded) == self.key_id else None

    def message(self) -> bytes | None:
        public = self.public()
        if public is None or self.previous_key_id is None:
            return None
        raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw).hex()
        return rotation_message(self.previous_key_id, self.key_id, raw)


def announce(previous: SigningKey, new: SigningKey, at: datetime) -> PublishedKey:
    """The rotation statement for `new` after `previous`, signed by both."""
    raw = new.public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw).hex()
    message = rotation_message(previous.key_id, new.key_id, raw)
    return PublishedKey(
        key_id=new.key_id,
        public_key=new.public_pem(),
        created_at=at,
        previous_key_id=previous.key_id,
        previous_signature=previous.sign(message),
        new_signature=new.sign(message),
    )


@dataclass(slots=True)
class Trust:
    """The public keys a verifier accepts signatures from, by key id (and, for checkpoints signed before
    public-key signatures, the HMAC key; None offline, where such checkpoints cannot be checked)."""

    keys: dict[str, Ed25519PublicKey] = field(default_factory=dict)
    legacy_hmac_key: bytes | None = None

    @classmethod
    def of(cls, publics: Iterable[Ed25519PublicKey], legacy_hmac_key: bytes | None = None) -> Trust:
        return cls({key_id(p): p for p in publics}, legacy_hmac_key)

    def extend(self, published: Iterable[PublishedKey]) -> None:
        """Add the keys linked to a trusted key by a rotation statement that both keys signed: forward (a
        trusted key announced the new one) and back (a trusted key names the key it replaced)."""
        items = list(published)
        by_id = {item.key_id: item for item in items}
        changed = True
        while changed:
            changed = False
            for item in items:
                message = item.message()
                if message is None or item.previous_key_id is None:
                    continue
                new, previous_entry = item.public(), by_id.get(item.previous_key_id)
                previous = previous_entry.public() if previous_entry is not None else None
                if new is None or previous is None:
                    continue
                if (item.key_id in self.keys) == (item.previous_key_id in self.keys):
                    continue  # both trusted already, or neither: nothing to learn here yet
                if _valid(new, item.new_signature or "", message) and _valid(
                    previous, item.previous_signature or "", message
                ):
                    self.keys[item.key_id] = new
                    self.keys[item.previous_key_id] = previous
                    changed = True

    def valid(self, key_id_: str | None, signature: str, message: bytes) -> bool:
        public = self.keys.get(key_id_ or "")
        return public is not None and _valid(public, signature, message)


def _valid(public: Ed25519PublicKey, signature: str, message: bytes) -> bool:
    try:
        public.verify(bytes.fromhex(signature), message)
    except (InvalidSignature, ValueError):
        return False
    return True


def load_signing_key(path: Path, *, create: bool) -> SigningKey:
    """The key in PEM file `path`; created (mode 0600) when `create` and it does not exist."""
    if create and not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        body = Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        temporary = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(body)
            handle.flush()
            os.fsync(handle.fileno())
        try:
            # link() fails if the file exists: when several workers start at once, the first one's key wins.
            os.link(temporary, path)
        except FileExistsError:
            pass
        finally:
            temporary.unlink()
    try:
        loaded = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (OSError, ValueError, TypeError) as exc:
        raise ConfigurationError(f"cannot read the audit signing key {path}: {type(exc).__name__}") from exc
    if not isinstance(loaded, Ed25519PrivateKey):
        raise ConfigurationError(f"the audit signing key {path} is not an Ed25519 private key")
    return SigningKey(loaded)
