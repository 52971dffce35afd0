"""The main window: it only wires parts together.

What opens depends on the role: a rep gets the desk; a manager or an admin
gets the manager view (when ``salesdesk.ui.manager.manager_view`` provides
``ManagerView(context, parent=None)``) with their own desk one tab away, and an
admin also gets "Settings…" (when ``salesdesk.ui.settings.settings_dialog``
provides ``SettingsDialog(context, parent)``). Both are imported lazily, so a
missing module only means the window goes without that part.
"""

from __future__ import annotations

import importlib
import logging
from typing import Any

from PySide6.QtCore import QByteArray, Qt, Signal
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence
from PySide6.QtWidgets import QLabel, QMainWindow, QMessageBox, QTabWidget, QVBoxLayout, QWidget

from salesdesk import __version__
from salesdesk.ui.connection_banner import ConnectionBanner
from salesdesk.ui.context import AppContext
from salesdesk.ui.desk.desk_view import DeskView
from salesdesk.ui.notification_bell import NotificationBell
from salesdesk.ui.tasks import TaskFailure
from salesdesk.ui.toast import LeadToast

log = logging.getLogger("salesdesk.ui")

GEOMETRY_KEY = "main_window/geometry"
STATE_KEY = "main_window/state"
MANAGER_VIEW = ("salesdesk.ui.manager.manager_view", "ManagerView")
SETTINGS_DIALOG = ("salesdesk.ui.settings.settings_dialog", "SettingsDialog")


def optional_part(module: str, name: str) -> Any:
    """``module.name`` if that module exists and defines it, else None."""
    try:
        found = importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name and module.startswith(exc.name):
            return None  # the part is simply not there
        raise  # the part is there but one of *its* imports is broken: a bug
    return getattr(found, name, None)


