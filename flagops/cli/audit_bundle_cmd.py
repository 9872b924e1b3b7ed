"""`flagops audit-bundle export|verify`: the signed audit export, fetched and checked offline.

`export` saves GET /v1/audit/export (every audit and state row as stored, the head and its ed25519
signature). `verify` checks a saved bundle without the service: every hash, the chain, the head signature
(pinned with --key to the key id the service prints at start), and every state row against the audit.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import click

from flagops.cli.common import EXIT, handles_errors, invocation, run, want_json, with_backend
from flagops.cli.output import clean, emit_json, say
from flagops.errors import FlagOpsError


@click.group("audit-bundle")
def audit_bundle() -> None:
    """Export the signed audit log, or verify an exported bundle offline."""


@audit_bundle.command("export")
@click.option(
    "-o",
    "--output",
    "output",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write the bundle here (default: stdout).",
)
@click.pass_context
@handles_errors
def export(ctx: click.Context, output: Path | None) -> None:
    """Fetch the signed audit bundle from the Flag API service."""
    inv = invocation(ctx)

    async def fetch(backend: Any) -> dict[str, Any]:
        if not hasattr(backend, "export_audit_bundle"):
            raise FlagOpsError(f"the {backend.name} backend has no signed audit export")
        bundle: dict[str, Any] = await backend.export_audit_bundle()
        return bundle

    bundle = run(with_backend(inv.profile, fetch))
    text = json.dumps(bundle, separators=(",", ":"), ensure_ascii=False)
    if output is None:
        sys.stdout.write(text + "\n")
        return
    fd = os.open(output, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # it holds every reason ever given
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    head = bundle.get("head") or {}
    key = (bundle.get("signature") or {}).get("keyId")
    say(
        f"wrote {output}: {len(bundle.get('entries') or [])} entries up to {head.get('sequence')}, "
        f"signed by {clean(key)}"
    )


@audit_bundle.command("verify")
@click.argument("bundle_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--key",
    "trusted_key",
    default=None,
    help="The signing key it must be: its id (ed25519:...) as `flagops serve` prints it, or the "
    "base64 public key. Without it, the bundle's own key is reported but not trusted.",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
@handles_errors
def verify(ctx: click.Context, bundle_file: Path, trusted_key: str | None, as_json: bool) -> None:
    """Check an exported bundle without the service (exit 11 when it does not verify)."""
    from flagops.audit_chain import verify_bundle

    want_json(ctx, as_json)
    try:
        data = json.loads(bundle_file.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError) as exc:
        raise FlagOpsError(f"cannot read {bundle_file}: {exc}") from None
    result = verify_bundle(data, trusted_key)
    if as_json:
        emit_json(
            {
                "ok": result.ok,
                "entries": result.entries,
                "problem": result.problem,
                "keyId": result.key_id,
                "signedSequence": result.signed_sequence,
                "keyTrusted": result.ok and trusted_key is not None,
            }
        )
    elif result.ok:
        say(
            f"Audit bundle verified: {result.entries} entries, hash chain intact, head signed by "
            f"{clean(result.key_id)}, every state matches its last audit entry."
        )
        if trusted_key is None:
            say(
                f"Not pinned: pass --key {clean(result.key_id)} only if that is your service's key "
                "(`flagops serve` prints it at start)."
            )
    else:
        say(f"Audit bundle does NOT verify: {clean(result.problem)}")
    if not result.ok:
        ctx.exit(EXIT.INTEGRITY)
