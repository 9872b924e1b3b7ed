"""The runbooks screen: a fuzzy list of runbooks, the selected one's plan, and a run with live progress.

`/` filters (esc clears, esc again goes back), enter or `p` plans the highlighted runbook against the live
service, `r` runs it (one reason, each action step confirmed in a dialog), `u` undoes the last run made
here. While a run is going each step shows its state and its latest reading: a wait shows the metric
it watches. All work on the service runs in named workers ("runbook-plan", "runbook-run",
"runbook-undo"); their errors are shown in the status line, never as a traceback.
"""

from __future__ import annotations

from typing import ClassVar

from rapidfuzz import fuzz
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.content import Content
from textual.widgets import Input, Label, OptionList, Static
from textual.widgets.option_list import Option

from flagops.errors import FlagOpsError
from flagops.ops import PlannedChange
from flagops.runbooks import views
from flagops.runbooks.catalog import Catalog, runbook_catalog
from flagops.runbooks.execute import RunEvent
from flagops.runbooks.runlog import RunLog, RunStore
from flagops.runbooks.schema import Runbook, Step
from flagops.tui.safe_text import plain, plain_lines
from flagops.tui.screens.console_screen import ConsoleScreen
from flagops.tui.screens.runbook_modal import RunbookStartModal, StartRequest, StepConfirmModal

MARKS = {"pending": "[ ]", "running": "[>]", "done": "[x]", "failed": "[!]", "skipped": "[-]"}


def rank(catalog: Catalog, query: str) -> list[Runbook]:
    """Runbooks matching `query` (id, title, tags), best first; all of them by id when it is empty."""
    books = sorted(catalog.runbooks.values(), key=lambda rb: rb.id)
    query = query.strip().lower()
    if not query:
        return books
    scored = []
    for rb in books:
        text = f"{rb.id} {rb.title} {' '.join(rb.tags)}".lower()
        score = 200.0 if query in rb.id else 150.0 if query in text else fuzz.partial_ratio(query, text)
        if score >= 70:
            scored.append((score, rb))
    return [rb for _, rb in sorted(scored, key=lambda item: (-item[0], item[1].id))]


