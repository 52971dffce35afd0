"""The manager's view of the floor: the whole pool, the team, and (admins) appointments.

It only wires the tabs together: a one-line floor summary on top (idle reps,
pools running dry), the message bar, and three tabs. It reloads what it shows
when ``data_changed`` says leads or the team changed — whether this window,
another view or another client made the change — and refreshes the team
figures every minute.
"""

from __future__ import annotations

from PySide6.QtCore import QTimer, Signal
from PySide6.QtWidgets import QLabel, QTabWidget, QVBoxLayout, QWidget

from salesdesk.ui.context import LEADS, RULES, TEAM, AppContext
from salesdesk.ui.manager.appointments_tab import AppointmentsTab
from salesdesk.ui.manager.leads_tab import LeadsTab
from salesdesk.ui.manager.manager_work import FilterChoices, TeamSnapshot, load_choices, load_team
from salesdesk.ui.manager.team_tab import TeamTab, floor_summary
from salesdesk.ui.message_bar import ERROR, MessageBar
from salesdesk.ui.tasks import TaskFailure

TEAM_REFRESH_MS = 60_000
# Another client's change reaches this view at most this often (a busy floor
# changes something every second; the table and charts need not follow each one).
CHANGE_DELAY_MS = 1_500
_ATTENTION = "QLabel { background: rgba(230, 160, 0, 0.22); padding: 4px 8px; border-radius: 4px; }"
_CALM = "QLabel { padding: 4px 8px; }"


class ManagerView(QWidget):
    """Leads, Team and (admins only) Appointments.

    Signals:
        team_loaded(object): a :class:`TeamSnapshot` was shown.
        message_shown(str, str): a message (text, level) was shown in the bar.
    """

    team_loaded = Signal(object)
    message_shown = Signal(str, str)

    def __init__(self, context: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._context = context
        self.summary = QLabel("Reading the floor…")
        self.summary.setWordWrap(True)
        self.summary.setStyleSheet(_CALM)
        self.messages = MessageBar()
        self.leads = LeadsTab(context)
        self.team = TeamTab()
        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        self.tabs.addTab(self.leads, "Leads")
        self.tabs.addTab(self.team, "Team")
        # For the window's File menu.
        self.file_actions = (self.leads.import_action, self.leads.export_action)
        self.appointments: AppointmentsTab | None = None
        if context.actor.role == "admin":
            self.appointments = AppointmentsTab(context)
            self.tabs.addTab(self.appointments, "Appointments")
            self.appointments.message.connect(self.show_message)
            self.appointments.loaded.connect(self._on_appointments_loaded)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 6, 8, 0)
        layout.addWidget(self.summary)
        layout.addWidget(self.messages)
        layout.addWidget(self.tabs, 1)

        self.leads.message.connect(self.show_message)
        self.leads.changed.connect(self.refresh_team)
        context.data_changed.connect(self._on_data_changed)
        self._pending: set[str] = set()
        self._change_timer = QTimer(self)
        self._change_timer.setSingleShot(True)
        self._change_timer.setInterval(CHANGE_DELAY_MS)
        self._change_timer.timeout.connect(self._apply_changes)
        self._team_timer = context.tasks.repeat(
            TEAM_REFRESH_MS,
            load_team,
            context.db,
            context.actor,
            on_done=self._on_team,
            on_error=self._on_failed,
            key="manager.team",
            parent=self,
        )
        self.leads.start()
        self.refresh_choices()
        self.refresh_team()
        if self.appointments is not None:
            self.appointments.reload()

    # --- loading ---

    def refresh_choices(self) -> None:
        self._context.run(
            load_choices, on_done=self._on_choices, on_error=self._on_failed, key="manager.choices"
        )

    def refresh_team(self) -> None:
        self._context.run(
            load_team, on_done=self._on_team, on_error=self._on_failed, key="manager.team"
        )

    def _on_choices(self, choices: FilterChoices) -> None:
        self.leads.set_choices(choices)

    def _on_team(self, snapshot: TeamSnapshot) -> None:
        self.team.show_snapshot(snapshot, self._context.now())
        self.leads.set_held({r.user_id: r.current for r in snapshot.reps})
        text, attention = floor_summary(snapshot)
        self.summary.setText(text)
        self.summary.setStyleSheet(_ATTENTION if attention else _CALM)
        self.team_loaded.emit(snapshot)

    def _on_appointments_loaded(self, waiting: int) -> None:
        if self.appointments is not None:
            index = self.tabs.indexOf(self.appointments)
            self.tabs.setTabText(index, f"Appointments ({waiting})" if waiting else "Appointments")

    def _on_failed(self, failure: TaskFailure) -> None:
        self.show_message(failure.message, ERROR)

    def show_message(self, text: str, level: str) -> None:
        self.messages.show_message(text, level)
        self.message_shown.emit(text, level)

    # --- changes made elsewhere ---

    def _on_data_changed(self, topics: frozenset[str]) -> None:
        wanted = topics & {LEADS, TEAM, RULES}
        if wanted:
            self._pending |= wanted
            if not self._change_timer.isActive():
                self._change_timer.start()

    def _apply_changes(self) -> None:
        topics, self._pending = self._pending, set()
        if LEADS in topics:
            self.leads.refresh_rows()
            if self.appointments is not None:
                self.appointments.reload()
        if TEAM in topics or RULES in topics:
            self.refresh_choices()
        if topics & {LEADS, TEAM}:
            self.refresh_team()
