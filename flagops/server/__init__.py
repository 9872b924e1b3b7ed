"""The reference Flag API service: a separate program that happens to live in this package (see pyproject's
[tool.importlinter] for what it may import)."""
