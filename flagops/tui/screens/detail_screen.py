"""One flag, everything about it: metadata, state in every environment, rules and rollout, live charts
of evaluations by variant and error rate, the runbooks that touch it, and its audit history.

Pushed by `FlagOpsApp.open_flag(key)`. Reads go straight to the backend (reads are not ops' business);
the write keys (kill / rollout / rollback) hand over to the app's action flow, and are removed, not just
disabled, in read-only mode. Every value shown came from the service and is drawn as Content, never markup.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any, ClassVar

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.content import Content
from textual.widgets import Static

from flagops.errors import FlagOpsError, NotFound
from flagops.metrics.paired import metrics_source
from flagops.model import AuditEntry, Environment, Flag, FlagState, MetricSeries
from flagops.runbooks.catalog import Catalog, runbook_catalog
from flagops.tui import clock
from flagops.tui.host import ActionKind
from flagops.tui.runbook_links import RunbookLink, runbooks_touching
from flagops.tui.safe_text import plain, plain_lines
from flagops.tui.screens.console_screen import ConsoleScreen
from flagops.tui.widgets.audit_view import AuditView
from flagops.tui.widgets.charts import MetricsPanel

REFRESH_SECONDS = 5.0
AUDIT_LIMIT = 50
WRITE_ACTIONS = frozenset({"kill", "rollout", "rollback"})


def state_words(state: FlagState | None) -> str:
    if state is None:
        return "not present"
    return f"on {state.rollout:g}%" if state.enabled else "off"


def metadata_lines(flag: Flag) -> Content:
    def when(value: Any) -> str:
        return value.astimezone().strftime("%Y-%m-%d %H:%M") if value is not None else "—"

    rows: list[tuple[str, str]] = [
        ("owner", plain(flag.owner, 80) or "—"),
        ("tags", ", ".join(plain(t, 40) for t in flag.tags[:20]) or "—"),
        ("stage", flag.stage.value),
        ("risk", flag.risk_level.value),
        ("kill switch", "yes" if flag.kill_switch else "no"),
        ("kind", flag.kind.value),
        ("variants", ", ".join(plain(v.key, 30) for v in flag.variants[:20]) or "—"),
        ("ticket", plain(flag.ticket, 80) if flag.ticket else "—"),
        ("sunset", when(flag.sunset_at)),
        ("created", when(flag.created_at)),
        ("dashboards", "\n             ".join(plain(d, 200) for d in flag.dashboards[:10]) or "—"),
    ]
    parts: list[str | tuple[str, str]] = []
    for i, (label, value) in enumerate(rows):
        if i:
            parts.append("\n")
        parts.append((f"{label:<12} ", "dim"))
        style = "bold $error" if (label == "risk" and value in ("high", "critical")) else ""
        parts.append((value, style) if style else value)
    return Content.assemble(*parts)


def summary_line(flag: Flag) -> Content:
    """owner · risk · kill switch · stage · ticket, on one line under the title."""
    risky = flag.risk_level.value in ("high", "critical")
    parts: list[str | tuple[str, str]] = [
        (plain(flag.owner, 40, note=False) or "no owner", "$accent"),
        "  ",
        (f"risk {flag.risk_level.value}", "bold $error" if risky else ""),
        "  ",
        ("kill switch" if flag.kill_switch else "no kill switch", "bold" if flag.kill_switch else "dim"),
        "  ",
        f"stage {flag.stage.value}",
    ]
    if flag.ticket:
        parts += ["  ", plain(flag.ticket, 30, note=False)]
    return Content.assemble(*parts)


def environment_lines(flag: Flag, environments: list[Environment], current: str) -> Content:
    """One short line per environment (fits 80 columns): state, version, rules, when and by whom."""
    keys = [e.key for e in environments] or sorted(flag.states)
    protected = {e.key for e in environments if e.protected}
    keys += [k for k in sorted(flag.states) if k not in keys]
    parts: list[str | tuple[str, str]] = []
    for i, key in enumerate(keys):
        state = flag.states.get(key)
        if i:
            parts.append("\n")
        parts.append(("▶ " if key == current else "  ", "bold $accent"))
        parts.append((f"{plain(key, 12, note=False):<12} ", "bold" if key == current else ""))
        parts.append(("PROT " if key in protected else "     ", "bold $warning"))
        words = state_words(state)
        parts.append((f"{words:<9}", "bold $success" if words.startswith("on") else "bold $error"))
        if state is not None:
            parts.append(f" v{state.version:<4} {len(state.rules)} rule{'s' if len(state.rules) != 1 else ' '}")
            if state.updated_at is not None:
                parts.append((f"  {clock.when(state.updated_at, seconds=False)}", "dim"))
            if state.updated_by:
                parts.append((f" {plain(state.updated_by, 16, note=False)}", "dim"))
    if protected:
        parts.append(("\nPROT = protected: changes ask for the typed flag key", "dim"))
    return Content.assemble(*parts)


SEGMENT_OP = "in_segment"  # a rule that references segments (flagops/governance.py Segment) by key


def rules_lines(state: FlagState | None) -> Content:
    if state is None:
        return Content("the flag has no state in this environment")
    parts: list[str | tuple[str, str]] = []
    if not state.enabled:
        parts.append(("off", "bold $error"))
        parts.append(f": everyone gets {plain(state.off_variant, 30)}")
    else:
        bar = "█" * round(state.rollout / 5) + "░" * (20 - round(state.rollout / 5))
        parts.append((bar, "$success"))
        parts.append(f" {state.rollout:g}% get {plain(state.default_variant, 30)}")
        parts.append(f", the rest {plain(state.off_variant, 30)}")
    if not state.rules:
        parts.append(("\nno targeting rules", "dim"))
    for n, rule in enumerate(state.rules, start=1):
        values = ", ".join(plain(v, 40) for v in rule.values[:10])
        more = f" (+{len(rule.values) - 10} more)" if len(rule.values) > 10 else ""
        if rule.op == SEGMENT_OP:  # a saved predicate, by key: name it as the segment it is
            parts.append(f"\n{n}. if in segment {values}{more}")
        else:
            parts.append(f"\n{n}. if {plain(rule.attribute, 40)} {rule.op} [{values}{more}]")
        parts.append(f" -> {plain(rule.variant, 30)}")
    return Content.assemble(*parts)


class FlagDetailScreen(ConsoleScreen):
    """Everything about one flag; live charts refresh every few seconds."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back", id="detail.back"),
        Binding("r", "refresh", "Refresh", id="detail.refresh"),
        Binding("e", "next_environment", "Chart env", id="detail.environment"),
        Binding("k", "write('kill')", "Kill", id="kill"),
        Binding("percent_sign", "write('rollout')", "Rollout", id="rollout"),
        Binding("u", "write('rollback')", "Rollback", id="rollback"),
    ]

    CSS_PATH = "screens.tcss"  # detail, dashboard and help styles, in one file
    NARROW_HIDDEN = frozenset({"detail.refresh", "detail.environment"})

    def __init__(self, key: str) -> None:
        super().__init__()
        self.key = key
        self.flag: Flag | None = None
        self.chart_environment = ""  # set on mount from the app's environment
        self.runbook_catalog: Catalog | None = None  # None until loaded (off the event loop)

    def compose_body(self) -> ComposeResult:
        # what matters in an incident comes first: state, rollout, live numbers, who changed what
        with VerticalScroll(id="detail-body"):
            yield Static(Content(plain(self.key, 200)), id="detail-title", markup=False)
            yield Static("", id="detail-name", markup=False)
            yield Static("", id="detail-summary", markup=False)
            yield Static("", id="detail-problem", markup=False)
            yield Static("State in every environment", classes="section", markup=False)
            yield Static("loading…", id="detail-envs", markup=False)
            yield Static("", classes="section", id="detail-rules-title", markup=False)
            yield Static("loading…", id="detail-rules", markup=False)
            yield Static("", classes="section", id="detail-charts-title", markup=False)
            yield MetricsPanel(id="detail-charts")
            yield Static("Audit history (newest first)", classes="section", markup=False)
            yield AuditView(id="detail-audit")
            yield Static("Runbooks that touch this flag", classes="section", id="detail-runbooks-title", markup=False)
            yield Static("", id="detail-runbooks", markup=False)
            yield Static("Metadata", classes="section", markup=False)
            yield Static("loading…", id="detail-meta", markup=False)
            yield Static("", id="detail-description", markup=False)

    def on_mount(self) -> None:
        self.chart_environment = self.host.environment
        # nested children may mount after this screen's Mount event: start once they are there
        self.call_after_refresh(self._start)

    def _start(self) -> None:
        self._set_titles()
        self.load_runbooks()
        self.refresh_all()
        self.set_interval(REFRESH_SECONDS, self.refresh_all)

    def palette_flag_key(self) -> str:
        """The palette's context: actions offered are about this flag."""
        return self.key

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "write":
            # read-only: the actions are gone (hidden from the footer and help), not greyed out
            return not self.host.readonly
        return super().check_action(action, parameters)

    def _set_titles(self) -> None:
        env = plain(self.chart_environment, 30)
        self.query_one("#detail-rules-title", Static).update(Content(f"Rules and rollout in {env}"))
        self.query_one("#detail-charts-title", Static).update(
            Content(f"Live in {env}: evaluations by variant and error rate (every {REFRESH_SECONDS:g}s)")
        )

    @work(exclusive=True, group="detail-runbooks", exit_on_error=False)
    async def load_runbooks(self) -> None:
        self.runbook_catalog = await asyncio.to_thread(runbook_catalog, self.host.profile.runbooks_dir)
        self._show_runbooks()

    def _show_runbooks(self) -> None:
        title = self.query_one("#detail-runbooks-title", Static)
        body = self.query_one("#detail-runbooks", Static)
        if self.flag is None:
            return
        links = runbooks_touching(self.runbook_catalog, self.flag, self.chart_environment)
        # the catalog is still loading: leave the section out rather than say "none" too early
        title.display = body.display = links is not None
        if links is not None:
            body.update(runbook_lines(links))

    # -- loading -----------------------------------------------------------------------------------

    def refresh_all(self) -> None:
        self.load_flag()
        self.load_metrics()
        self.load_audit()

    @work(exclusive=True, group="detail-flag", exit_on_error=False)
    async def load_flag(self) -> None:
        host = self.host
        problem = self.query_one("#detail-problem", Static)
        try:
            flag = await host.backend.get_flag(self.key, None)
        except NotFound:
            problem.update(Content("This flag no longer exists (archived or deleted)."))
            problem.display = True
            return
        except FlagOpsError as exc:
            problem.update(Content(f"Could not refresh: {plain(exc.message, 200)} (showing last known data)"))
            problem.display = True
            return
        problem.display = False
        self.flag = flag
        self.show_flag(flag)

    def show_flag(self, flag: Flag) -> None:
        host = self.host
        self.query_one("#detail-name", Static).update(Content(plain(flag.name, 300)))
        self.query_one("#detail-summary", Static).update(summary_line(flag))
        self.query_one("#detail-description", Static).update(Content(plain_lines(flag.description, 600)))
        self.query_one("#detail-meta", Static).update(metadata_lines(flag))
        self.query_one("#detail-envs", Static).update(
            environment_lines(flag, list(host.environments), self.chart_environment)
        )
        self.query_one("#detail-rules", Static).update(rules_lines(flag.state(self.chart_environment)))
        self.query_one(MetricsPanel).set_state(flag.state(self.chart_environment))  # treatment vs control
        self._show_runbooks()

    @work(exclusive=True, group="detail-metrics", exit_on_error=False)
    async def load_metrics(self) -> None:
        host = self.host
        panel = self.query_one(MetricsPanel)
        try:
            series: MetricSeries = await host.backend.metrics(self.key, self.chart_environment)
        except FlagOpsError as exc:
            # "metrics source unreachable since 03:12:09 (...)": how long, not only that it failed
            health = metrics_source(host.backend).health.label()
            panel.show_problem(
                f"{health} — showing the last charts" if health else f"Metrics unavailable: {exc.message}"
            )
            return
        state = self.flag.state(self.chart_environment) if self.flag is not None else None
        panel.show(series, error_source=host.backend.capabilities.error_metrics, state=state)

    @work(exclusive=True, group="detail-audit", exit_on_error=False)
    async def load_audit(self) -> None:
        host = self.host
        view = self.query_one(AuditView)
        try:
            entries: list[AuditEntry] = await host.backend.audit(flag=self.key, limit=AUDIT_LIMIT)
        except FlagOpsError as exc:
            view.show_problem(f"Audit unavailable: {exc.message}")
            return
        view.show(entries)

    # -- actions -----------------------------------------------------------------------------------

    def action_back(self) -> None:
        self.dismiss(None)

    def action_refresh(self) -> None:
        self.refresh_all()

    def action_next_environment(self) -> None:
        keys = [e.key for e in self.host.environments]
        if not keys:
            return
        index = keys.index(self.chart_environment) if self.chart_environment in keys else -1
        self.chart_environment = keys[(index + 1) % len(keys)]
        self._set_titles()
        if self.flag is not None:
            self.show_flag(self.flag)
        self.load_metrics()

    def action_write(self, kind: ActionKind) -> None:
        if kind in WRITE_ACTIONS and not self.host.readonly:
            self.host.start_action(kind, self.key)


def runbook_lines(links: list[RunbookLink]) -> Content:
    if not links:
        return Content("no runbook names this flag")
    parts: list[str | tuple[str, str]] = []
    for i, link in enumerate(links):
        if i:
            parts.append("\n")
        parts.append((plain(link.id, 40), "bold"))
        parts.append("  ")
        parts.append(plain(link.title, 120))
        if link.path:  # the file name is enough to find it (`flagops runbook list` shows folders)
            parts.append((f"  {plain(Path(link.path).name, 60, note=False)}", "dim"))
    return Content.assemble(*parts)
