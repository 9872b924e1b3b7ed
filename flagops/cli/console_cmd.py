"""`flagops [--profile P] [--env E] [--readonly]`: open the console for a profile.

Configuration and token problems are reported as one plain message with the CLI exit code of the error
(errors.ExitCode), before the terminal switches to the full-screen console.
"""

from __future__ import annotations

import sys

import click

from flagops.errors import FlagOpsError


def fail(exc: FlagOpsError) -> None:
    click.echo(f"flagops: {exc}", err=True)
    sys.exit(exc.exit_code)


def open_console(profile: str | None = None, environment: str | None = None, readonly: bool = False) -> None:
    """Load the profile, open its backend and run the console until the person quits."""
    from flagops.config import load_profile
    from flagops.session import open_backend

    try:
        loaded = load_profile(profile)
        backend = open_backend(loaded)
    except FlagOpsError as exc:
        fail(exc)
        return
    run_console(loaded, backend, environment=environment, readonly=readonly)


def run_console(profile: object, backend: object, *, environment: str | None, readonly: bool) -> None:
    """Run the Textual app against an open backend (the app closes the backend when it exits)."""
    from flagops.backends.base import FlagBackend
    from flagops.config import Profile
    from flagops.tui.app import FlagOpsApp

    assert isinstance(profile, Profile) and isinstance(backend, FlagBackend)
    app = FlagOpsApp(profile, backend, environment=environment, readonly=readonly)
    app.run()
