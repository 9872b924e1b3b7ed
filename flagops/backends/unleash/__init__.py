"""The Unleash adapter: `UnleashBackend` (adapter.py) over Unleash's Admin API (api.py), mapping its features
and strategies to flagops' model (state.py), its events to audit entries (audit.py) and change history
(changelog.py), its paged listing (listing.py), usage metrics (usage.py) and writes (writes.py)."""

from flagops.backends.unleash.adapter import UnleashBackend, open_unleash_backend

__all__ = ["UnleashBackend", "open_unleash_backend"]
