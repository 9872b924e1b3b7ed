"""flagops: a terminal operations console for feature flags."""

__version__ = "0.1.0"
