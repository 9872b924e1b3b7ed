"""The audit head's signing key, and sealing the head at start.

The key is an ed25519 private key (PEM, PKCS#8) in a file outside the database: `--signing-key PATH`
(env FLAGOPS_SIGNING_KEY), by default `audit-signing.key` in the XDG config dir, created on first start
with mode 0600. A key file that others can read is refused, as ssh refuses such a private key.

Every write signs the new head inside its own transaction (store.sign_head). At start the stored head's
signature is checked: if the database was changed while the service was down (or the key was replaced),
the service does not sign on top of it, so `GET /v1/audit/verify` keeps saying so, across restarts, until an
operator who has looked at it starts the service once with `--reseal-audit`.
"""

from __future__ import annotations

import base64
import logging
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from flagops.audit_chain import head_message, key_id, signature_ok
from flagops.server.engine import Engine

log = logging.getLogger("flagops.server")
KEY_FILE = "audit-signing.key"


class SigningKeyError(Exception):
    """The key file cannot be created, read or trusted (one line for the operator)."""


def default_key_path() -> Path:
    import platformdirs

    return platformdirs.user_config_path("flagops") / KEY_FILE


def _create(path: Path) -> Ed25519PrivateKey:
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)  # EXCL: never overwrite a key
    except FileExistsError:
        return _read(path)  # another process created it first
    except OSError as exc:
        raise SigningKeyError(f"cannot create the audit signing key {path}: {exc.strerror or exc}") from None
    with os.fdopen(fd, "wb") as handle:
        handle.write(pem)
    log.info("created the audit signing key %s", path)
    return key


def _read(path: Path) -> Ed25519PrivateKey:
    try:
        mode = path.stat().st_mode
        if os.name == "posix" and mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise SigningKeyError(
                f"the audit signing key {path} is accessible by others "
                f"(mode {stat.S_IMODE(mode):04o}); run: chmod 600 {path}"
            )
        data = path.read_bytes()
    except OSError as exc:
        raise SigningKeyError(f"cannot read the audit signing key {path}: {exc.strerror or exc}") from None
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as exc:
        raise SigningKeyError(f"{path} is not an unencrypted PEM private key: {exc}") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise SigningKeyError(f"{path} holds a {type(key).__name__}; the audit signing key must be ed25519")
    return key


@dataclass
class Signer:
    key: Ed25519PrivateKey
    path: Path

    @property
    def public_raw(self) -> bytes:
        return self.key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)

    @property
    def public_b64(self) -> str:
        return base64.b64encode(self.public_raw).decode()

    @property
    def key_id(self) -> str:
        return key_id(self.public_raw)

    def sign(self, instance: str, sequence: int, digest: str) -> str:
        return base64.b64encode(self.key.sign(head_message(instance, sequence, digest))).decode()

    def verifies(self, instance: str, sequence: int, digest: str, signature: str | None) -> bool:
        return signature_ok(self.public_raw, instance, sequence, digest, signature)


def load_signer(path: Path | None) -> Signer:
    path = path or default_key_path()
    key = _read(path) if path.exists() else _create(path)
    return Signer(key, path)


def _meta(db: Engine, key: str) -> str | None:
    row = db.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
    return None if row is None else str(row[0])


def _set_meta(db: Engine, key: str, value: str) -> None:
    db.execute("INSERT INTO meta VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value=excluded.value", (key, value))


def seal_on_start(db: Engine, instance: str, signer: Signer, *, reseal: bool) -> str | None:
    """Check the stored head's signature; sign it when it is new to signing (or `reseal`). Returns None when
    the service may sign new heads, else the problem (and then it must not: see the module docstring).
    Runs before the service takes writes, in one write transaction (replicas starting together take turns)."""
    db.begin_write()
    try:
        problem = _seal(db, instance, signer, reseal=reseal)
        db.commit()
        return problem
    except BaseException:
        db.rollback()
        raise


def _seal(db: Engine, instance: str, signer: Signer, *, reseal: bool) -> str | None:
    head, signature, signed_from = _meta(db, "head"), _meta(db, "head_sig"), _meta(db, "signed_from")
    seq_text, _, digest = (head or "0:").partition(":")
    sequence = int(seq_text or 0)
    problem: str | None = None
    if head is None:
        if signed_from is None:
            _set_meta(db, "signed_from", "0")
        return None
    if signed_from is None and signature is None:  # a database from before signing: sign what is there
        log.warning(
            "audit entries 1-%d were written before the audit head was signed; signing them now with %s",
            sequence,
            signer.key_id,
        )
        problem = None
    elif signer.verifies(instance, sequence, digest, signature):
        return None
    else:
        problem = (
            f"the audit head (entry {sequence}) is not signed by this service's key {signer.key_id}: "
            "the database was changed outside the service, or the key was replaced"
        )
        if not reseal:
            log.error("%s; new entries will not be signed until the service is started with --reseal-audit", problem)
            return problem
        log.warning("%s; resealing it (--reseal-audit)", problem)
    _set_meta(db, "head_sig", signer.sign(instance, sequence, digest))
    if signed_from is None:
        _set_meta(db, "signed_from", str(sequence))
    return None
