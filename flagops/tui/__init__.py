"""The console (Textual): the only part of flagops that imports textual."""
