"""The approvals screen (`c`): what waits for someone's sign-off in this environment, kept live.

Open break-glass reviews first (a kill that was applied at once and stays on the list until someone other
than the person who pulled it acknowledges), then open change requests: flag, environment, change
before -> after, author, age, approvals n/N, expiry, and the verdicts so far. The lists come from the
app's LiveGovernance (flagops/tui/governance_live.py), which reads them again when the stream says a
change request or review moved, so a request another operator opens appears here without a key press.

Keys: `a` approve, `x` reject (both with a comment), `p` apply an approved request, `o` acknowledge a
review, `enter` open the flag, `r` read again. A key that does not fit the highlighted row is shown dimmed;
a read-only console has no write keys at all. Every write goes through ops (the reason rule, the
protected-environment typed key), in the named worker "approvals-write"; a refusal (self-approval, a flag
that moved since, an expired request) is said in the status line, never a traceback. Against a backend
that cannot enforce approvals (Unleash OSS) the screen says so plainly.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.content import Content
from textual.widgets import Label, OptionList
from textual.widgets.option_list import Option

from flagops.approvals import Approvals
from flagops.errors import FlagOpsError
from flagops.governance import ChangeRequest, RequestStatus, Review
from flagops.model import FlagState
from flagops.ops import Ops
from flagops.tui import clock
from flagops.tui.approvals_text import (
    NOT_SUPPORTED,
    change_text,
    moved_since,
    not_enforced_banner,
    request_content,
    review_content,
)
from flagops.tui.governance_live import LiveGovernance
from flagops.tui.safe_text import plain
from flagops.tui.screens.comment_modal import CommentModal, SignOff
from flagops.tui.screens.console_screen import ConsoleScreen

WRITE_ACTIONS = frozenset({"approve", "reject", "apply", "acknowledge"})


class ApprovalsScreen(ConsoleScreen):
    """Pending change requests and open break-glass reviews, with the keys to sign them off."""

    CSS_PATH = "approvals.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back", id="approvals.back"),
        Binding("a", "approve", "Approve", id="approvals.approve"),
        Binding("x", "reject", "Reject", id="approvals.reject"),
        Binding("p", "apply", "Apply", id="approvals.apply"),
        Binding("o", "acknowledge", "Ack review", id="approvals.acknowledge"),
        Binding("r", "refresh", "Refresh", id="approvals.refresh", show=False),
    ]
    DESTINATION = "approvals"
    NARROW_HIDDEN = frozenset({"runbooks", "timeline"})

    def __init__(self) -> None:
        super().__init__(id="approvals-screen")
        self.message: tuple[str, str | None] = ("", None)  # the last action's result, and its kind
        self._drawn_width = 0

    def compose_body(self) -> ComposeResult:
        yield Label("Waiting for sign-off: loading…", id="approvals-title", markup=False)
        yield Label("", id="approvals-notice", markup=False)
        yield OptionList(id="approvals-list")
        yield Label("", id="approvals-status", markup=False)

    # -- following the live lists ---------------------------------------------------------------------

    @property
    def governance(self) -> LiveGovernance:
        return self.host.governance

    def on_mount(self) -> None:
        self.query_one(OptionList).focus()
        governance = self.governance
        if governance is not None:
            governance.on_change(self._lists_changed)
            governance.refresh_soon()
        store = self.host.store
        if store is not None:
            store.on_flags(self._flags_changed)  # a flag that moved makes its requests unapprovable
        self._show()

    def on_unmount(self) -> None:
        if self.governance is not None:
            self.governance.remove_listener(self._lists_changed)
        store = self.host.store
        if store is not None:
            store.remove_listener(self._flags_changed)

    def _lists_changed(self) -> None:
        self._show()

    def _flags_changed(self, keys: set[str]) -> None:
        governance = self.governance
        if governance is not None and any(cr.flag_key in keys for cr in governance.change_requests):
            self._show()

    def _current(self, key: str, environment: str) -> FlagState | None:
        store = self.host.store
        flag = store.get(key) if store is not None and store.environment == environment else None
        return flag.state(environment) if flag is not None else None

    def _show(self) -> None:
        governance = self.governance
        host = self.host
        env = plain(host.environment, 30)
        title = self.query_one("#approvals-title", Label)
        options = self.query_one(OptionList)
        backend = plain(getattr(host.backend, "name", "this"), 30)
        if governance is None or not governance.supported:
            title.update(Content(f"Approvals in {env}"))
            # a backend that answers policy() (Unleash: enforced=False) says so in the ops core's words
            has_policy = callable(getattr(host.backend, "policy", None))
            self._notice(
                not_enforced_banner(backend) if has_policy else NOT_SUPPORTED.format(backend=backend), "warning"
            )
            options.clear_options()
            self._show_status()
            return
        if not governance.enforced:
            self._notice(not_enforced_banner(backend), "warning")
        elif host.readonly:
            self._notice("Read-only console: you can see what waits, not sign it off.", None)
        else:
            self._notice("", None)
        requests, reviews = governance.change_requests, governance.reviews
        if not governance.loaded:
            title.update(Content(f"Waiting for sign-off in {env}: loading…"))
        else:
            title.update(
                Content(
                    f"Waiting for sign-off in {env}: {len(requests)} change request(s), "
                    f"{len(reviews)} open break-glass review(s)"
                )
            )
        highlighted = options.highlighted
        previous = (
            options.get_option_at_index(highlighted).id if highlighted is not None and options.option_count else None
        )
        width = max(40, options.scrollable_content_region.width or self.size.width - 4)
        self._drawn_width = width
        now = clock.utcnow()
        items: list[Option] = []
        if reviews:
            items.append(Option(Content.styled("Break-glass reviews", "bold $primary"), disabled=True))
            items += [Option(review_content(r, now, width), id=f"review:{r.id}") for r in reviews]
        if requests:
            items.append(Option(Content.styled("Change requests", "bold $primary"), disabled=True))
            items += [
                Option(request_content(cr, self._current(cr.flag_key, cr.environment), now, width), id=f"cr:{cr.id}")
                for cr in requests
            ]
        options.clear_options()
        options.add_options(items)
        ids = [item.id for item in items]
        if previous is not None and previous in ids:
            options.highlighted = ids.index(previous)
        elif any(i is not None for i in ids):
            options.highlighted = next(n for n, i in enumerate(ids) if i is not None)
        self._show_status()
        self.refresh_bindings()

    def _notice(self, text: str, kind: str | None) -> None:
        notice = self.query_one("#approvals-notice", Label)
        notice.update(Content(text))
        notice.display = bool(text)
        notice.set_class(kind == "warning", "warning")

    def _show_status(self) -> None:
        governance = self.governance
        text, kind = self.message
        if not text and governance is not None and governance.error:
            text, kind = f"Could not read the approvals: {plain(governance.error, 300)}", "error"
        if not text and governance is not None and governance.loaded:
            if not governance.change_requests and not governance.reviews:
                text = "Nothing waits for sign-off here."
            else:
                text = "enter: open the flag"
        status = self.query_one("#approvals-status", Label)
        status.update(Content(text))
        for name in ("error", "success"):
            status.set_class(kind == name, name)

    def on_resize(self) -> None:
        self.call_after_refresh(self._redraw_if_resized)

    def _redraw_if_resized(self) -> None:
        if self.query_one(OptionList).scrollable_content_region.width != self._drawn_width:
            self._show()

    # -- the highlighted row ------------------------------------------------------------------------

    def selected(self) -> ChangeRequest | Review | None:
        governance = self.governance
        options = self.query_one(OptionList)
        if governance is None or options.highlighted is None or not options.option_count:
            return None
        option_id = options.get_option_at_index(options.highlighted).id or ""
        kind, _, item_id = option_id.partition(":")
        if kind == "cr":
            return next((cr for cr in governance.change_requests if cr.id == item_id), None)
        if kind == "review":
            return next((r for r in governance.reviews if r.id == item_id), None)
        return None

    def palette_flag_key(self) -> str | None:
        item = self.selected()
        return item.flag_key if item is not None else None

    @on(OptionList.OptionHighlighted)
    def _highlighted(self) -> None:
        self.refresh_bindings()

    @on(OptionList.OptionSelected)
    def _selected(self) -> None:
        item = self.selected()
        if item is not None:
            self.host.open_flag(item.flag_key)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in WRITE_ACTIONS:
            governance = self.governance
            if self.host.readonly or governance is None or not governance.supported:
                return False  # read-only: no write keys at all, not even dimmed
            item = self.selected()
            if action == "acknowledge":
                return True if isinstance(item, Review) else None
            if not isinstance(item, ChangeRequest):
                return None
            if action == "apply":
                return True if item.status is RequestStatus.APPROVED else None
            return True if item.status is RequestStatus.PENDING else None
        return super().check_action(action, parameters)

    # -- signing off --------------------------------------------------------------------------------

    def _ops(self) -> Ops:
        return self.host.ops

    def _approvals(self) -> Approvals:
        """The ops core's governance half: the read-only rule, the comment rule, then the port."""
        return self._ops().approvals

    def _describe(self, cr: ChangeRequest) -> tuple[str, ...]:
        current = self._current(cr.flag_key, cr.environment)
        lines: tuple[str, ...] = (
            f"Request      {plain(cr.id, 40)} by {plain(cr.author, 40)}",
            f"Flag         {plain(cr.flag_key, 200)}",
            f"Environment  {plain(cr.environment, 40)}",
            f"Change       {change_text(cr, current)}",
            f"Reason       {plain(cr.reason, 300)}",
        )
        if moved_since(cr, current):
            lines += ("The flag moved since this was requested: the service will refuse it.",)
        return lines

    def action_approve(self) -> None:
        cr = self.selected()
        if isinstance(cr, ChangeRequest):
            ask = SignOff("Approve change request", "Approve", self._describe(cr), self._ops().min_reason_length)
            self._ask(ask, f"Approved {cr.id}", lambda comment: self._approvals().approve(cr.id, comment))

    def action_reject(self) -> None:
        cr = self.selected()
        if isinstance(cr, ChangeRequest):
            ask = SignOff(
                "Reject change request", "Reject", self._describe(cr), self._ops().min_reason_length, danger=True
            )
            self._ask(ask, f"Rejected {cr.id}", lambda comment: self._approvals().reject(cr.id, comment))

    def action_apply(self) -> None:
        cr = self.selected()
        if not isinstance(cr, ChangeRequest):
            return
        host = self.host
        protected = any(e.key == cr.environment and e.protected for e in host.environments)
        lines = (*self._describe(cr), f"Approved by  {', '.join(plain(v.actor, 30) for v in cr.approvals)}")
        ask = SignOff("Apply change request", "Apply", lines, None, typed_key=cr.flag_key if protected else None)
        self._ask(ask, f"Applied {cr.id}", lambda _comment: self._approvals().apply_request(cr.id))

    def action_acknowledge(self) -> None:
        review = self.selected()
        if not isinstance(review, Review):
            return
        lines = (
            f"Review       {plain(review.id, 40)}",
            f"Kill of      {plain(review.flag_key, 200)} in {plain(review.environment, 40)}",
            f"Pulled by    {plain(review.actor, 40)} at {clock.when(review.at)}",
            f"Reason       {plain(review.reason, 300)}",
        )
        ask = SignOff("Acknowledge break-glass kill", "Acknowledge", lines, self._ops().min_reason_length)
        self._ask(ask, f"Acknowledged {review.id}", lambda comment: self._approvals().acknowledge(review.id, comment))

    def _ask(self, ask: SignOff, done: str, write: Callable[[str], Awaitable[object]]) -> None:
        def answered(comment: str | None) -> None:
            if comment is not None:
                self.sign_off(write, comment, done)

        self.app.push_screen(CommentModal(ask), answered)

    @work(exclusive=True, group="approvals-write", exit_on_error=False)
    async def sign_off(self, write: Callable[[str], Awaitable[object]], comment: str, done: str) -> None:
        self._say("Sending…", None)
        try:
            await write(comment)
        except FlagOpsError as exc:
            self._say(f"Refused: {plain(exc.message, 400)}", "error")
            self.notify(plain(exc.message, 300), title="Not done", severity="error", markup=False)
            return
        finally:
            if self.governance is not None:
                self.governance.refresh_soon()
        self._say(f"{done}.", "success")

    def _say(self, text: str, kind: str | None) -> None:
        self.message = (text, kind)
        self._show_status()

    def action_refresh(self) -> None:
        self.message = ("", None)
        if self.governance is not None:
            self.governance.refresh_soon()

    def action_back(self) -> None:
        self.dismiss(None)
