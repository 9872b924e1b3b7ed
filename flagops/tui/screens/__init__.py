"""The console's screens and modals, one per module (`*_screen.py`, `*_modal.py`)."""