class RunbooksScreen(ConsoleScreen):
    CSS_PATH = "runbooks.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("slash", "filter", "Filter", id="runbook_filter"),
        Binding("escape", "back", "Back", id="runbook_back"),
        Binding("p", "plan", "Plan", id="runbook_plan"),
        Binding("r", "run", "Run", id="runbook_run"),
        Binding("u", "undo", "Undo run", id="runbook_undo"),
    ]
    DESTINATION = "runbooks"

    def __init__(self, select: str | None = None) -> None:
        super().__init__(id="runbooks-screen")
        self.select = select  # runbook id to highlight once loaded (from the palette)
        self.catalog = Catalog()
        self.shown: list[Runbook] = []
        self.steps: dict[int, tuple[str, str, str]] = {}  # index -> (status, title, latest reading)
        self.last_run: RunLog | None = None
        self.running = False

    def compose_body(self) -> ComposeResult:
        yield Input(placeholder="filter runbooks (esc clears)", id="runbook-filter")
        with Horizontal(id="runbook-body"):
            yield OptionList(id="runbook-list")
            with VerticalScroll(id="runbook-pane"):
                yield Static("", id="runbook-about", markup=False)
                yield Static("", id="runbook-plan", markup=False)
                yield Static("", id="runbook-progress", markup=False)
        yield Label("Loading runbooks…", id="runbook-status", markup=False)

    def on_mount(self) -> None:
        self.load_catalog()

    # -- the list ---------------------------------------------------------------------------------

    @work(thread=True, exclusive=True, group="runbook-catalog", exit_on_error=False)
    def load_catalog(self) -> None:
        catalog = runbook_catalog(self.host.profile.runbooks_dir)
        self.app.call_from_thread(self._catalog_loaded, catalog)

    def _catalog_loaded(self, catalog: Catalog) -> None:
        self.catalog = catalog
        broken = f"; {len(catalog.broken)} file(s) with problems (flagops runbook check)" if catalog.broken else ""
        self._status(f"{len(catalog.runbooks)} runbooks{broken}. enter: plan · r: run · /: filter")
        self._refresh_list()
        self.reopen(self.select)
        self.query_one(OptionList).focus()

    def reopen(self, select: str | None = None) -> None:
        """Back on this screen from the palette's "runbook: ID": highlight that runbook and plan it."""
        if not select or self.running or select not in self.catalog.runbooks:
            return
        ids = [rb.id for rb in self.shown]
        if select not in ids:
            self.query_one("#runbook-filter", Input).value = ""
            self._refresh_list()
            ids = [rb.id for rb in self.shown]
        self.query_one(OptionList).highlighted = ids.index(select)
        self.action_plan()

    def _refresh_list(self) -> None:
        self.shown = rank(self.catalog, self.query_one("#runbook-filter", Input).value)
        options = self.query_one(OptionList)
        options.clear_options()
        options.add_options(
            [Option(Content(f"{plain(rb.id, 40)}  {plain(rb.title, 60)}"), id=rb.id) for rb in self.shown]
        )
        if self.shown:
            options.highlighted = 0

    @on(Input.Changed, "#runbook-filter")
    def _filter_changed(self) -> None:
        self._refresh_list()

    @on(Input.Submitted, "#runbook-filter")
    def _filter_done(self) -> None:
        self.query_one(OptionList).focus()

    def current(self) -> Runbook | None:
        index = self.query_one(OptionList).highlighted
        return self.shown[index] if index is not None and 0 <= index < len(self.shown) else None

    @on(OptionList.OptionHighlighted)
    def _highlighted(self) -> None:
        rb = self.current()
        if rb is not None and not self.running:
            self._show("#runbook-about", "\n".join(views.runbook_text(rb)))
            self._show("#runbook-plan", "enter or p: plan against the live service")

    @on(OptionList.OptionSelected)
    def _selected(self) -> None:
        self.action_plan()

    # -- actions ----------------------------------------------------------------------------------

    def action_filter(self) -> None:
        self.query_one("#runbook-filter", Input).focus()

    def action_back(self) -> None:
        search = self.query_one("#runbook-filter", Input)
        if search.value:
            search.value = ""
            self.query_one(OptionList).focus()
        elif not self.running:
            self.app.pop_screen()

    def action_plan(self) -> None:
        rb = self.current()
        if rb is not None and not self.running:
            self._show("#runbook-plan", "planning…")
            self.plan(rb)

    def action_run(self) -> None:
        rb = self.current()
        if rb is None or self.running:
            return
        if self.host.readonly:
            self._status("Read-only: runbooks cannot run in this console.")
            return
        self.app.push_screen(
            RunbookStartModal(rb, self.host.ops.min_reason_length), lambda request: self._start(rb, request)
        )

    def _start(self, rb: Runbook, request: StartRequest | None) -> None:
        if request is not None:
            self.run_runbook(rb, request)

    def action_undo(self) -> None:
        if self.last_run is None or self.running:
            self._status("Nothing to undo: no run was made on this screen.")
            return
        if self.host.readonly:
            self._status("Read-only: nothing can be undone in this console.")
            return
        self.undo(self.last_run)

    # -- workers ----------------------------------------------------------------------------------

    @work(exclusive=True, group="runbook-plan", exit_on_error=False)
    async def plan(self, rb: Runbook) -> None:
        from flagops.runbooks.plan import plan_runbook
        from flagops.runbooks.runs import prepare

        try:
            bound, _ = await prepare(self.host.ops, rb, {})
            steps = await plan_runbook(self.host.ops, bound)
        except FlagOpsError as exc:
            self._show("#runbook-plan", f"Cannot plan {rb.id}:\n{exc}")
            return
        self._show("#runbook-plan", "\n".join(views.plan_text(bound, steps)) + "\n\nr: run")

    @work(exclusive=True, group="runbook-run", exit_on_error=False)
    async def run_runbook(self, rb: Runbook, request: StartRequest) -> None:
        from flagops.runbooks.runs import start_run

        self.running = True
        self.steps = {s.index: ("pending", s.title(), "") for s in rb.steps}
        self._show("#runbook-plan", "")
        self._render_progress(f"Running {rb.id}…")
        try:
            log = await start_run(
                self.host.ops,
                rb,
                request.params,
                reason=request.reason,
                ticket=request.ticket,
                confirm=self._confirm,
                on_event=self._on_event,
            )
        except FlagOpsError as exc:
            self._render_progress(f"{rb.id} did not start:\n{exc}")
            self._status(f"{rb.id} did not start.")
            return
        finally:
            self.running = False
        self.last_run = log
        hint = " · u: undo this run" if log.changes else ""
        self._render_progress(f"run {log.run_id}: {log.shown_status}: {log.message}")
        self._status(f"run {log.run_id}: {log.shown_status}{hint}")

    @work(exclusive=True, group="runbook-undo", exit_on_error=False)
    async def undo(self, log: RunLog) -> None:
        from flagops.runbooks.undo import undo_run

        async def confirm(plans: list[PlannedChange]) -> bool:
            lines = [p.summary() for p in plans]
            modal = StepConfirmModal(f"Undo run {log.run_id}", lines, verb="Undo")
            answer: bool | None = await self.app.push_screen_wait(modal)
            return bool(answer)

        try:
            results = await undo_run(
                self.host.ops,
                log,
                RunStore(),
                reason=f"undo of runbook run {log.run_id}: {log.reason}",
                confirm=confirm,
            )
        except FlagOpsError as exc:
            self._status(plain(exc.message, 200))
            return
        text = "\n".join(f"{r.status}: {r.flag} in {r.environment}: {r.message}" for r in results) or "nothing to undo"
        self._show("#runbook-plan", f"Undo of run {log.run_id}:\n{text}")
        self._status(f"run {log.run_id}: {log.status}")

    async def _confirm(self, step: Step, plans: list[PlannedChange]) -> bool:
        lines = [f"{p.summary()}  ({p.blast.describe()})" for p in plans]
        if step.kind.value == "progressive":
            lines.append(f"then: {step.title()}")
        protected = [p for p in plans if self.host.ops.needs_typed_key(p)]
        typed, what = None, ""
        if protected:
            typed = plans[0].flag.key if len(plans) == 1 else plans[0].environment.key
            what = "the flag key" if len(plans) == 1 else "the environment name"
        modal = StepConfirmModal(f"Step {step.index}: {step.title()}", lines, typed=typed, what=what)
        answer: bool | None = await self.app.push_screen_wait(modal)
        return bool(answer)

    def _on_event(self, event: RunEvent) -> None:
        if event.step is not None and event.step in self.steps:
            status, title, _ = self.steps[event.step]
            if event.kind == "step-start":
                status = "running"
            elif event.kind == "step-done":
                status = "done"
            elif event.kind == "step-failed":
                status = "failed"
            reading = event.message if event.kind != "step-start" else ""
            if event.kind == "step-done" and not event.message:
                reading = self.steps[event.step][2]
            self.steps[event.step] = (status, title, reading)
        self._render_progress()

    # -- drawing ----------------------------------------------------------------------------------

    def _render_progress(self, footer: str = "") -> None:
        lines = []
        for index, (status, title, reading) in sorted(self.steps.items()):
            lines.append(f"{MARKS.get(status, '[?]')} {index}. {title}")
            if reading:
                lines += [f"      {line}" for line in reading.splitlines()[:6]]
        if footer:
            lines += ["", footer]
        self._show("#runbook-progress", "\n".join(lines))

    def _show(self, selector: str, text: str) -> None:
        self.query_one(selector, Static).update(Content(plain_lines(text, 20000)))

    def _status(self, text: str) -> None:
        self.query_one("#runbook-status", Label).update(Content(plain(text, 300)))
