"""The rep's desk: search and Next, the two lists, the lead panel and the action bar.

Every database call goes through the context's task runner; this widget only
decides what to ask and how to show the answer. The lead on screen is the
one the rep last chose (``_selected_id``); an answer about any other lead never
replaces the panel, so a slow reply cannot paint over a newer choice.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QEvent, QItemSelectionModel, QModelIndex, Qt, QTimer, QUrl, Signal
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLineEdit,
    QSplitter,
    QTableView,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from salesdesk.services import actions, leads
from salesdesk.services.desk import DeskSnapshot, load_desk
from salesdesk.services.errors import LeadChangedError, NotAllowedError, NotFoundError
from salesdesk.services.records import ClaimResult, LeadDetail, LeadRow
from salesdesk.ui.context import LEADS, MY_LEADS, AppContext
from salesdesk.ui.desk.action_bar import ActionBar, action_button
from salesdesk.ui.desk.appointment_dialog import AppointmentDialog
from salesdesk.ui.desk.call_back_dialog import CallBackDialog
from salesdesk.ui.desk.dead_dialog import DeadDialog
from salesdesk.ui.desk.desk_actions import build_desk_actions
from salesdesk.ui.desk.desk_work import (
    ActionOutcome,
    act_and_load,
    claim_and_load,
    contact_and_load,
    note_and_load,
)
from salesdesk.ui.desk.lead_list_model import CALL_BACKS, CURRENT, LeadListModel
from salesdesk.ui.desk.lead_panel import LeadPanel, tel_uri_number
from salesdesk.ui.message_bar import ERROR, INFO, WARNING, MessageBar
from salesdesk.ui.tasks import Task, TaskFailure
from salesdesk.ui.timefmt import format_datetime

SEARCH_DELAY_MS = 250
# The widest text a column usually holds (column widths are set from these once).
COLUMN_SAMPLES = {
    "Company": "Northwind Traders",
    "Phone": "+1 555 555 5555",
    "Assigned": "Wed 30 Sep 09:30",
    "Due": "⚠ Wed 30 Sep 09:30",
}
# The Name column takes the room left and gives way first in a narrow window, but
# never below this (the list scrolls sideways instead): a rep works by name.
NAME_SAMPLE = "Hannah Kowalski"
WORKABLE = ("current", "callback")
EMPTY_CURRENT_HINT = " Your Current list is empty — press Next (N) for another lead."


class DeskView(QWidget):
    """The whole desk for the signed-in person.

    Signals:
        lead_shown(int): a lead's details are on screen.
        snapshot_applied(): the lists were reloaded and shown.
        message_shown(str, str): a message (text, level) was shown in the bar.
    """

    lead_shown = Signal(int)
    snapshot_applied = Signal()
    message_shown = Signal(str, str)

    def __init__(self, context: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._context = context
        self._selected_id: int | None = None
        self._syncing = False
        self._active = True
        self._running: dict[str, Task] = {}
        # Clicks whose outcome is unknown (the database went away mid-call):
        # repeating the same action on the same lead reuses the click's id, so
        # if the first attempt did commit, the service answers with it instead
        # of doing it twice (no second email).
        self._unsettled: dict[tuple[str, int] | tuple[str, int, str], str] = {}
        self._dialog: Any = None
        self._first_snapshot = True
        self._mail_server_set = True

        self.commands = build_desk_actions(self)
        self.addActions(list(self.commands.all()))
        c = self.commands
        c.next_lead.triggered.connect(self.take_next)
        c.dead.triggered.connect(self._on_dead_triggered)
        c.call_back.triggered.connect(self._on_call_back_triggered)
        c.email_confirmed.triggered.connect(self._on_email_confirmed_triggered)
        c.appointment.triggered.connect(self._on_appointment_triggered)
        c.call.triggered.connect(self._on_call_triggered)
        c.find.triggered.connect(self._on_find_triggered)
        c.refresh.triggered.connect(self.refresh)
        c.show_current.triggered.connect(lambda: self._show_tab(0))
        c.show_call_backs.triggered.connect(lambda: self._show_tab(1))

        self.search_edit = QLineEdit()
        self.search_edit.setPlaceholderText(
            "Search your leads: name, company, email or phone   (Ctrl+F)"
        )
        self.search_edit.setClearButtonEnabled(True)
        self.search_edit.setToolTip("Searches your Current and Call backs lists (Ctrl+F)")
        self.search_edit.textChanged.connect(self._on_search_changed)
        self.search_edit.returnPressed.connect(self._focus_list)
        self.search_edit.installEventFilter(self)  # Down arrow: on into the list
        self._search_timer = QTimer(self)
        self._search_timer.setSingleShot(True)
        self._search_timer.setInterval(SEARCH_DELAY_MS)
        self._search_timer.timeout.connect(self.refresh)
        self.next_button = action_button(c.next_lead)
        self.next_button.setObjectName("nextButton")
        font = self.next_button.font()
        font.setBold(True)
        self.next_button.setFont(font)
        self.next_button.setMinimumWidth(150)

        self.message_bar = MessageBar()

        self.current_model = LeadListModel(CURRENT, context.now, self)
        self.call_back_model = LeadListModel(CALL_BACKS, context.now, self)
        self.current_view = self._list_view(self.current_model)
        self.call_back_view = self._list_view(self.call_back_model)
        self.tabs = QTabWidget()
        self.tabs.addTab(self.current_view, "Current")
        self.tabs.addTab(self.call_back_view, "Call backs")
        self.tabs.setTabToolTip(0, "Leads you are working now (Ctrl+1)")
        self.tabs.setTabToolTip(1, "Leads to call back later, soonest first (Ctrl+2)")
        self.tabs.currentChanged.connect(self._on_tab_changed)

        self.panel = LeadPanel()
        self.panel.call_requested.connect(self._on_call_requested)
        self.panel.note_submitted.connect(self._on_note_submitted)
        self.panel.draft_left.connect(self._save_draft)
        self.action_bar = ActionBar(c.lead_actions)

        top = QHBoxLayout()
        top.addWidget(self.search_edit, 1)
        top.addWidget(self.next_button)
        right = QWidget()
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(6, 0, 0, 0)
        right_layout.addWidget(self.panel, 1)
        right_layout.addWidget(self.action_bar)
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(self.tabs)
        splitter.addWidget(right)
        splitter.setStretchFactor(0, 2)
        splitter.setStretchFactor(1, 3)
        splitter.setChildrenCollapsible(False)
        splitter.setSizes([520, 740])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 8, 8)
        layout.addLayout(top)
        layout.addWidget(self.message_bar)
        layout.addWidget(splitter, 1)

        context.data_changed.connect(self._on_data_changed)
        context.tasks.task_finished.connect(self._on_task_finished)
        self.setFocusProxy(self.current_view)
        self._update_commands()

    def _list_view(self, model: LeadListModel) -> QTableView:
        view = QTableView()
        view.setModel(model)
        view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        view.setAlternatingRowColors(True)
        view.setWordWrap(False)
        view.verticalHeader().hide()
        # The open lead stays clearly marked while the rep types a note elsewhere.
        palette = view.palette()
        for role in (QPalette.ColorRole.Highlight, QPalette.ColorRole.HighlightedText):
            palette.setColor(
                QPalette.ColorGroup.Inactive, role, palette.color(QPalette.ColorGroup.Active, role)
            )
        view.setPalette(palette)
        # Widths from the font, set once: ResizeToContents would read every cell of
        # the list again on each change and selection (most of a Next click's cost).
        header = view.horizontalHeader()
        header.setHighlightSections(False)
        metrics = view.fontMetrics()
        header.setMinimumSectionSize(metrics.horizontalAdvance(NAME_SAMPLE) + 16)
        for column, name in enumerate(model.columns):
            if name == "Name":
                header.setSectionResizeMode(column, QHeaderView.ResizeMode.Stretch)
                continue
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.Interactive)
            header.resizeSection(column, metrics.horizontalAdvance(COLUMN_SAMPLES[name]) + 16)
        view.selectionModel().currentRowChanged.connect(
            lambda current, _previous, m=model, v=view: self._on_row_changed(m, v, current)
        )
        return view

    # --- public -------------------------------------------------------------------------

    @property
    def selected_lead_id(self) -> int | None:
        return self._selected_id

    def set_active(self, active: bool) -> None:
        """Enable or disable every command (a manager's desk tab going off screen)."""
        self._active = active
        self._update_commands()

    def refresh(self) -> None:
        """Reload both lists (and the lead on screen) from the database."""
        asked = self._selected_id
        self._submit(
            "load",
            load_desk,
            self.search_edit.text().strip(),
            asked,
            on_done=lambda snapshot: self._on_snapshot(snapshot, asked),
            on_error=lambda failure: self._on_failed(failure, reload=False),
            owner=self,
        )

    def show_lead(self, lead_id: int) -> None:
        """Open a lead (from a notification); lists are reloaded with it."""
        self._selected_id = lead_id
        self.refresh()

    def take_next(self) -> None:
        """Next: claim a lead from the pool and open it."""
        if self.is_busy("next") or not self._active:
            return
        if self.search_edit.text():
            # The new lead must be visible: a search may hide it.
            self._search_timer.stop()
            self.search_edit.blockSignals(True)
            self.search_edit.clear()
            self.search_edit.blockSignals(False)
        request_id, on_done, on_error = self._click(("claim_next_lead", 0), self._on_claimed)
        self._submit("next", claim_and_load, request_id, on_done=on_done, on_error=on_error)

    def _click(
        self, click: tuple[str, int] | tuple[str, int, str], on_done: Callable[[Any], None]
    ) -> tuple[str, Callable[[Any], None], Callable[[TaskFailure], None]]:
        """A click's request id, and callbacks that forget it once its outcome is known.

        Until then (the database went away mid-call) the same click on the
        same lead reuses the id, so a retry is answered with the first
        attempt's outcome if that one did commit.
        """
        request_id = self._unsettled.setdefault(click, uuid.uuid4().hex)

        def done(answer: Any) -> None:
            self._unsettled.pop(click, None)
            on_done(answer)

        def failed(failure: TaskFailure) -> None:
            if not failure.database_unavailable:
                self._unsettled.pop(click, None)  # clearly not done: a new click is new
            self._on_failed(failure)

        return request_id, done, failed

    def is_busy(self, kind: str) -> bool:
        task = self._running.get(kind)
        return task is not None and not task.finished

    def show_message(self, text: str, level: str = INFO) -> None:
        self.message_bar.show_message(text, level)
        self.message_shown.emit(text, level)

    # --- running calls --------------------------------------------------------------------

    def _submit(self, kind: str, fn: Any, *args: Any, **options: Any) -> Task:
        options.setdefault("on_error", self._on_failed)
        task = self._context.run(fn, *args, key=f"desk.{id(self)}.{kind}", **options)
        self._running[kind] = task
        self._update_commands()
        return task

    def _on_task_finished(self, task: Task) -> None:
        if task in self._running.values():
            self._update_commands()

    def _update_commands(self) -> None:
        c = self.commands
        detail = self.panel.detail
        workable = detail is not None and detail.lead.status in WORKABLE
        acting = self.is_busy("action")
        c.next_lead.setEnabled(self._active and not self.is_busy("next"))
        for action in c.lead_actions:
            action.setEnabled(self._active and workable and not acting)
        c.call.setEnabled(
            self._active and workable and bool(detail and detail.lead.phone) and not acting
        )
        self.panel.add_note_button.setEnabled(detail is not None and not self.is_busy("note"))
        for action in (c.find, c.refresh, c.show_current, c.show_call_backs):
            action.setEnabled(self._active)

    # --- answers ------------------------------------------------------------------------------

    def _on_snapshot(self, snapshot: DeskSnapshot, asked: int | None) -> None:
        self._apply(snapshot)
        if asked is not None and snapshot.detail is None and asked == self._selected_id:
            # The lead on screen left this rep's lists (reassigned, returned, removed).
            shown = self.panel.detail
            name = shown.lead.name if shown and shown.lead.id == asked else "That lead"
            self._selected_id = None
            self.panel.show_detail(None)
            self._update_commands()
            self.show_message(
                f"{name} is no longer in your lists: a manager reassigned it or it went back "
                "to the pool.",
                WARNING,
            )
            if snapshot.current:  # land on work, as after an action
                self._open(snapshot.current[0])

    def _apply(self, snapshot: DeskSnapshot) -> None:
        self._mail_server_set = snapshot.mail_server_set
        self._context.set_unread(snapshot.unread)
        self.current_model.set_rows(snapshot.current)
        self.call_back_model.set_rows(snapshot.call_backs)
        overdue = sum(1 for r in snapshot.call_backs if self.call_back_model.is_overdue(r))
        self.tabs.setTabText(0, f"Current ({len(snapshot.current)})")
        self.tabs.setTabText(
            1,
            f"Call backs ({len(snapshot.call_backs)}"
            + (f", {overdue} overdue)" if overdue else ")"),
        )
        if self._first_snapshot:
            self._first_snapshot = False
            if self._selected_id is None and snapshot.current:
                # A shift starts on the oldest Current lead, not on an empty panel.
                self._open(snapshot.current[0])
        detail = snapshot.detail
        if detail is not None and detail.lead.id == self._selected_id:
            self._show(detail)
        self._select_in_lists(self._selected_id)
        search = self.search_edit.text().strip()
        if search and not snapshot.current and not snapshot.call_backs:
            # Two empty lists would otherwise read as "you have no leads".
            self.show_message(
                f"No leads in your lists match “{search}”. Esc clears the search.", INFO
            )
        self.snapshot_applied.emit()

    def _show(self, detail: LeadDetail) -> None:
        self.panel.show_detail(detail)
        self._update_commands()
        self.lead_shown.emit(detail.lead.id)

    def _on_claimed(self, answer: tuple[ClaimResult, DeskSnapshot]) -> None:
        claim, snapshot = answer
        if claim.lead is not None:
            self._selected_id = claim.lead.id
            self._show_tab(0)
        self._apply(snapshot)
        if claim.lead is None:
            self.show_message(claim.message, WARNING)
        elif claim.from_callback:
            self.show_message(f"A call back is due: {claim.lead.name} is back in Current.", INFO)
        else:
            self.message_bar.clear()
        if claim.lead is not None:
            self._context.announce(LEADS)  # for other views; this desk is up to date
        self._focus_list()

    def _on_detail(self, detail: LeadDetail) -> None:
        if detail.lead.id == self._selected_id:
            self._show(detail)

    def _on_failed(self, failure: TaskFailure, reload: bool = True) -> None:
        """Say what went wrong; after a refused click, show where things stand now.

        ``reload`` is off when the failed call was the reload itself: a
        deactivated account is refused every reload, and reloading again
        would loop.
        """
        if failure.is_bug or failure.database_unavailable:
            self.show_message(failure.message, ERROR)
        else:
            self.show_message(failure.message, WARNING)
        refused = isinstance(failure.error, LeadChangedError | NotFoundError | NotAllowedError)
        if reload and refused:
            self.refresh()  # the lead moved on: show where things stand now

    # --- selection ----------------------------------------------------------------------------

    def _on_row_changed(self, model: LeadListModel, view: QTableView, current: QModelIndex) -> None:
        if self._syncing:
            return
        lead = model.lead_at(current.row()) if current.isValid() else None
        if lead is None:
            return
        if not view.selectionModel().isRowSelected(current.row()):
            # Focus arriving on a list moves its current row without selecting it.
            self._syncing = True
            _select_row(view, model, current.row())
            self._syncing = False
        if lead.id != self._selected_id:
            self._open(lead)

    def _open(self, lead: LeadRow) -> None:
        self._selected_id = lead.id
        self._submit("detail", leads.get_lead, lead.id, on_done=self._on_detail)

    def _select_in_lists(self, lead_id: int | None) -> None:
        self._syncing = True
        try:
            for index, (model, view) in enumerate(
                (
                    (self.current_model, self.current_view),
                    (self.call_back_model, self.call_back_view),
                )
            ):
                row = model.row_of(lead_id) if lead_id is not None else -1
                if row < 0:
                    view.selectionModel().clear()
                    continue
                _select_row(view, model, row)
                if self.tabs.currentIndex() != index:
                    self.tabs.setCurrentIndex(index)
        finally:
            self._syncing = False

    def _on_tab_changed(self, index: int) -> None:
        if self._syncing:
            return
        model, view = (
            (self.current_model, self.current_view)
            if index == 0
            else (self.call_back_model, self.call_back_view)
        )
        if model.row_of(self._selected_id or -1) >= 0:
            return
        row = view.currentIndex().row() if view.currentIndex().isValid() else 0
        lead = model.lead_at(row)
        if lead is not None:
            self._syncing = True
            _select_row(view, model, row)
            self._syncing = False
            self._open(lead)

    def _show_tab(self, index: int) -> None:
        self.tabs.setCurrentIndex(index)
        self._focus_list()

    def _focus_list(self) -> None:
        view = self.current_view if self.tabs.currentIndex() == 0 else self.call_back_view
        view.setFocus(Qt.FocusReason.OtherFocusReason)

    # --- the four actions -------------------------------------------------------------------

    def _lead_to_act_on(self) -> LeadRow | None:
        detail = self.panel.detail
        if not self._active or self.is_busy("action") or detail is None:
            return None
        if detail.lead.status not in WORKABLE:
            return None
        return detail.lead

    def _then_open(self, lead_id: int) -> int | None:
        """The lead to open after acting on ``lead_id``: the next one in Current."""
        ids = [r.id for r in self.current_model.rows]
        if lead_id not in ids:
            return ids[0] if ids else None
        i = ids.index(lead_id)
        rest = ids[i + 1 :] + ids[:i]
        return rest[0] if rest else None

    def _act(
        self,
        action: Any,
        lead: LeadRow,
        args: tuple[Any, ...],
        done_text: str,
        stay: bool = False,
    ) -> None:
        """Run an action on ``lead``; then show the next Current lead, or (``stay``) this one.

        A note typed but not added is saved first (the worker runs calls in
        order), while the lead is still the rep's to write on.
        """
        draft = self.panel.take_draft() if self.panel.lead_id == lead.id else ""
        if draft:
            self._save_draft(lead.id, draft)
        then_open = lead.id if stay else self._then_open(lead.id)

        def acted(outcome: ActionOutcome) -> None:
            self._selected_id = outcome.snapshot.detail.lead.id if outcome.snapshot.detail else None
            if self._selected_id is None:
                self.panel.show_detail(None)
            self._show_tab(0)
            self._apply(outcome.snapshot)
            hint = EMPTY_CURRENT_HINT if not outcome.snapshot.current else ""
            self.show_message(done_text + hint, INFO)
            self._update_commands()
            self._context.announce(LEADS)  # this desk is already up to date

        request_id, on_done, on_error = self._click((action.__name__, lead.id), acted)
        self._submit(
            "action",
            act_and_load,
            action,
            lead.id,
            args,
            self.search_edit.text().strip(),
            then_open,
            request_id,
            on_done=on_done,
            on_error=on_error,
        )

    def _on_dead_triggered(self) -> None:
        lead = self._lead_to_act_on()
        if lead is None:
            return
        dialog = DeadDialog(lead.name, self)
        dialog.accepted.connect(
            lambda: self._act(
                actions.mark_dead, lead, (dialog.reason(),), f"{lead.name} marked dead."
            )
        )
        self._open_dialog(dialog)

    def _on_call_back_triggered(self) -> None:
        lead = self._lead_to_act_on()
        if lead is None:
            return
        dialog = CallBackDialog(lead.name, self._context.now, self)

        def accepted() -> None:
            when = dialog.chosen_utc()
            self._act(
                actions.schedule_call_back,
                lead,
                (when,),
                f"{lead.name}: call back {format_datetime(when)}. "
                "The lead waits in Call backs until then.",
            )

        dialog.accepted.connect(accepted)
        self._open_dialog(dialog)

    def _on_email_confirmed_triggered(self) -> None:
        lead = self._lead_to_act_on()
        if lead is not None:
            self._act(
                actions.confirm_email,
                lead,
                (),
                self._confirmation_text(lead),
                stay=True,  # the rep is still with this lead (a note, the call itself)
            )

    def _confirmation_text(self, lead: LeadRow) -> str:
        """What Email Confirmed says: sent on, or waiting until a mail server is set up."""
        if self._mail_server_set:
            return (
                f"Confirmation email to {lead.email} is on its way; {lead.name} stays in Current."
            )
        return (
            f"Confirmation email to {lead.email} is queued: no mail server is set up yet, so it "
            f"goes out once an admin adds one (Settings → Mail server). {lead.name} stays in "
            "Current."
        )

    def _on_appointment_triggered(self) -> None:
        lead = self._lead_to_act_on()
        if lead is None:
            return
        dialog = AppointmentDialog(lead.name, self)
        dialog.accepted.connect(
            lambda: self._act(
                actions.make_appointment,
                lead,
                (),
                f"Appointment made for {lead.name}: handed to the admin team.",
            )
        )
        self._open_dialog(dialog)

    def _open_dialog(self, dialog: Any) -> None:
        self._dialog = dialog
        dialog.finished.connect(dialog.deleteLater)
        dialog.open()
        dialog.activateWindow()  # the keyboard goes with it (Enter confirms, Esc cancels)

    # --- phone, notes, search --------------------------------------------------------------

    def _on_call_triggered(self) -> None:
        if self._lead_to_act_on() is not None:
            self.panel.call()

    def _on_call_requested(self, lead_id: int, phone: str) -> None:
        self._context.open_url(QUrl(f"tel:{tel_uri_number(phone)}"))
        self._submit(
            "call",
            contact_and_load,
            lead_id,
            self.search_edit.text().strip(),
            on_done=self._on_snapshot_outcome,
        )

    def _on_note_submitted(self, lead_id: int, text: str) -> None:
        if self.is_busy("note"):
            return

        # The box empties at once, so opening another lead meanwhile does not
        # save the same words again as a left draft; a failure gives them back.
        self.panel.take_draft()
        # The text is part of the click: pressing Add note again after a lost
        # answer reuses the id, but an edited note is a new note.
        request_id, on_done, on_error = self._click(
            ("add_note", lead_id, text), self._on_snapshot_outcome
        )

        def failed(failure: TaskFailure) -> None:
            on_error(failure)
            if self.panel.lead_id == lead_id and not self.panel.note_edit.toPlainText().strip():
                self.panel.note_edit.setPlainText(text)
            else:
                self.show_message(
                    f"Your note was not saved ({failure.message}) Its text: {text}", WARNING
                )

        self._submit(
            "note",
            note_and_load,
            lead_id,
            text,
            self.search_edit.text().strip(),
            request_id,
            on_done=on_done,
            on_error=failed,
        )

    def save_draft_then(self, then: Callable[[], None]) -> bool:
        """Save a note typed but not added, then call ``then``; False if there is none.

        The window asks before it closes, so signing out or quitting keeps the note.
        """
        lead_id = self.panel.lead_id
        draft = self.panel.take_draft() if lead_id is not None else ""
        if lead_id is None or not draft:
            return False
        self._save_draft(lead_id, draft, then)
        return True

    def _save_draft(self, lead_id: int, text: str, then: Callable[[], None] | None = None) -> None:
        """Keep a note the rep typed and then left: saved as it is, and said so."""
        name = self._lead_name(lead_id)

        def saved(_note: Any) -> None:
            self.show_message(f"Your note on {name} was saved.", INFO)
            if then is not None:
                then()

        def failed(failure: TaskFailure) -> None:
            # Nothing is lost: the words come back with the reason.
            self.show_message(
                f"Your note on {name} could not be saved ({failure.message}) Its text: {text}",
                WARNING,
            )

        self._context.run(
            actions.add_note,
            lead_id,
            text,
            on_done=saved,
            on_error=failed,
            owner=self,
        )

    def _lead_name(self, lead_id: int) -> str:
        shown = self.panel.detail
        if shown is not None and shown.lead.id == lead_id:
            return shown.lead.name
        for model in (self.current_model, self.call_back_model):
            row = model.row_of(lead_id)
            if row >= 0:
                lead = model.lead_at(row)
                if lead is not None:
                    return lead.name
        return "the lead you left"

    def _on_snapshot_outcome(self, outcome: ActionOutcome) -> None:
        self._apply(outcome.snapshot)

    def _on_find_triggered(self) -> None:
        self.search_edit.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.search_edit.selectAll()

    def _on_search_changed(self, _text: str) -> None:
        self._search_timer.start()

    def _on_data_changed(self, topics: frozenset[str]) -> None:
        if MY_LEADS in topics and not self.is_busy("action") and not self.is_busy("next"):
            self.refresh()

    def eventFilter(self, watched: Any, event: Any) -> bool:  # noqa: N802 - Qt override
        if (
            watched is self.search_edit
            and event.type() == QEvent.Type.KeyPress
            and event.key() == Qt.Key.Key_Down
        ):
            self._focus_list()
            return True
        return super().eventFilter(watched, event)

    def keyPressEvent(self, event: Any) -> None:  # noqa: N802 - Qt override
        if event.key() == Qt.Key.Key_Escape and self.search_edit.hasFocus():
            self.search_edit.clear()
            self._focus_list()
            return
        super().keyPressEvent(event)


def _select_row(view: QTableView, model: LeadListModel, row: int) -> None:
    """Select a whole row through the selection model.

    ``QTableView.selectRow`` finds its column through the header, which has no
    geometry yet on a tab page never shown, and then selects nothing.
    """
    index = model.index(row, 0)
    view.selectionModel().setCurrentIndex(
        index,
        QItemSelectionModel.SelectionFlag.ClearAndSelect | QItemSelectionModel.SelectionFlag.Rows,
    )
    view.scrollTo(index)
