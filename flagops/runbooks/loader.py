"""Read runbook files into `Runbook`s, with every problem named by file, line and field.

Loading checks structure and types only; `flagops.runbooks.validate` then checks flags, environments and
owners against the live backend. Problems are collected (not just the first) so one edit fixes them all.

yamlsrc (text -> values with lines) -> fields (typed values, params) -> step_reader (steps) -> here (the file).
"""

from __future__ import annotations

from pathlib import Path

from flagops import yamlsrc
from flagops.runbooks.problems import Problem, RunbookError
from flagops.runbooks.schema import ParamType, Runbook
from flagops.runbooks.step_reader import StepReader
from flagops.runbooks.values import RUNBOOK_ID
from flagops.yamlsrc import Located

TOP_FIELDS = ("id", "title", "description", "environment", "params", "steps", "tags")
SUFFIX = (".yaml", ".yml")


class _RunbookReader(StepReader):
    """The whole file: top-level fields, then params (which later values refer to), then steps."""

    def read(self, root: Located) -> Runbook | None:
        top = self.mapping(root, "")
        if top is None:
            return None
        self.unknown_fields(root, TOP_FIELDS, "")
        rb_id = self.text(top.get("id"), "id")
        if rb_id is None:
            self.problem(root.line, "id", "required: a short id like checkout-error-spike")
        elif not RUNBOOK_ID.match(rb_id):
            self.problem(top["id"].line, "id", "use lowercase letters, digits, dots, dashes (max 64)")
        title = self.text(top.get("title"), "title")
        if title is None:
            self.problem(root.line, "title", "required")
        description = self.text(top.get("description"), "description") or ""
        tags: tuple[str, ...] = ()
        if "tags" in top:
            node = top["tags"]
            if not node.is_list() or not all(isinstance(t.value, str) for t in node.value):
                self.problem(node.line, "tags", "expected a list of words")
            else:
                tags = tuple(t.value for t in node.value)
        params = self.read_params(top.get("params"))
        environment = None
        if "environment" not in top:
            self.problem(root.line, "environment", "required: the environment it acts on (or ${param})")
        else:
            environment = self.value(top["environment"], ParamType.ENVIRONMENT, "environment")
        steps = self.read_steps(top.get("steps"), root.line)
        if self.problems:
            return None
        assert rb_id is not None and title is not None
        return Runbook(
            id=rb_id,
            title=title,
            environment=environment,
            steps=steps,
            description=description,
            params=params,
            path=self.path,
            tags=tags,
            environment_line=top["environment"].line if "environment" in top else root.line,
        )


def loads(text: str | bytes, path: str = "<runbook>") -> Runbook:
    """Parse and check one runbook's text. Raises `RunbookError`, nothing else."""
    try:
        root = yamlsrc.parse(text)
    except yamlsrc.SourceError as exc:
        raise RunbookError(path, [Problem(exc.line, "", exc.problem)]) from None
    reader = _RunbookReader(path)
    runbook = reader.read(root)
    if runbook is None:
        raise RunbookError(path, reader.problems or [Problem(root.line, "", "not a runbook")])
    return runbook


def load_file(path: Path) -> Runbook:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise RunbookError(str(path), [Problem(None, "", f"cannot read: {exc.strerror or exc}")]) from None
    return loads(data, str(path))
