"""The confirmation modal for kill (`k`), set rollout (`%`) and rollback (`u`).

It repeats the target, the environment, the effect (before -> after) and the blast radius; asks for a reason
(required, minimum length from the profile) and, in a protected environment, the typed flag key. Focus
starts on Cancel and `esc` cancels. Applying goes through ops.py (If-Match, idempotency key, read-back);
afterwards the modal shows the time to effect and the new state. A 412 shows the fresh state, plans again
against it and lets the person press Apply again (the reason is kept).

A change that would change nothing (killing a flag that is already off) is said so at once: no reason is
asked for and nothing is written (kill is idempotent). When planning fails because the service cannot be
reached, the modal plans again by itself as soon as the console's connection is live again. A field
that blocks applying is marked, gets the cursor, and the message says so; typing a valid value clears
the message.
"""

from __future__ import annotations

import uuid
from typing import ClassVar, Literal

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label

from flagops.errors import Conflict, FlagOpsError, ReasonTooShort, Refused
from flagops.governance import ChangeRequest
from flagops.ops import AppliedChange, PlannedChange, describe_state
from flagops.tui.approval_effect import ApprovalEffect, approval_effect, request_opened_text, review_opened_text
from flagops.tui.host import ActionKind, ConsoleHost, console_host
from flagops.tui.live.connection import ConnectionState, Link
from flagops.tui.widgets.flag_table import printable

TITLES = {"kill": "Kill flag", "rollout": "Set rollout", "rollback": "Roll back flag"}
VERBS = {"kill": "Kill", "rollout": "Set rollout", "rollback": "Roll back"}


def parse_percent(text: str) -> float | None:
    try:
        value = float(text.strip().rstrip("%"))
    except ValueError:
        return None
    return value if 0 <= value <= 100 else None


