"""The console's live data: what it shows now, and the loops that keep it current.

- store.py: `LiveFlags`, the current environment's flags, their search index, per-flag error rates and the
  connection state, with listeners the widgets subscribe to. It does no I/O of its own.
- changes.py: `ChangeFeed`, the change loop (stream, liveness probe, polling fallback, reconnect with
  backoff, "stale since") that keeps the store's flags current.
- error_rates.py: `ErrorRateFeed`, the metrics loop: error rates for the rows on screen first, then a slow
  sweep over the rest.
- connection.py: `ConnectionState` and `Link`, what the header shows about how current the data is.

None of it imports Textual: listeners are plain callables, so the widgets decide how to repaint.
"""
