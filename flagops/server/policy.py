"""The approval policy file (`flagops serve --policy FILE`): which changes need approval, by whom.

```yaml
approvals:
  - environment: prod
    riskLevels: [high, critical]     # omitted or []: every flag in that environment
    approvers: 1                     # distinct approvers, never the author
    approverScope: flags:approve
    expiresAfter: 24h                # s/m/h/d
```
A malformed file stops the service at start with the file, line and field named: a policy that silently
failed to load would let every change through unreviewed.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from flagops.governance import ApprovalPolicy, ApprovalRule
from flagops.model import RiskLevel

DEMO_POLICY = ApprovalPolicy(rules=(ApprovalRule("prod", (RiskLevel.HIGH, RiskLevel.CRITICAL), 1),))
_DURATION = re.compile(r"^([1-9][0-9]{0,6})([smhd])$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_RULE_FIELDS = {"environment", "riskLevels", "approvers", "approverScope", "expiresAfter"}


class PolicyFileError(ValueError):
    pass


class _LineLoader(yaml.SafeLoader):
    """Keeps each mapping's line, so an error can say where the bad field is."""


def _mapping_with_lines(loader: _LineLoader, node: yaml.MappingNode) -> dict[str, Any]:
    value: dict[str, Any] = {str(k): v for k, v in loader.construct_mapping(node, deep=True).items()}
    lines = {str(k.value): k.start_mark.line + 1 for k, _ in node.value}
    value["__lines__"] = lines
    value["__line__"] = node.start_mark.line + 1
    return value


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping_with_lines)


def parse_duration(text: Any) -> int:
    if not isinstance(text, str) or not _DURATION.match(text.strip()):
        raise ValueError("expected a duration such as 30m, 24h or 7d (units s, m, h, d)")
    m = _DURATION.match(text.strip())
    assert m is not None
    return int(m.group(1)) * _UNIT_SECONDS[m.group(2)]


def parse_policy(text: str, source: str = "policy") -> ApprovalPolicy:
    try:
        data = yaml.load(text, Loader=_LineLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{source}:{mark.line + 1}" if mark is not None else source
        raise PolicyFileError(f"{where}: not valid YAML: {getattr(exc, 'problem', None) or exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("approvals"), list):
        raise PolicyFileError(f"{source}:1: approvals: expected a list of rules under the key `approvals`")
    unknown = sorted(k for k in data if not k.startswith("__") and k != "approvals")
    if unknown:
        raise PolicyFileError(f"{source}:{data['__lines__'][unknown[0]]}: {unknown[0]}: unknown field")
    rules = [_rule(entry, i, source, data["__lines__"]["approvals"]) for i, entry in enumerate(data["approvals"])]
    seen: set[tuple[str, tuple[RiskLevel, ...]]] = set()
    for rule in rules:
        if (rule.environment, rule.risk_levels) in seen:
            raise PolicyFileError(f"{source}: approvals: two rules for {rule.environment} with the same riskLevels")
        seen.add((rule.environment, rule.risk_levels))
    return ApprovalPolicy(rules=tuple(rules))


def _rule(entry: Any, i: int, source: str, list_line: int) -> ApprovalRule:
    if not isinstance(entry, dict):
        raise PolicyFileError(f"{source}:{list_line}: approvals[{i}]: expected a mapping")
    lines: dict[str, int] = entry["__lines__"]

    def fail(field: str, message: str) -> PolicyFileError:
        return PolicyFileError(f"{source}:{lines.get(field, entry['__line__'])}: approvals[{i}].{field}: {message}")

    unknown = sorted(k for k in entry if not k.startswith("__") and k not in _RULE_FIELDS)
    if unknown:
        raise fail(unknown[0], f"unknown field; allowed: {', '.join(sorted(_RULE_FIELDS))}")
    environment = entry.get("environment")
    if not isinstance(environment, str) or not environment.strip():
        raise fail("environment", "expected an environment key such as prod")
    levels_raw = entry.get("riskLevels") or []
    if not isinstance(levels_raw, list):
        raise fail("riskLevels", "expected a list such as [high, critical]")
    try:
        levels = tuple(RiskLevel(v) for v in levels_raw)
    except ValueError:
        raise fail("riskLevels", f"expected values from {', '.join(r.value for r in RiskLevel)}") from None
    approvers = entry.get("approvers", 1)
    if isinstance(approvers, bool) or not isinstance(approvers, int) or not 1 <= approvers <= 10:
        raise fail("approvers", "expected a number of distinct approvers from 1 to 10")
    scope = entry.get("approverScope", "flags:approve")
    if scope != "flags:approve":  # the one approver scope tokens can hold (auth.SCOPES)
        raise fail("approverScope", "expected flags:approve")
    try:
        expires = parse_duration(entry.get("expiresAfter", "24h"))
    except ValueError as exc:
        raise fail("expiresAfter", str(exc)) from None
    return ApprovalRule(environment.strip(), levels, approvers, scope, expires)


def load_policy(path: Path) -> ApprovalPolicy:
    try:
        text = path.read_text()
    except OSError as exc:
        raise PolicyFileError(f"{path}: cannot read: {exc.strerror}") from None
    return parse_policy(text, str(path))
