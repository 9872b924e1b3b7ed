"""The audit log's integrity checks, shared by the service (`GET /v1/audit/verify`) and by anyone holding an
exported bundle (`flagops audit-bundle verify`): the hash chain, the signed head, and the state rows.

Each row's `hash` is SHA-256 over its stored columns (exactly the text in the database, so re-encoding can
never change a hash) plus the previous row's hash. Changing a row breaks its own hash; deleting one leaves a
gap in the sequence and a `prevHash` that no longer matches; deleting the newest rows is caught by the head
marker (sequence and hash of the newest row). None of that helps against someone who can write the
database: they can edit a row and recompute every hash after it. So the head is also signed (ed25519) with
a key that lives outside the database; a recomputed chain ends in a head whose signature does not verify.
And the current state of every flag must equal what the audit says it was last set to, so editing the
`states` table directly is caught as well.

No server imports here: the client side must be able to check a bundle on its own.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from flagops.model import AuditVerification

GENESIS = "0" * 64
# what a flag row's `after` carries besides the state: the version restored from, the change request applied
AFTER_NOTES = frozenset({"restoredFrom", "changeRequest"})
BUNDLE_FORMAT = "flagops-audit-bundle/1"
# the audit table's columns, in stored order; the first 13 are hashed
COLUMNS = (
    "sequence",
    "at",
    "actor",
    "action",
    "flag",
    "environment",
    "reason",
    "ticket",
    "idempotencyKey",
    "before",
    "after",
    "origin",
    "prevHash",
    "hash",
)


def entry_hash(columns: tuple[Any, ...]) -> str:
    """Hash of (sequence, at, actor, action, flag, environment, reason, ticket, idempotency_key, before,
    after, origin, prev_hash) as stored."""
    return hashlib.sha256(json.dumps(list(columns), separators=(",", ":"), ensure_ascii=False).encode()).hexdigest()


def head_message(instance: str, sequence: int, digest: str) -> bytes:
    """What the signature covers: this database's instance id and the newest entry (which chains to all)."""
    return f"flagops-audit-head/1\n{instance}\n{sequence}\n{digest}".encode()


def key_id(public_raw: bytes) -> str:
    return "ed25519:" + hashlib.sha256(public_raw).hexdigest()[:16]


def signature_ok(public_raw: bytes, instance: str, sequence: int, digest: str, signature_b64: str | None) -> bool:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    if not signature_b64:
        return False
    try:
        signature = base64.b64decode(signature_b64, validate=True)
        Ed25519PublicKey.from_public_bytes(public_raw).verify(signature, head_message(instance, sequence, digest))
    except (InvalidSignature, ValueError, binascii.Error):
        return False
    return True


def _state_of(text: Any) -> Any:
    try:
        return json.loads(text) if isinstance(text, str) and text else None
    except (ValueError, RecursionError):
        return None