class MainWindow(QMainWindow):
    """The signed-in person's window.

    Signals:
        sign_out_requested(): "Sign out" was chosen; the app shows the login again.
        connect_requested(): "Connect to a team's database…" was chosen.
    """

    sign_out_requested = Signal()
    connect_requested = Signal()

    def __init__(self, context: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._context = context
        actor = context.actor
        self.setWindowTitle(f"SalesDesk — {actor.display_name}")
        self.desk: DeskView | None = None
        self.manager_view: QWidget | None = None
        self.tabs: QTabWidget | None = None
        self._settings_class = None

        manager_class = optional_part(*MANAGER_VIEW) if actor.is_manager else None
        if manager_class is not None:
            self.manager_view = manager_class(context, parent=None)
            self.tabs = QTabWidget()
            self.tabs.setDocumentMode(True)
            self.tabs.addTab(self.manager_view, "Floor")
            self.tabs.addTab(QWidget(), "My desk")  # the desk is built on first visit
            self.tabs.currentChanged.connect(self._on_tab_changed)
            content: QWidget = self.tabs
        else:
            self.desk = DeskView(context)
            content = self.desk

        self.banner = ConnectionBanner(context)
        central = QWidget()
        layout = QVBoxLayout(central)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.banner)
        layout.addWidget(content, 1)
        self.setCentralWidget(central)

        self.bell = NotificationBell(context)
        self.bell.lead_requested.connect(self.open_lead)
        self.menuBar().setCornerWidget(self.bell, Qt.Corner.TopRightCorner)
        self.toast = LeadToast(central)
        context.lead_notices_arrived.connect(self.toast.show_notices)
        self.toast.lead_requested.connect(self.open_my_lead)
        self.toast.list_requested.connect(self.bell.open_list)
        self._build_menus()

        where = "this computer's floor" if context.embedded else "the team's database"
        self.statusBar().addPermanentWidget(
            QLabel(f"{actor.display_name} ({actor.role}) · {where}")
        )
        context.tasks.failed.connect(self._on_unhandled_failure)
        self._restore_geometry()
        if self.desk is not None:
            self.toast.keep_clear_of(self.desk.action_bar)
            self.desk.refresh()

    # --- parts ----------------------------------------------------------------------------

    def _build_menus(self) -> None:
        actor = self._context.actor
        file_menu = self.menuBar().addMenu("&File")
        connect = QAction(
            "Connect to a team's database…" if self._context.embedded else "Change database…",
            self,
        )
        connect.triggered.connect(self.connect_requested)
        file_menu.addAction(connect)
        file_actions = getattr(self.manager_view, "file_actions", ())
        if file_actions:
            file_menu.addSeparator()
            file_menu.addActions(list(file_actions))
        if actor.role == "admin":
            settings_class = optional_part(*SETTINGS_DIALOG)
            if settings_class is not None:
                self._settings_class = settings_class
                settings = QAction("Settings…", self)
                settings.setMenuRole(QAction.MenuRole.PreferencesRole)
                settings.triggered.connect(self.open_settings)
                file_menu.addAction(settings)
        file_menu.addSeparator()
        sign_out = QAction("Sign out", self)
        sign_out.triggered.connect(self.sign_out_requested)
        file_menu.addAction(sign_out)
        quit_action = QAction("Quit", self)
        quit_action.setShortcut(QKeySequence(QKeySequence.StandardKey.Quit))
        quit_action.triggered.connect(self.close)
        file_menu.addAction(quit_action)

        self._lead_menu = self.menuBar().addMenu("&Lead")
        if self.desk is not None:
            self._fill_lead_menu(self.desk)
        else:
            open_desk = QAction("Open my desk", self)
            open_desk.triggered.connect(self.show_desk)
            self._lead_menu.addAction(open_desk)

        help_menu = self.menuBar().addMenu("&Help")
        about = QAction("About SalesDesk", self)
        about.triggered.connect(self._show_about)
        help_menu.addAction(about)

    def _fill_lead_menu(self, desk: DeskView) -> None:
        c = desk.commands
        self._lead_menu.clear()
        self._lead_menu.addAction(c.next_lead)
        self._lead_menu.addSeparator()
        for action in c.lead_actions:
            self._lead_menu.addAction(action)
        self._lead_menu.addSeparator()
        for action in (c.call, c.find, c.show_current, c.show_call_backs, c.refresh):
            self._lead_menu.addAction(action)

    def show_desk(self) -> DeskView:
        """The signed-in person's own desk (a tab for managers and admins)."""
        if self.tabs is None:
            assert self.desk is not None
            return self.desk
        if self.desk is None:
            self.desk = DeskView(self._context)
            self.tabs.blockSignals(True)
            placeholder = self.tabs.widget(1)
            self.tabs.removeTab(1)
            placeholder.deleteLater()
            self.tabs.insertTab(1, self.desk, "My desk")
            self.tabs.blockSignals(False)
            self._fill_lead_menu(self.desk)
            self.desk.refresh()
        self.tabs.setCurrentWidget(self.desk)
        self.toast.keep_clear_of(self.desk.action_bar)
        self.desk.set_active(True)
        return self.desk

    def _on_tab_changed(self, index: int) -> None:
        if index == 1:
            self.show_desk()
        elif self.desk is not None:
            self.desk.set_active(False)

    def open_lead(self, lead_id: int) -> None:
        """A notification named a lead: show it on the desk (reps' own leads)."""
        if self.desk is None and self.manager_view is not None:
            return  # a manager's notices (appointments) belong to the manager view
        self.show_desk().show_lead(lead_id)

    def open_my_lead(self, lead_id: int) -> None:
        """A toast named a lead given to this person: it is on their own desk."""
        self.show_desk().show_lead(lead_id)

    def open_settings(self) -> None:
        if self._settings_class is not None:
            dialog = self._settings_class(self._context, self)
            dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
            dialog.open()

    def _on_unhandled_failure(self, failure: TaskFailure) -> None:
        self.statusBar().showMessage(failure.message, 15_000)

    def _show_about(self) -> None:
        QMessageBox.about(
            self,
            "About SalesDesk",
            f"<b>SalesDesk {__version__}</b><p>Lead allocation for a sales call floor.</p>",
        )

    # --- geometry ---------------------------------------------------------------------------

    def _restore_geometry(self) -> None:
        settings = self._context.settings
        geometry = settings.value(GEOMETRY_KEY)
        if isinstance(geometry, QByteArray) and not geometry.isEmpty():
            self.restoreGeometry(geometry)
        else:
            self.resize(1280, 800)
        state = settings.value(STATE_KEY)
        if isinstance(state, QByteArray) and not state.isEmpty():
            self.restoreState(state)

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt override
        if self.desk is not None and self.desk.save_draft_then(self.close):
            event.ignore()  # closes again once the note the rep typed is saved
            return
        self._context.settings.setValue(GEOMETRY_KEY, self.saveGeometry())
        self._context.settings.setValue(STATE_KEY, self.saveState())
        super().closeEvent(event)
