"""YAML themes -> textual.theme.Theme objects.

A theme file is a mapping:

    name: incident-dark          # required; what `theme:` in a profile and the palette refer to
    dark: true                   # optional, default true
    ansi: false                  # optional: true = use the terminal's own 16 colours (ansi_* names)
    colors:                      # primary is required, the rest optional
      primary: "#ff6b35"
      secondary / accent / warning / error / success / foreground / background / surface / panel / boost
    variables:                   # optional Textual CSS variables, e.g. footer-key-foreground: "#ffd166"
      some-variable: "#ffffff"

Every colour is checked with Textual's own parser before the theme is registered, so a typo is reported
(file, field, value) instead of crashing the console when the theme is applied. Loading never raises:
bad files are collected as problems, shown as a toast, and the console falls back to a working theme.

Where themes come from, later ones overriding earlier ones of the same name:
  1. the `themes/` folder shipped with flagops (incident-dark, high-contrast, ansi-16)
  2. the user theme dir: $XDG_CONFIG_HOME/flagops/themes (or FLAGOPS_THEME_DIR)
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from platformdirs import user_config_path
from textual.color import Color, ColorParseError
from textual.theme import Theme

from flagops import yamlsrc
from flagops.resources import shipped_dir
from flagops.tui.safe_text import plain

DEFAULT_THEME = "incident-dark"
FALLBACK_THEME = "textual-dark"  # built into Textual, always there
COLOR_FIELDS = (
    "primary",
    "secondary",
    "accent",
    "warning",
    "error",
    "success",
    "foreground",
    "background",
    "surface",
    "panel",
    "boost",
)
MAX_THEME_FILE_BYTES = 64 * 1024


class ThemeError(ValueError):
    """A theme file that cannot be used; the message names the file and the field."""


@dataclass
class ThemeCatalog:
    """Every theme that loaded, and a plain-text line per file that did not."""

    themes: dict[str, Theme] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    sources: dict[str, Path] = field(default_factory=dict)


class _ThemeHost(Protocol):
    """The part of textual.app.App that installing themes needs."""

    theme: str

    def register_theme(self, theme: Theme) -> None: ...

    def get_theme(self, theme_name: str) -> Theme | None: ...

    def notify(
        self, message: str, *, title: str = ..., severity: Any = ..., timeout: float | None = ..., markup: bool = ...
    ) -> None: ...


def shipped_theme_dir() -> Path:
    """The shipped `themes/` folder (see flagops.resources); a path that does not exist if it is missing."""
    return shipped_dir("themes") or Path(__file__).resolve().parents[2] / "themes"


def user_theme_dir() -> Path:
    override = os.environ.get("FLAGOPS_THEME_DIR")
    if override:
        return Path(override).expanduser()
    return user_config_path("flagops") / "themes"


def _check_color(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ThemeError(f'{where}: expected a colour string such as "#ff6b35" or "ansi_red"')
    try:
        Color.parse(value.strip())
    except ColorParseError:
        raise ThemeError(f"{where}: not a colour: {value[:40]!r}") from None
    return value.strip()


TEXT_STYLE_WORDS = frozenset(
    {
        "none",
        "not",
        "bold",
        "b",
        "italic",
        "i",
        "reverse",
        "underline",
        "u",
        "strike",
        "s",
        "dim",
        "d",
        "blink",
        "overline",
        "o",
    }
)


def _check_variable(name: str, value: Any, where: str) -> str:
    """What a variable may hold depends on where Textual uses it: `*-style` variables are text styles
    ("bold", "b reverse"), every other one a colour, optionally with an alpha ("#81a1c1 35%", "auto 87%").
    A value of the wrong kind would only fail when the stylesheet is parsed, crashing the console."""
    if not isinstance(value, str) or not value.strip():
        raise ThemeError(f"{where}: expected a string")
    words = value.split()
    if name.endswith(("-style", "-style-hover")):
        if not all(w in TEXT_STYLE_WORDS for w in words):
            raise ThemeError(f'{where}: expected a text style such as "bold" or "none", not {value[:40]!r}')
        return " ".join(words)
    if len(words) == 2 and re.fullmatch(r"\d{1,3}%", words[1]):
        if words[0] == "auto":
            return value.strip()
        return f"{_check_color(words[0], where)} {words[1]}"
    return _check_color(value, where)


def _check_bool(data: dict[str, Any], key: str, default: bool, where: str) -> bool:
    value = data.get(key, default)
    if not isinstance(value, bool):
        raise ThemeError(f"{where}{key}: expected true or false")
    return value


def parse_theme(data: Any, where: str = "theme") -> Theme:
    """Build a Theme from a parsed YAML document; raises ThemeError naming the bad field."""
    if not isinstance(data, dict):
        raise ThemeError(f"{where}: expected a mapping with name and colors")
    unknown = set(data) - {"name", "dark", "ansi", "colors", "variables", "description"}
    if unknown:
        raise ThemeError(f"{where}: unknown field(s): {', '.join(sorted(map(str, unknown)))[:80]}")
    name = data.get("name")
    if not isinstance(name, str) or not name.strip() or len(name) > 64 or any(c.isspace() for c in name):
        raise ThemeError(f"{where}: name: expected a short name without spaces")
    colors = data.get("colors")
    if not isinstance(colors, dict):
        raise ThemeError(f"{where}: colors: expected a mapping of colour names to colours")
    unknown = set(colors) - set(COLOR_FIELDS)
    if unknown:
        raise ThemeError(
            f"{where}: colors: unknown colour(s): {', '.join(sorted(map(str, unknown)))[:80]} "
            f"(known: {', '.join(COLOR_FIELDS)})"
        )
    if "primary" not in colors:
        raise ThemeError(f"{where}: colors.primary: required")
    checked = {key: _check_color(value, f"{where}: colors.{key}") for key, value in colors.items()}
    variables = data.get("variables", {}) or {}
    if not isinstance(variables, dict):
        raise ThemeError(f"{where}: variables: expected a mapping")
    checked_vars: dict[str, str] = {}
    for key, value in variables.items():
        if not isinstance(key, str) or not key.replace("-", "").isalnum():
            raise ThemeError(f"{where}: variables: bad variable name {str(key)[:40]!r}")
        checked_vars[key] = _check_variable(key, value, f"{where}: variables.{key}")
    theme = Theme(
        name=name.strip(),
        dark=_check_bool(data, "dark", True, f"{where}: "),
        ansi=_check_bool(data, "ansi", False, f"{where}: "),
        variables=checked_vars,
        primary=checked["primary"],
        secondary=checked.get("secondary"),
        accent=checked.get("accent"),
        warning=checked.get("warning"),
        error=checked.get("error"),
        success=checked.get("success"),
        foreground=checked.get("foreground"),
        background=checked.get("background"),
        surface=checked.get("surface"),
        panel=checked.get("panel"),
        boost=checked.get("boost"),
    )
    try:  # the same work Textual does when the theme is applied: fail here, not mid-render
        theme.to_color_system().generate()
    except Exception as exc:
        raise ThemeError(f"{where}: Textual cannot use this theme: {exc}") from None
    return theme


def load_theme_file(path: Path) -> Theme:
    try:
        if path.stat().st_size > MAX_THEME_FILE_BYTES:
            raise ThemeError(f"{path}: larger than {MAX_THEME_FILE_BYTES // 1024} KiB; not a theme")
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ThemeError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise ThemeError(f"{path}: not UTF-8 text") from None
    try:
        root = yamlsrc.compose(text)
    except yamlsrc.SourceError as exc:
        line = f" line {exc.line}" if exc.line is not None else ""
        raise ThemeError(f"{path}:{line}: {exc.problem}") from None
    return parse_theme(root.plain() if root is not None else None, str(path))


def load_themes(dirs: Iterable[Path] | None = None) -> ThemeCatalog:
    """Load every *.yaml / *.yml in `dirs` (default: shipped, then user). Never raises."""
    catalog = ThemeCatalog()
    for folder in dirs if dirs is not None else (shipped_theme_dir(), user_theme_dir()):
        if not folder.is_dir():
            continue
        for path in sorted([*folder.glob("*.yaml"), *folder.glob("*.yml")]):
            try:
                theme = load_theme_file(path)
            except ThemeError as exc:
                catalog.problems.append(str(exc))
                continue
            catalog.themes[theme.name] = theme
            catalog.sources[theme.name] = path
    return catalog


def install_themes(app: _ThemeHost, wanted: str | None, dirs: Iterable[Path] | None = None) -> str:
    """Register every loadable theme with `app`, select `wanted` (a profile's theme), and return the name used.

    Invalid theme files and an unknown `wanted` name each produce a warning toast (plain text, never
    markup: file contents are untrusted) and the console carries on with DEFAULT_THEME or Textual's own.
    """
    catalog = load_themes(dirs)
    for theme in catalog.themes.values():
        app.register_theme(theme)
    for problem in catalog.problems:
        app.notify(plain(problem, 400), title="Theme not loaded", severity="warning", timeout=10, markup=False)
    choice = wanted or DEFAULT_THEME
    if app.get_theme(choice) is None:
        fallback = DEFAULT_THEME if app.get_theme(DEFAULT_THEME) is not None else FALLBACK_THEME
        if wanted:
            app.notify(
                f"No theme named {plain(wanted, 60)!r}; using {fallback}.",
                title="Theme not found",
                severity="warning",
                timeout=10,
                markup=False,
            )
        choice = fallback
    app.theme = choice
    return choice
