"""YAML to values that remember where they came from: the one YAML reader for runbooks, profiles and themes.

Runbook and config errors must name the file, line and field, so we compose the YAML into nodes (which carry marks)
and convert those ourselves instead of calling `yaml.safe_load`, which throws the marks away. The
conversion is defensive because runbooks are untrusted input: a size cap, a node budget (alias bombs
expand through shared nodes), a depth cap, only the standard safe scalar tags, and no duplicate keys.
Anything wrong raises `SourceError` with a 1-based line; never another exception.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml

MAX_BYTES = 256 * 1024
MAX_NODES = 20_000
MAX_DEPTH = 40


class SourceError(Exception):
    """The text is not YAML we accept. `line` is 1-based (None when unknown)."""

    def __init__(self, problem: str, line: int | None) -> None:
        super().__init__(problem)
        self.problem = problem
        self.line = line


@dataclass(frozen=True)
class Located:
    """A YAML value and the 1-based line it started on. Mappings and lists hold `Located` items."""

    value: Any  # str | int | float | bool | None | dict[str, Located] | list[Located] | other scalar
    line: int  # where a person looks: a mapping entry's key line, else where the value starts
    start: int  # where the value itself starts (a block mapping or list under its key starts below it)

    def is_map(self) -> bool:
        return isinstance(self.value, dict)

    def is_list(self) -> bool:
        return isinstance(self.value, list)

    def plain(self) -> Any:
        """The value without lines: dicts, lists and scalars, as `yaml.safe_load` would give."""
        if isinstance(self.value, dict):
            return {key: item.plain() for key, item in self.value.items()}
        if isinstance(self.value, list):
            return [item.plain() for item in self.value]
        return self.value


class _Converter:
    def __init__(self) -> None:
        self.nodes = 0
        self.constructor = yaml.constructor.SafeConstructor()

    def convert(self, node: yaml.Node, depth: int) -> Located:
        line = node.start_mark.line + 1
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise SourceError(f"too many YAML nodes (more than {MAX_NODES}; aliases count each time)", line)
        if depth > MAX_DEPTH:
            raise SourceError(f"nested deeper than {MAX_DEPTH} levels", line)
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, depth, line)
        if isinstance(node, yaml.SequenceNode):
            return Located([self.convert(item, depth + 1) for item in node.value], line, line)
        if isinstance(node, yaml.ScalarNode):
            return Located(self._scalar(node, line), line, line)
        raise SourceError("unsupported YAML node", line)

    def _mapping(self, node: yaml.MappingNode, depth: int, line: int) -> Located:
        if node.tag not in ("tag:yaml.org,2002:map",):
            raise SourceError(f"unsupported tag {node.tag[:60]!r} on a mapping", line)
        out: dict[str, Located] = {}
        for key_node, value_node in node.value:
            key_line = key_node.start_mark.line + 1
            if key_node.tag == "tag:yaml.org,2002:merge":
                raise SourceError("merge keys (<<) are not supported", key_line)
            if not isinstance(key_node, yaml.ScalarNode):
                raise SourceError("mapping keys must be plain words, not lists or mappings", key_line)
            key = self._scalar(key_node, key_line)
            if not isinstance(key, str):
                key = str(key)
            if key in out:
                raise SourceError(f"duplicate key {key[:60]!r} (first on line {out[key].line})", key_line)
            value = self.convert(value_node, depth + 1)
            # the key's line is where a person looks for the field, even when the value starts below it
            out[key] = Located(value.value, key_line, value.start)
        return Located(out, line, line)

    def _scalar(self, node: yaml.ScalarNode, line: int) -> Any:
        if not node.tag.startswith("tag:yaml.org,2002:") or node.tag.endswith((":binary", ":omap", ":pairs", ":set")):
            raise SourceError(f"unsupported tag {node.tag[:60]!r}", line)
        try:
            return self.constructor.construct_object(node, deep=True)
        except yaml.YAMLError as exc:
            raise SourceError(_problem(exc), line) from None
        except (ValueError, TypeError, OverflowError) as exc:
            raise SourceError(f"bad {node.tag.rsplit(':', 1)[-1]} value: {str(exc)[:80]}", line) from None


def _problem(exc: yaml.YAMLError) -> str:
    problem = getattr(exc, "problem", None)
    if not problem:
        lines = str(exc).splitlines()
        problem = lines[0] if lines else "invalid YAML"
    context = getattr(exc, "context", None)
    text = f"{context}: {problem}" if context else str(problem)
    return text[:200]


def _mark_line(exc: yaml.YAMLError) -> int | None:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    return mark.line + 1 if mark is not None else None


def parse(text: str | bytes) -> Located:
    """Parse one YAML document into `Located` values, or raise `SourceError` (also for an empty file)."""
    root = compose(text)
    if root is None:
        raise SourceError("the file is empty", 1)
    return root


def compose(text: str | bytes) -> Located | None:
    """Like `parse`, but an empty document (no YAML at all) is None."""
    if isinstance(text, bytes):
        if len(text) > MAX_BYTES:
            raise SourceError(f"file is larger than {MAX_BYTES // 1024} KiB", None)
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise SourceError(f"not UTF-8 text (byte {exc.start})", None) from None
    if len(text) > MAX_BYTES:
        raise SourceError(f"file is larger than {MAX_BYTES // 1024} KiB", None)
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        raise SourceError(_problem(exc), _mark_line(exc)) from None
    except RecursionError:
        raise SourceError(f"nested deeper than {MAX_DEPTH} levels", None) from None
    if node is None:
        return None
    try:
        return _Converter().convert(node, 0)
    except RecursionError:
        raise SourceError(f"nested deeper than {MAX_DEPTH} levels", None) from None
