"""Metrics sources: the port (base) and its adapters (v1, prometheus, backend_source), and pairing."""
