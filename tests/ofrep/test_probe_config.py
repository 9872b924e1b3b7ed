"""`probe:` in a profile: parsed into ProbeSettings, with errors that name the file, line and field."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from flagops.config import ProbeSettings, load_profile
from flagops.errors import ConfigError
from flagops.probe import probe_for
from flagops.probe.base import token_variable


def profile_with(config: Path, probe: str) -> None:
    config.write_text("profiles:\n  main:\n    url: https://flags.example.com\n    probe:\n" + probe)


def test_no_probe_by_default(config: Path) -> None:
    config.write_text("profiles:\n  main:\n    url: https://flags.example.com\n")
    assert load_profile().probe is None and probe_for(load_profile()) is None


def test_ofrep_probe(config: Path) -> None:
    profile_with(config, "      ofrep: https://flags.example.com\n")
    assert load_profile().probe == ProbeSettings("ofrep", "https://flags.example.com")
    assert load_profile().probe.context == {"targetingKey": "flagops-probe"}  # type: ignore[union-attr]
    probe = probe_for(load_profile())
    assert probe is not None and probe.profile == "main" and probe.client_name.startswith("OpenFeature")


def test_unleash_probe_with_everything(config: Path) -> None:
    profile_with(
        config,
        "      unleash: http://127.0.0.1:4242/api\n      token_env: UNLEASH_CLIENT_{ENV}\n"
        "      context: {userId: probe-7, plan: free}\n      timeout: 2.5\n",
    )
    assert load_profile().probe == ProbeSettings(
        "unleash", "http://127.0.0.1:4242/api", "UNLEASH_CLIENT_{ENV}", {"userId": "probe-7", "plan": "free"}, 2.5
    )
    assert token_variable("UNLEASH_CLIENT_{ENV}", "pre-prod") == "UNLEASH_CLIENT_PRE_PROD"


@pytest.mark.parametrize(
    ("probe", "expected"),
    [
        ("      ofrep: https://a.example.com\n      unleash: https://b.example.com/api\n", "exactly one of ofrep"),
        ("      token_env: X\n", "exactly one of ofrep"),
        ("      ofrep: ftp://flags\n", "probe.ofrep: expected a URL"),
        ("      ofrep: https://a.example.com\n      interval: 5\n", "probe.interval: unknown field"),
        ("      unleash: https://b.example.com/api\n", "token_env: required for an Unleash probe"),
        ("      ofrep: https://a.example.com\n      timeout: 0\n", "probe.timeout: expected seconds"),
        ("      ofrep: https://a.example.com\n      timeout: true\n", "probe.timeout: expected seconds"),
        ("      ofrep: https://a.example.com\n      context: [1]\n", "probe.context: expected a mapping"),
        ("      ofrep: https://a.example.com\n      token_env: ''\n", "probe.token_env: expected the name"),
    ],
)
def test_bad_probe_settings_name_the_line(config: Path, probe: str, expected: str) -> None:
    profile_with(config, probe)
    with pytest.raises(ConfigError) as err:
        load_profile()
    assert f"{config}:4: profiles.main.probe" in str(err.value) and expected in str(err.value)


def test_probe_must_be_a_mapping(config: Path) -> None:
    config.write_text("profiles:\n  main:\n    url: https://flags.example.com\n    probe: https://x.example.com\n")
    with pytest.raises(ConfigError, match=re.escape("profiles.main.probe: expected a mapping with ofrep")):
        load_profile()


def test_info_shows_the_probe(tmp_path: Path) -> None:
    from core.clitools import cli_env, flagops

    path = tmp_path / "flagops.yaml"
    path.write_text(
        "profiles:\n  main:\n    url: https://flags.example.com\n    probe:\n"
        "      unleash: https://unleash.example.com/api\n      token_env: UNLEASH_CLIENT_{ENV}\n"
    )
    result = flagops(["info"], cli_env(tmp_path, token="t0ken-never-shown", FLAGOPS_CONFIG=str(path)))
    assert result.code == 0, result.both
    assert (
        "probe:       unleash https://unleash.example.com/api (token: $UNLEASH_CLIENT_{ENV}, timeout 10 s)"
        in result.out
    )
    assert "t0ken-never-shown" not in result.both
