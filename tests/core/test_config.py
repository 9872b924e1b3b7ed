"""Profiles from YAML: defaults, overrides from the environment, and errors that name file, line and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from flagops.config import load_profile
from flagops.errors import ConfigError

GOOD = """\
default_profile: main
profiles:
  main:
    url: https://flags.example.com
    environment: prod
    theme: incident
    min_reason_length: 12
    keys: {kill: k}
  lab:
    url: http://127.0.0.1:8700
    backend: flagapi
    readonly: true
    verify_tls: false
"""


def test_default_profile_and_fields(config: Path) -> None:
    config.write_text(GOOD)
    profile = load_profile()
    assert (profile.name, profile.url, profile.environment, profile.min_reason_length) == (
        "main",
        "https://flags.example.com",
        "prod",
        12,
    )
    assert profile.keys == {"kill": "k"} and profile.verify_tls and not profile.readonly
    assert profile.source == str(config)


def test_named_profile_and_env_overrides(config: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config.write_text(GOOD)
    monkeypatch.setenv("FLAGOPS_PROFILE", "lab")
    assert load_profile().readonly is True
    monkeypatch.setenv("FLAGOPS_URL", "http://10.0.0.1:9000")
    assert load_profile("main").url == "http://10.0.0.1:9000"


def test_environment_alone_is_enough(config: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLAGOPS_CONFIG", str(config.parent / "absent-but-unset.yaml"))
    monkeypatch.delenv("FLAGOPS_CONFIG")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(config.parent / "xdg"))
    monkeypatch.setenv("FLAGOPS_URL", "http://127.0.0.1:1234")
    profile = load_profile()
    assert profile.url == "http://127.0.0.1:1234" and profile.source == "environment"


def test_nothing_configured_says_what_to_do(config: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FLAGOPS_CONFIG")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(config.parent / "xdg"))
    with pytest.raises(ConfigError, match="FLAGOPS_URL"):
        load_profile()


def test_missing_override_file_is_named(config: Path) -> None:
    with pytest.raises(ConfigError, match=f"{config}.*does not exist"):
        load_profile()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "profiles:\n  main:\n    url: https://x\n    readonly: maybe\n",
            r":4: profiles\.main\.readonly: expected true or false",
        ),
        (
            "profiles:\n  main:\n    url: https://x\n    min_reason_length: true\n",
            r":4: profiles\.main\.min_reason_length",
        ),
        (
            "profiles:\n  main:\n    url: https://x\n    backend: launchdarkly\n",
            r":4: profiles\.main\.backend: expected one of flagapi, unleash",
        ),
        ("profiles:\n  main:\n    url: ftp://x\n", r":3: profiles\.main\.url"),
        ("profiles:\n  main:\n    url: https://x\n    colour: red\n", r":4: profiles\.main\.colour: unknown field"),
        ("profiles:\n  main:\n    environment: prod\n", r":3: profiles\.main: missing field url"),
        ("profiles:\n  main: [1, 2]\n", r":2: profiles\.main: must be a mapping"),
        ("profiles:\n  main:\n    url: https://x\n   bad: [\n", r"config\.yaml:\d+: .*fix the YAML"),
        ("profile:\n  main: {}\n", r":1: profile: unknown top-level field"),
    ],
)
def test_errors_name_file_line_and_field(config: Path, text: str, expected: str) -> None:
    config.write_text(text)
    with pytest.raises(ConfigError, match=expected) as info:
        load_profile("main")
    assert str(config) in str(info.value)


def test_unknown_profile_lists_the_known_ones(config: Path) -> None:
    config.write_text(GOOD)
    with pytest.raises(ConfigError, match=r"no profile named 'staging'.*lab, main"):
        load_profile("staging")


@pytest.mark.parametrize("url", ["http://", "http://exa mple.com", "http://127.0.0.1:99999", "http://[::1", "ftp://x"])
def test_bad_env_url(config: Path, monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    config.write_text(GOOD)
    monkeypatch.setenv("FLAGOPS_URL", url)
    with pytest.raises(ConfigError, match=r"FLAGOPS_URL=.* is not a usable service URL"):
        load_profile()


def test_bad_env_backend(config: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config.write_text(GOOD)
    monkeypatch.setenv("FLAGOPS_BACKEND", "nope")
    with pytest.raises(ConfigError, match="FLAGOPS_BACKEND"):
        load_profile()


# --- the metrics: section (flagops/metrics/settings.py) ---------------------------------------------

PROM = """\
profiles:
  ops:
    url: https://flags.example.com
    backend: unleash
    metrics:
      source: prometheus
      url: http://prometheus:9090
      evaluations: 'sum by (feature_flag, v) (rate(http_requests_total{env="{environment}",
        feature_flag=~"{flag}"}[{range}]))'
      errors: 'sum by (feature_flag, v) (rate(http_requests_total{feature_flag=~"{flag}", code=~"5.."}[{range}]))'
      labels: {flag: feature_flag, variant: v}
      min_range: 2m
      timeout: 3s
      token_env: PROM_TOKEN
"""


def test_a_prometheus_section_parses(config: Path) -> None:
    config.write_text(PROM)
    m = load_profile().metrics
    assert (m.source, m.url, m.flag_label, m.variant_label) == (
        "prometheus",
        "http://prometheus:9090",
        "feature_flag",
        "v",
    )
    assert (m.min_range, m.timeout, m.token_env) == (120.0, 3.0, "PROM_TOKEN")


def test_no_section_means_the_backends_own_metrics(config: Path) -> None:
    config.write_text("profiles:\n  p:\n    url: https://flags.example.com\n")
    assert load_profile().metrics.source == "backend"


BASE = "profiles:\n  p:\n    url: https://flags.example.com\n    metrics:\n"
PROM_HEAD = "      source: prometheus\n      url: http://p:9090\n"  # lines 5 and 6


@pytest.mark.parametrize(
    ("body", "line", "message"),
    [
        ("      source: graphite\n", 5, "metrics.source: expected one of backend, v1, prometheus"),
        (
            PROM_HEAD + "      evaluations: 'rate(x{flag=\"{flag}\"}[1m])'\n",
            7,
            "metrics.evaluations: use {flag} as a regex match",
        ),
        (PROM_HEAD + "      errors: 'rate(x{job=\"{job}\"}[1m])'\n", 7, "metrics.errors: unknown placeholder {job}"),
        (PROM_HEAD + "      min_range: soon\n", 7, "metrics.min_range: expected a duration"),
        (
            PROM_HEAD + "      token_env: hunter2-secret!\n",
            7,
            "metrics.token_env: expected an environment variable name",
        ),
        (PROM_HEAD + "      colour: red\n", 7, "metrics.colour: unknown field"),
    ],
)
def test_bad_fields_name_the_line(config: Path, body: str, line: int, message: str) -> None:
    config.write_text(BASE + body)
    with pytest.raises(ConfigError) as info:
        load_profile()
    assert f"config.yaml:{line}: profiles.p.{message}" in str(info.value)


def test_prometheus_needs_a_url(config: Path) -> None:
    config.write_text("profiles:\n  p:\n    url: https://flags.example.com\n    metrics:\n      source: prometheus\n")
    with pytest.raises(ConfigError, match="a prometheus source needs url"):
        load_profile()
