"""Runbooks: YAML procedures (checks, actions, waits, notes) run step by step through `flagops.ops`.

schema (the format as types) <- loader (files, errors with file:line:field) <- params (bind values)
<- validate (against the live backend) <- plan (dry run) / execute (run, resume) / undo, with runlog
keeping each run's record in the XDG state dir.
"""
