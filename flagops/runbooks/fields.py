"""Reading one runbook field at a time: typed values, `${param}` references and templates, and the params
block they refer to. Every problem is collected with its line and field, not raised, so one edit fixes them all.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import Any

from flagops.runbooks.problems import Problem
from flagops.runbooks.schema import Param, ParamType, Ref, Template, Value
from flagops.runbooks.values import COMPATIBLE, PARSERS, PLACEHOLDER, parse_text
from flagops.yamlsrc import Located

PARAM_FIELDS = ("type", "default", "description", "choices")
TEXT_TYPES = (ParamType.STRING, ParamType.FLAG, ParamType.TEAM, ParamType.ENVIRONMENT)


class FieldReader:
    """Collects problems while reading one file's fields; knows the file's params, which values may refer to."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.problems: list[Problem] = []
        self.params: dict[str, Param] = {}

    def problem(self, line: int | None, field: str, message: str) -> None:
        self.problems.append(Problem(line, field, message))

    def unknown_fields(self, node: Located, allowed: Iterable[str], where: str) -> None:
        allowed = list(allowed)
        for key, value in node.value.items():
            if key not in allowed:
                close = difflib.get_close_matches(key, allowed, n=1)
                hint = f"; did you mean {close[0]!r}?" if close else f"; expected one of: {', '.join(allowed)}"
                self.problem(value.line, f"{where}{key}", f"unknown field{hint}")

    def mapping(self, node: Located | None, field: str) -> dict[str, Located] | None:
        if node is None:
            return None
        if not node.is_map():
            self.problem(node.line, field, f"expected a mapping, got {kind_of(node.value)}")
            return None
        return dict(node.value)

    def text(self, node: Located | None, field: str, required: bool = False) -> str | None:
        if node is None or node.value is None:
            if required:
                self.problem(node.line if node else None, field, "required")
            return None
        try:
            return parse_text(node.value)
        except ValueError as exc:
            self.problem(node.line, field, str(exc))
            return None

    def value(self, node: Located, vtype: ParamType, field: str) -> Value:
        """A typed field value: a literal parsed to `vtype`, or a `${param}` reference checked against it."""
        raw = node.value
        if isinstance(raw, str) and "${" in raw:
            names = tuple(PLACEHOLDER.findall(raw))
            if not names or raw.count("${") != len(names):
                self.problem(node.line, field, "a placeholder must look like ${param_name}")
                return None
            for name in names:
                if name not in self.params:
                    close = difflib.get_close_matches(name, list(self.params), n=1)
                    hint = f"; did you mean {close[0]!r}?" if close else ""
                    self.problem(node.line, field, f"unknown param {name!r}{hint}")
                    return None
            if raw == "${" + names[0] + "}":
                ptype = self.params[names[0]].type
                if ptype not in COMPATIBLE[vtype]:
                    self.problem(
                        node.line, field, f"param {names[0]!r} is a {ptype.value}, but this field takes a {vtype.value}"
                    )
                    return None
                return Ref(names[0], vtype)
            if vtype not in TEXT_TYPES:
                self.problem(
                    node.line, field, f"expected a {vtype.value} or a single ${{param}}, not text around a placeholder"
                )
                return None
            return Template(raw, names, vtype)
        if raw is None or isinstance(raw, (dict, list)):
            self.problem(node.line, field, f"expected a {vtype.value}, got {kind_of(raw)}")
            return None
        try:
            return PARSERS[vtype](raw)
        except ValueError as exc:
            self.problem(node.line, field, str(exc))
            return None

    # --- params ---

    def read_params(self, node: Located | None) -> tuple[Param, ...]:
        items = self.mapping(node, "params")
        if not items:
            return ()
        out = []
        for name, spec_node in items.items():
            field = f"params.{name}"
            if not name.isidentifier():
                self.problem(spec_node.line, field, "a param name is letters, digits and _ (no dashes)")
                continue
            spec = self.mapping(spec_node, field)
            if spec is None:
                continue
            self.unknown_fields(spec_node, PARAM_FIELDS, f"{field}.")
            type_node = spec.get("type")
            if type_node is None:
                self.problem(spec_node.line, f"{field}.type", "required: " + ", ".join(t.value for t in ParamType))
                continue
            try:
                ptype = ParamType(type_node.value)
            except ValueError:
                self.problem(
                    type_node.line, f"{field}.type", "expected one of " + ", ".join(t.value for t in ParamType)
                )
                continue
            default, required = None, True
            if "default" in spec and spec["default"].value is not None:
                try:
                    default, required = PARSERS[ptype](spec["default"].value), False
                except ValueError as exc:
                    self.problem(spec["default"].line, f"{field}.default", str(exc))
            choices: tuple[Any, ...] = ()
            if "choices" in spec:
                choices = self._choices(spec["choices"], ptype, f"{field}.choices")
                if default is not None and choices and default not in choices:
                    self.problem(spec["default"].line, f"{field}.default", "not one of the choices")
            description = self.text(spec.get("description"), f"{field}.description") or ""
            param = Param(name, ptype, default, required, description, choices, spec_node.line)
            self.params[name] = param
            out.append(param)
        return tuple(out)

    def _choices(self, node: Located, ptype: ParamType, field: str) -> tuple[Any, ...]:
        if not node.is_list() or not node.value:
            self.problem(node.line, field, "expected a non-empty list")
            return ()
        out = []
        for i, item in enumerate(node.value):
            try:
                out.append(PARSERS[ptype](item.value))
            except ValueError as exc:
                self.problem(item.line, f"{field}[{i}]", str(exc))
        return tuple(out)


def kind_of(value: Any) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return type(value).__name__