class ActionModal(ModalScreen[AppliedChange | None]):
    """Plan, confirm and apply one change to one flag in the current environment."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel", id="cancel_action")]

    def __init__(self, kind: ActionKind, key: str, environment: str) -> None:
        super().__init__(id="action-modal", classes=f"action-{kind}")
        self.kind = kind
        self.key = key
        self.environment = environment
        self.plan: PlannedChange | None = None
        self.approval: ApprovalEffect | None = None  # what the policy does with the plan (None: nothing)
        self.applied: AppliedChange | None = None
        self.busy = False
        self._idempotency_key = str(uuid.uuid4())
        self._plan_failed = False  # planning could not reach the service: plan again once it is back
        self._invalid: str | None = None  # the id of the field whose problem the message shows

    @property
    def host(self) -> ConsoleHost:
        return console_host(self.app)

    def compose(self) -> ComposeResult:
        ops = self.host.ops
        with Vertical(id="action-dialog"):
            yield Label(TITLES[self.kind], id="action-title", markup=False)
            yield Label(f"Flag         {printable(self.key, 200)}", id="action-target", markup=False)
            yield Label(f"Environment  {printable(self.environment, 40)}", id="action-environment", markup=False)
            yield Label("Effect       planning…", id="action-effect", markup=False)
            yield Label("Blast radius …", id="action-blast", markup=False)
            yield Label("", id="action-approval", markup=False)  # shown when the policy has a say
            if self.kind == "rollout":
                yield Label("New rollout % (0-100)", classes="action-field-label", markup=False)
                yield Input(placeholder="e.g. 5", id="action-percent", restrict=r"[0-9.%]*", max_length=6)
            yield Label(
                f"Reason (required, at least {ops.min_reason_length} characters)",
                classes="action-field-label",
                markup=False,
            )
            yield Input(placeholder="why, for the audit log", id="action-reason", max_length=500)
            yield Label("Ticket / incident (optional)", classes="action-field-label", markup=False)
            yield Input(placeholder="e.g. INC-123", id="action-ticket", max_length=100)
            yield Label("", id="action-typed-label", classes="action-field-label", markup=False)
            yield Input(placeholder="type the flag key", id="action-typed-key", max_length=1000)
            yield Label("", id="action-message", markup=False)
            yield Label(
                "tab/shift+tab: fields and buttons · enter: next field · esc: cancel", id="action-hint", markup=False
            )
            with Horizontal(id="action-buttons"):
                yield Button("Cancel", id="action-cancel", variant="default")
                yield Button(VERBS[self.kind], id="action-apply", variant="error", disabled=True)
                yield Button("Close", id="action-close", variant="primary")

    def on_mount(self) -> None:
        # the dialog's children may mount after the screen's own Mount event: start once they are there
        self.call_after_refresh(self._start)

    def _start(self) -> None:
        self.host.store.on_connection(self._connection_changed)
        self.query_one("#action-typed-label").display = False
        self.query_one("#action-typed-key").display = False
        self.query_one("#action-close").display = False
        self.query_one("#action-approval").display = False
        self.query_one("#action-cancel", Button).focus()
        if self.kind == "rollout":
            flag = self.host.store.get(self.key)
            state = flag.state(self.environment) if flag is not None else None
            if state is not None:
                self.query_one("#action-percent", Input).value = f"{state.rollout:g}"
            # the plan follows the number typed; nothing to plan until there is one
        else:
            self.replan()

    def on_unmount(self) -> None:
        self.host.store.remove_listener(self._connection_changed)

    def _connection_changed(self, state: ConnectionState) -> None:
        if state.link is Link.LIVE and self._plan_failed and self.applied is None and not self.busy:
            self.replan("The service is reachable again: planned against its current state.")

    # -- planning ---------------------------------------------------------------------------------------

    @work(exclusive=True, group="plan", exit_on_error=False)
    async def replan(self, note: str | None = None) -> None:
        ops = self.host.ops
        self.plan = None
        self.query_one("#action-apply", Button).disabled = True
        try:
            if self.kind == "kill":
                plan = await ops.plan_kill(self.key, self.environment)
            elif self.kind == "rollback":
                plan = await ops.plan_rollback(self.key, self.environment)
            else:
                percent = parse_percent(self.query_one("#action-percent", Input).value)
                if percent is None:
                    self._show_effect("enter a number from 0 to 100", None)
                    return
                plan = await ops.plan_rollout(self.key, self.environment, percent)
        except FlagOpsError as exc:
            self._plan_failed = True
            self._show_effect("cannot plan this change", None)
            self._message(f"{exc.message} This dialog plans again when the service is back.", "error")
            return
        self._plan_failed = False
        self.approval = await approval_effect(ops, plan)
        self.plan = plan
        self._idempotency_key = str(uuid.uuid4())
        self._show_plan(plan)
        if note:
            self._message(note, "warning")

    def _show_effect(self, effect: str, blast: str | None) -> None:
        self.query_one("#action-effect", Label).update(f"Effect       {effect}")
        self.query_one("#action-blast", Label).update(f"Blast radius {blast or '…'}")

    def _show_plan(self, plan: PlannedChange) -> None:
        env = plan.environment
        env_label = self.query_one("#action-environment", Label)
        env_label.update(f"Environment  {printable(env.key, 40)}" + ("  PROTECTED" if env.protected else ""))
        env_label.set_class(env.protected, "protected")
        before, after = describe_state(plan.before), describe_state(plan.after)
        if plan.noop:
            effect = f"already {before}: nothing to change"
        elif self.kind == "rollout" and not plan.before.enabled:
            effect = f"off, rollout {plan.before.rollout:g}% -> off, rollout {plan.after.rollout:g}%"
        else:
            effect = f"{before} (v{plan.before.version}) -> {after}"
            if plan.to_version is not None:
                effect += f"  (restores v{plan.to_version})"
        self._show_effect(effect, plan.blast.describe())
        self._show_approval(plan)
        needs_key = self.host.ops.needs_typed_key(plan)
        typed_label = self.query_one("#action-typed-label", Label)
        # the key on a line of its own (it wraps when long): the whole key must be readable to be typed
        typed_label.update(f"Protected environment: to confirm, type the flag key\n{printable(plan.flag.key, 300)}")
        typed_label.display = needs_key
        self.query_one("#action-typed-key").display = needs_key
        self._message("", None)
        if plan.noop and self.kind != "rollout":
            self._show_nothing_to_do(plan)
            return
        self._set_asking(True)
        # a plan that changes nothing has nothing to apply (rollout: the number may still change)
        self.query_one("#action-apply", Button).disabled = plan.noop

    def _show_approval(self, plan: PlannedChange) -> None:
        """What the policy does with this change: hold it for approval, or apply a break-glass kill at once."""
        label = self.query_one("#action-approval", Label)
        effect = None if plan.noop else self.approval
        label.display = effect is not None
        label.update(f"Approval     {effect.text}" if effect is not None else "")
        label.set_class(effect is not None and effect.holds, "holds")
        verb = "Request" if effect is not None and effect.holds else VERBS[self.kind]
        self.query_one("#action-apply", Button).label = verb

    def _show_nothing_to_do(self, plan: PlannedChange) -> None:
        """Kill an off flag, roll back to what it already is: say so, ask nothing, write nothing."""
        self._set_asking(False)
        where = printable(plan.environment.key, 40)
        self._message(
            f"Already {describe_state(plan.before)} in {where}: nothing to change, nothing is written.", "success"
        )
        close = self.query_one("#action-close", Button)
        close.display = True
        close.focus()

    def _set_asking(self, asking: bool) -> None:
        """Show or hide what only a real change needs: the fields, Apply and Cancel (Close replaces them)."""
        for widget in self.query(".action-field-label, Input"):
            if widget.id in ("action-typed-label", "action-typed-key"):
                continue  # shown by the plan when the environment is protected
            widget.display = asking
        if not asking:
            self.query_one("#action-typed-label").display = False
            self.query_one("#action-typed-key").display = False
        self.query_one("#action-hint").display = asking
        self.query_one("#action-apply").display = asking
        self.query_one("#action-cancel").display = asking
        self.query_one("#action-close").display = not asking

    @on(Input.Changed, "#action-percent")
    def _percent_changed(self) -> None:
        self.replan()

    @on(Input.Changed, "#action-reason, #action-typed-key")
    def _field_changed(self, event: Input.Changed) -> None:
        """Once the field the message complains about is valid, the complaint goes (and the mark)."""
        if self._invalid != event.input.id or self.plan is None:
            return
        if self._field_problem(event.input.id, self.plan) is None:
            event.input.remove_class("invalid")
            self._invalid = None
            self._message("", None)

    def _field_problem(self, field: str | None, plan: PlannedChange) -> str | None:
        ops = self.host.ops
        if field == "action-reason":
            try:
                ops.check_reason(self.query_one("#action-reason", Input).value)
            except ReasonTooShort as short:
                return (
                    f"A reason is required: at least {short.minimum} characters ({short.length} typed). "
                    "The cursor is in the Reason field."
                )
        elif (
            field == "action-typed-key"
            and ops.needs_typed_key(plan)
            and self.query_one("#action-typed-key", Input).value.strip() != plan.flag.key
        ):
            return "The typed key does not match the flag key. The cursor is in the typed-key field."
        return None

    def _block(self, field: str, text: str) -> None:
        """Say what blocks applying, mark the field and put the cursor there (never a silent jump)."""
        for widget in self.query(Input):
            widget.set_class(widget.id == field, "invalid")
        self._invalid = field
        self._message(text, "error")
        self.query_one(f"#{field}", Input).focus()

    # -- applying ---------------------------------------------------------------------------------------

    @on(Button.Pressed, "#action-apply")
    def _apply_pressed(self) -> None:
        self.try_apply()

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        # enter moves on to the next field; it never applies by itself
        event.stop()
        self.focus_next()

    def try_apply(self) -> None:
        plan = self.plan
        if plan is None or self.busy or self.applied is not None:
            return
        ops = self.host.ops
        reason = self.query_one("#action-reason", Input).value.strip()
        problem = self._field_problem("action-reason", plan)
        if problem is not None:
            self._block("action-reason", problem)
            return
        try:
            ops.check(plan, reason)
        except Refused as exc:
            self._message(exc.message, "error")
            return
        problem = self._field_problem("action-typed-key", plan)
        if problem is not None:
            self._block("action-typed-key", problem)
            return
        ticket = self.query_one("#action-ticket", Input).value.strip() or None
        self.apply_plan(plan, reason, ticket)

    @work(exclusive=True, group="apply", exit_on_error=False)
    async def apply_plan(self, plan: PlannedChange, reason: str, ticket: str | None) -> None:
        self.busy = True
        self._set_inputs_disabled(True)
        self._message("Applying…", None)
        try:
            # through the ops core: it writes, or opens a change request where the policy holds the change
            submitted = await self.host.ops.approvals.submit(
                plan, reason=reason, ticket=ticket, idempotency_key=self._idempotency_key
            )
        except Conflict as exc:
            self._set_inputs_disabled(False)
            fresh = exc.fresh.state(self.environment) if exc.fresh is not None else None
            if exc.fresh is not None:
                self.host.store.put(exc.fresh)
            now = (
                f"now {describe_state(fresh)} (v{fresh.version}, by {printable(fresh.updated_by or '?', 40)})"
                if fresh is not None
                else "it changed"
            )
            self.replan(f"Someone else changed this flag first: {now}. Check the effect and apply again.")
            return
        except FlagOpsError as exc:
            self._set_inputs_disabled(False)
            self._message(
                f"{exc.message} Nothing was changed unless the audit log says so; "
                "applying again is safe (same idempotency key).",
                "error",
            )
            return
        finally:
            self.busy = False
        governance = self.host.governance
        if submitted.request is not None or submitted.review_id is not None:
            governance.refresh_soon()  # the stream says so too; this console need not wait for it
        if submitted.request is not None:
            self._show_request_opened(submitted.request)
            return
        applied = submitted.applied
        assert applied is not None
        self.applied = applied
        self.host.store.put(applied.flag)
        self._show_result(applied, submitted.review_id)
        if self.host.ops.will_probe(applied):  # the profile's propagation probe: after the kill, never before
            self.probe_clients(applied)

    @work(exclusive=True, group="probe", exit_on_error=False)
    async def probe_clients(self, applied: AppliedChange) -> None:
        """A real client (flagops/probe/) says when the kill was served to clients, under the result."""
        done = str(self.query_one("#action-message", Label).content)
        self._message(f"{done} Probing clients…", "success")
        result = await self.host.ops.probe_effect(applied)
        if result is not None:
            self._message(f"{done} Probe: {result.describe()}.", "success" if result.ok else "warning")

    def _show_request_opened(self, request: ChangeRequest) -> None:
        """Nothing was written: the change waits for approval, on the approvals screen of every console."""
        self._message(request_opened_text(request), "success")
        self._show_close()

    def _show_result(self, applied: AppliedChange, review_id: str | None = None) -> None:
        state = applied.state
        if applied.noop:
            text = f"Nothing to change: already {describe_state(state)}."
        elif applied.confirmed and applied.time_to_effect is not None:
            text = (
                f"Done: now {describe_state(state)} (v{state.version}). Took effect in {applied.time_to_effect:.2f} s."
            )
        else:
            text = (
                f"Written: now {describe_state(state)} (v{state.version}), "
                "but the service did not confirm it is served yet."
            )
        if review_id is not None:
            text += f" {review_opened_text(review_id)}"
        self._message(text, "success")
        self._show_close()

    def _show_close(self) -> None:
        self.query_one("#action-apply").display = False
        self.query_one("#action-cancel").display = False
        close = self.query_one("#action-close", Button)
        close.display = True
        close.focus()

    def _set_inputs_disabled(self, disabled: bool) -> None:
        for widget in self.query(Input):
            widget.disabled = disabled
        self.query_one("#action-apply", Button).disabled = disabled

    def _message(self, text: str, kind: Literal["error", "warning", "success"] | None) -> None:
        label = self.query_one("#action-message", Label)
        label.update(printable(text, 600))
        for name in ("error", "warning", "success"):
            label.set_class(kind == name, name)

    # -- leaving ----------------------------------------------------------------------------------------

    @on(Button.Pressed, "#action-cancel")
    def _cancel_pressed(self) -> None:
        self.action_cancel()

    @on(Button.Pressed, "#action-close")
    def _close_pressed(self) -> None:
        self.dismiss(self.applied)

    def action_cancel(self) -> None:
        if self.busy:
            self.notify("The change is being applied; wait for the result.", severity="warning")
            return
        self.dismiss(self.applied)
