"""A profile's `metrics:` section, parsed and checked (no I/O, no imports beyond the standard library:
config.py loads it on the `flagops kill` path).

    metrics:
      source: prometheus                  # backend (default) | v1 | prometheus
      url: http://prometheus:9090
      evaluations: 'sum by (flag, variant) (rate(http_requests_total{env="{environment}", flag=~"{flag}"}[{range}]))'
      errors: 'sum by (flag, variant) (rate(http_requests_total{env="{environment}", flag=~"{flag}",
        code=~"5.."}[{range}]))'               # a long query may fold onto the next line (YAML: one space)
      labels: {flag: flag, variant: variant}   # the result labels that name the flag and the variant
      min_range: 1m                       # shortest rate() range: at least 4 scrape intervals
      timeout: 5s
      verify_tls: true
      token_env: PROMETHEUS_TOKEN         # name of an environment variable holding a bearer token

Templates are PromQL whose value is a per-second rate. Placeholders (replaced as text, so PromQL's own
braces stay as they are): `{flag}` the flag keys as an anchored regex (so it must be used as
`=~"{flag}"`: one query serves many flags), `{environment}`, `{variant}` (the query is then run once per
variant, for sources where the variant is not a label), `{range}` (the rate window: the chart's step, at
least `min_range`). Errors name the file, the line and the field.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from flagops.errors import ConfigError

SOURCES = ("backend", "v1", "prometheus")
PLACEHOLDERS = ("flag", "environment", "variant", "range")
# the reference service's own counters (flagops serve exposes them on /metrics)
DEFAULT_EVALUATIONS = (
    "sum by (flag, variant) (rate(flagops_flag_evaluations_total"
    '{environment="{environment}", flag=~"{flag}"}[{range}]))'
)
DEFAULT_ERRORS = (
    'sum by (flag, variant) (rate(flagops_flag_errors_total{environment="{environment}", flag=~"{flag}"}[{range}]))'
)
_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$")
_LABEL = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class MetricsSettings:
    source: str = "backend"
    url: str | None = None
    evaluations: str = DEFAULT_EVALUATIONS
    errors: str = DEFAULT_ERRORS
    flag_label: str = "flag"
    variant_label: str = "variant"
    min_range: float = 60.0  # seconds
    timeout: float = 5.0  # seconds
    verify_tls: bool = True
    token_env: str | None = None


def parse_duration(value: Any) -> float | None:
    """30, "30s", "1m", "500ms", "2h" -> seconds; None when it is not a duration."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value) if value > 0 else None
    match = _DURATION.match(str(value))
    if not match:
        return None
    number = float(match.group(1)) * {"ms": 0.001, "s": 1, "m": 60, "h": 3600, None: 1}[match.group(2)]
    return number if number > 0 else None


def template_problem(template: str) -> str | None:
    """Why a PromQL template cannot work, or None."""
    if not template.strip():
        return "it is empty"
    for name in _PLACEHOLDER.findall(template):
        if name not in PLACEHOLDERS:
            return f"unknown placeholder {{{name}}} (known: " + ", ".join(f"{{{p}}}" for p in PLACEHOLDERS) + ")"
    for match in re.finditer(r"\{flag\}", template):
        if not re.search(r'=~\s*"$', template[: match.start()]):
            return 'use {flag} as a regex match, flag_label=~"{flag}", so one query can serve many flags'
    return None


def parse_settings(
    values: Mapping[str, Any], line_of: Callable[[str], str], *, default_url: str | None, backend: str
) -> MetricsSettings:
    """`values`: the YAML mapping; `line_of(field)`: "path:line: profiles.p.metrics.field" for messages."""
    known = ("source", "url", "evaluations", "errors", "labels", "min_range", "timeout", "verify_tls", "token_env")
    for key in values:
        if key not in known:
            raise ConfigError(f"{line_of(key)}: unknown field. Known fields: {', '.join(known)}.")

    def text(key: str, what: str) -> str | None:
        value = values.get(key)
        if value is None:
            return None
        if not isinstance(value, str):
            raise ConfigError(f"{line_of(key)}: expected {what}, got {value!r}.")
        return value

    source = text("source", "one of " + ", ".join(SOURCES)) or "backend"
    if source not in SOURCES:
        raise ConfigError(f"{line_of('source')}: expected one of {', '.join(SOURCES)}, got {source!r}.")
    url = text("url", "a URL like http://prometheus:9090")
    if source == "prometheus" and not url:
        raise ConfigError(
            f"{line_of('source')}: a prometheus source needs url: (the Prometheus server, like http://prometheus:9090)."
        )
    if source == "v1" and not url:
        if backend != "flagapi":
            raise ConfigError(
                f"{line_of('source')}: a v1 source for a {backend} profile needs url: "
                "(the Flag API service that has the metrics)."
            )
        url = default_url
    if url and not url.startswith(("http://", "https://")):
        raise ConfigError(f"{line_of('url')}: expected a URL starting with http:// or https://, got {url!r}.")
    kwargs: dict[str, Any] = {"source": source, "url": url}
    for key in ("evaluations", "errors"):
        template = text(key, "a PromQL template")
        if template is None:
            continue
        if problem := template_problem(template):
            raise ConfigError(f"{line_of(key)}: {problem}.")
        kwargs[key] = template
    labels = values.get("labels")
    if labels is not None:
        if not isinstance(labels, Mapping) or set(labels) - {"flag", "variant"}:
            raise ConfigError(f"{line_of('labels')}: expected {{flag: LABEL, variant: LABEL}}, got {labels!r}.")
        for part in ("flag", "variant"):
            if part in labels:
                name = labels[part]
                if not isinstance(name, str) or not _LABEL.match(name):
                    raise ConfigError(f"{line_of('labels')}: {part}: expected a Prometheus label name, got {name!r}.")
                kwargs[f"{part}_label"] = name
    for key in ("min_range", "timeout"):
        if key in values:
            seconds = parse_duration(values[key])
            if seconds is None:
                raise ConfigError(f"{line_of(key)}: expected a duration like 30s, 1m or 5, got {values[key]!r}.")
            kwargs[key] = seconds
    if "verify_tls" in values:
        if not isinstance(values["verify_tls"], bool):
            raise ConfigError(f"{line_of('verify_tls')}: expected true or false, got {values['verify_tls']!r}.")
        kwargs["verify_tls"] = values["verify_tls"]
    token_env = text("token_env", "the name of an environment variable")
    if token_env is not None:
        if not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", token_env):
            raise ConfigError(
                f"{line_of('token_env')}: expected an environment variable name, got {token_env!r} "
                "(the token itself never goes into the config file)."
            )
        kwargs["token_env"] = token_env
    return MetricsSettings(**kwargs)
