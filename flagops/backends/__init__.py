"""Backend port (base.py) and adapters (flagapi.py, unleash.py)."""
