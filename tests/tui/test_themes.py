"""YAML themes: the shipped ones load, bad files become a toast and a fallback, never a crash."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.app import App, ComposeResult
from textual.widgets import Static

from flagops.tui.themes import (
    DEFAULT_THEME,
    ThemeError,
    install_themes,
    load_theme_file,
    load_themes,
    parse_theme,
    shipped_theme_dir,
)


class ThemedApp(App[None]):
    def __init__(self, wanted: str | None, dirs: list[Path]) -> None:
        super().__init__()
        self.wanted = wanted
        self.dirs = dirs
        self.chosen: str | None = None

    def compose(self) -> ComposeResult:
        yield Static("hello")

    def on_mount(self) -> None:
        self.chosen = install_themes(self, self.wanted, self.dirs)


def test_shipped_themes_all_load() -> None:
    catalog = load_themes([shipped_theme_dir()])
    assert catalog.problems == []
    assert {"incident-dark", "high-contrast", "ansi-16"} <= set(catalog.themes)
    ansi = catalog.themes["ansi-16"]
    assert ansi.ansi is True
    # the 16-colour theme must only name terminal colours, so it follows the terminal's palette
    for color in (ansi.primary, ansi.error, ansi.warning, ansi.success, ansi.background):
        assert color is not None and color.startswith("ansi_")


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ("- just\n- a list\n", "expected a mapping"),
        ("name: x\ncolors: {primary: '#zzzzzz'}\n", "colors.primary: not a colour"),
        ("name: x\ncolors: {secondary: '#ffffff'}\n", "colors.primary: required"),
        ("name: x\ncolors: {primary: red, sparkle: blue}\n", "unknown colour(s): sparkle"),
        ("name: has spaces\ncolors: {primary: red}\n", "name: expected a short name"),
        ("name: x\ndark: maybe\ncolors: {primary: red}\n", "dark: expected true or false"),
        ("name: x\ncolors: {primary: red}\nvariables: {border: 12}\n", "variables.border"),
        (
            "name: x\ncolors: {primary: red}\nvariables: {block-cursor-text-style: '#ffffff'}\n",
            "variables.block-cursor-text-style: expected a text style",
        ),
        (
            "name: x\ncolors: {primary: red}\nvariables: {footer-key-foreground: bold}\n",
            "variables.footer-key-foreground: not a colour",
        ),
        ("name: x\ncolors: {primary: red}\nvariables: {'[bold]': red}\n", "bad variable name"),
        ("name: x\ncolors: {primary: red}\nextra: 1\n", "unknown field(s): extra"),
        ("name: x\ncolors: [primary]\n", "colors: expected a mapping"),
    ],
)
def test_bad_theme_documents_name_the_field(tmp_path: Path, doc: str, message: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(doc)
    with pytest.raises(ThemeError) as excinfo:
        load_theme_file(path)
    assert message in str(excinfo.value)
    assert str(path) in str(excinfo.value)


def test_yaml_syntax_error_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("name: x\ncolors:\n  primary: [unclosed\n")
    with pytest.raises(ThemeError, match=r"broken.yaml: line \d+"):
        load_theme_file(path)


def test_variables_accept_alpha_and_text_styles() -> None:
    theme = parse_theme(
        {
            "name": "t",
            "colors": {"primary": "#112233"},
            "variables": {"input-selection-background": "#81a1c1 35%", "block-cursor-text-style": "bold reverse"},
        }
    )
    assert theme.variables["input-selection-background"] == "#81a1c1 35%"
    assert theme.variables["block-cursor-text-style"] == "bold reverse"


async def test_profile_theme_is_selected_and_user_dir_overrides(tmp_path: Path) -> None:
    (tmp_path / "prod-red.yaml").write_text("name: prod-red\ncolors: {primary: '#aa0000', background: '#200000'}\n")
    app = ThemedApp("prod-red", [shipped_theme_dir(), tmp_path])
    async with app.run_test() as pilot:
        await pilot.pause()
        assert app.chosen == "prod-red"
        assert app.theme == "prod-red"
        assert app.current_theme.primary == "#aa0000"
        assert not app._notifications  # nothing to complain about


async def test_invalid_theme_file_gives_toast_and_fallback(tmp_path: Path) -> None:
    # the hostile bits: markup in the value must show literally, not style or run anything
    (tmp_path / "evil.yaml").write_text("name: evil\ncolors: {primary: '[@click=app.quit]red[/]'}\n")
    app = ThemedApp("evil", [shipped_theme_dir(), tmp_path])
    async with app.run_test() as pilot:
        await pilot.pause()
        assert app.is_running
        assert app.theme == DEFAULT_THEME
        messages = [n.message for n in app._notifications]
        assert any("evil.yaml" in m and "colors.primary" in m and "[@click=app.quit]" in m for m in messages)
        assert any("No theme named 'evil'" in m for m in messages)
        assert all(not n.markup for n in app._notifications)


async def test_a_variable_of_the_wrong_kind_cannot_crash_the_console(tmp_path: Path) -> None:
    """A colour where a text style goes (or the reverse) only fails when Textual parses its stylesheet."""
    from textual.widgets import Footer, Input

    class WithFooter(ThemedApp):
        def compose(self) -> ComposeResult:
            yield Input()
            yield Footer()

    (tmp_path / "sneaky.yaml").write_text(
        "name: sneaky\ncolors: {primary: '#ff0000'}\n"
        "variables: {block-cursor-text-style: '#ffffff', footer-key-foreground: bold}\n"
    )
    app = WithFooter("sneaky", [shipped_theme_dir(), tmp_path])
    async with app.run_test() as pilot:
        await pilot.press("tab")
        await pilot.pause()
        assert app.is_running and app.theme == DEFAULT_THEME
        assert any("sneaky.yaml" in n.message for n in app._notifications)


async def test_no_theme_dirs_at_all_falls_back_to_textual(tmp_path: Path) -> None:
    app = ThemedApp(None, [tmp_path / "missing"])
    async with app.run_test() as pilot:
        await pilot.pause()
        assert app.theme == "textual-dark"