@dataclass
class ChainWalk:
    """Walks audit rows in sequence order: the chain, and each flag state's last recorded `after`."""

    expected: int = 1
    prev: str = GENESIS
    checked: int = 0
    last: tuple[Any, ...] | None = None
    broken: AuditVerification | None = None
    last_after: dict[tuple[str, str], Any] = field(default_factory=dict)  # (flag, env) -> state object

    def add(self, row: tuple[Any, ...] | list[Any]) -> bool:
        """Check one row; False once the chain is broken (the rest need not be read)."""
        if self.broken is not None:
            return False
        seq = row[0]
        if seq != self.expected:
            missing = f"{self.expected}" if seq == self.expected + 1 else f"{self.expected}-{seq - 1}"
            self.broken = AuditVerification(
                False, self.checked, broken_at=self.expected, problem=f"entry {missing} is missing (deleted)"
            )
        elif row[12] != self.prev:
            self.broken = AuditVerification(
                False,
                self.checked,
                broken_at=seq,
                problem=f"entry {seq}: prevHash does not match the hash of entry "
                f"{seq - 1} (an earlier entry was changed or removed)",
            )
        elif entry_hash(tuple(row[:13])) != row[13]:
            self.broken = AuditVerification(
                False,
                self.checked,
                broken_at=seq,
                problem=f"entry {seq} was changed after it was written (hash mismatch)",
            )
        if self.broken is not None:
            return False
        self._track_state(row)
        self.prev = row[13]
        self.expected += 1
        self.checked += 1
        self.last = tuple(row)
        return True

    def _track_state(self, row: tuple[Any, ...] | list[Any]) -> None:
        action, flag, env, after = row[3], row[4], row[5], _state_of(row[10])
        if action == "flag.created" and isinstance(after, dict) and isinstance(after.get("environments"), dict):
            for env_key, state in after["environments"].items():
                self.last_after[(flag, env_key)] = state
        elif env is not None and isinstance(after, dict) and action.startswith("flag."):
            self.last_after[(flag, env)] = {k: v for k, v in after.items() if k not in AFTER_NOTES}

    def result(self, head: str | None) -> AuditVerification:
        if self.broken is not None:
            return self.broken
        if head is not None:
            head_seq, _, head_hash = head.partition(":")
            last = self.last
            if last is None or head_seq != str(last[0]) or head_hash != last[13]:
                got = last[0] if last is not None else 0
                return AuditVerification(
                    False,
                    self.checked,
                    broken_at=got + 1,
                    problem=f"entries after {got} are missing (deleted); the log's head was entry {head_seq}",
                )
        return AuditVerification(True, self.checked)

    def state_problem(self, states: Iterable[tuple[Any, ...] | list[Any]]) -> tuple[int, str | None]:
        """(state rows checked, the first that disagrees with the audit's last `after` for it, or None)."""
        checked = 0
        for flag, env, version, data in states:
            expected = self.last_after.get((flag, env))
            if expected is None:
                return checked, f"state of {flag} in {env} has no audit entry (the states table was changed)"
            actual = _state_of(data)
            if actual != expected or (isinstance(actual, dict) and actual.get("version") != version):
                return checked, (
                    f"state of {flag} in {env} (version {version}) differs from its last audit entry "
                    "(the states table was changed outside the service)"
                )
            checked += 1
        return checked, None


def verify_rows(rows: Iterable[tuple[Any, ...]], head: str | None) -> AuditVerification:
    """Walk the chain from the first row; report the first row that does not verify, and why."""
    walk = ChainWalk()
    for row in rows:
        if not walk.add(row):
            break
    return walk.result(head)


@dataclass
class BundleCheck:
    ok: bool
    entries: int
    problem: str | None
    key_id: str | None
    signed_sequence: int | None


def verify_bundle(bundle: Any, trusted_key: str | None = None) -> BundleCheck:
    """Check an exported bundle on its own: every hash, the chain, the head signature and the states.
    `trusted_key` (a key id `ed25519:...` or the base64 public key) pins whose signature it must be;
    without it, the bundle's own key is used and the result says which key that was."""

    def fail(problem: str, entries: int = 0, kid: str | None = None) -> BundleCheck:
        return BundleCheck(False, entries, problem, kid, None)

    if not isinstance(bundle, dict) or bundle.get("format") != BUNDLE_FORMAT:
        return fail(f"not a flagops audit bundle (expected format {BUNDLE_FORMAT})")
    sig = bundle.get("signature") or {}
    try:
        public_raw = base64.b64decode(str(sig.get("publicKey", "")), validate=True)
    except (binascii.Error, ValueError):
        return fail("signature.publicKey is not base64")
    kid = key_id(public_raw)
    if trusted_key is not None and trusted_key not in (kid, sig.get("publicKey")):
        return fail(f"signed with key {kid}, not with the trusted key {trusted_key}", kid=kid)
    entries, states, head = bundle.get("entries"), bundle.get("states"), bundle.get("head") or {}
    if not isinstance(entries, list) or not isinstance(states, list):
        return fail("entries and states must be lists", kid=kid)
    walk = ChainWalk()
    for row in entries:
        if not isinstance(row, list) or len(row) != len(COLUMNS) or not walk.add(row):
            break
    marker = f"{head.get('sequence')}:{head.get('hash')}" if head.get("sequence") else None
    chain = walk.result(marker)
    if not chain.ok or walk.checked != len(entries):
        return fail(chain.problem or f"entry {walk.checked + 1} is malformed", walk.checked, kid)
    if walk.last is not None and not signature_ok(
        public_raw, str(bundle.get("instance")), walk.last[0], walk.last[13], sig.get("value")
    ):
        return fail(
            f"the head (entry {walk.last[0]}) is not signed by {kid}: the log was rewritten, or signed by another key",
            walk.checked,
            kid,
        )
    _, problem = walk.state_problem(states)
    if problem is not None:
        return fail(problem, walk.checked, kid)
    return BundleCheck(True, walk.checked, None, kid, walk.last[0] if walk.last is not None else None)
