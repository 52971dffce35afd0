"""The bell: how many notices are unread, and the list of them one click away."""

from __future__ import annotations

import shiboken6
from PySide6.QtCore import QEvent, QPoint, QSize, Qt, Signal
from PySide6.QtGui import QFont, QPalette
from PySide6.QtWidgets import QToolButton, QWidget

from salesdesk.services import notifications
from salesdesk.services.notifications import NotificationRow
from salesdesk.ui.context import NOTIFICATIONS, AppContext
from salesdesk.ui.icons import bell_icon
from salesdesk.ui.notification_model import NotificationModel
from salesdesk.ui.notification_popup import NotificationPopup

LIST_LIMIT = 50
# Counts above this show as "99+": the widest the bell ever gets.
MAX_SHOWN = 99
WIDEST = f"{MAX_SHOWN}+"


class NotificationBell(QToolButton):
    """A bell with the unread count; opening it shows the list and marks all read.

    Signals:
        lead_requested(int): a notification about this lead was clicked.
    """

    lead_requested = Signal(int)

    def __init__(self, context: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._widest: tuple[str, QSize] | None = None  # (bold font, size for WIDEST)
        self._context = context
        self.setIcon(bell_icon(self.palette().color(QPalette.ColorRole.ButtonText)))
        self.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.setAutoRaise(True)
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.model = NotificationModel(context.now, self)
        self.popup = NotificationPopup(self.model, self)
        self.popup.lead_requested.connect(self.lead_requested)
        self.clicked.connect(self.open_list)
        context.unread_changed.connect(self._show_count)
        context.data_changed.connect(self._on_data_changed)
        self._show_count(context.unread)

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt override
        # A menu bar lays out its corner widget when the bar itself is laid out
        # (shown, resized), not when the widget's text changes; a bell sized for
        # no count kept that width and cut a later "12" to "…". So it asks, from
        # the start, for the room its widest count takes.
        return super().sizeHint().expandedTo(self._widest_hint())

    def changeEvent(self, event: QEvent) -> None:  # noqa: N802 - Qt override
        if event.type() in (QEvent.Type.FontChange, QEvent.Type.StyleChange):
            self._widest = None
        super().changeEvent(event)

    def _widest_hint(self) -> QSize:
        font = QFont(self.font())
        font.setBold(True)
        key = font.toString()
        if self._widest is None or self._widest[0] != key:
            probe = QToolButton()
            probe.setToolButtonStyle(self.toolButtonStyle())
            probe.setAutoRaise(self.autoRaise())
            probe.setIcon(self.icon())
            probe.setIconSize(self.iconSize())
            probe.setFont(font)
            probe.setText(WIDEST)
            self._widest = (key, probe.sizeHint())
            shiboken6.delete(probe)
        return self._widest[1]

    def _show_count(self, unread: int) -> None:
        self.setText("" if not unread else WIDEST if unread > MAX_SHOWN else f"{unread}")
        self.setToolTip(
            f"Notifications: {unread} unread" if unread else "Notifications: nothing unread"
        )
        font = self.font()
        font.setBold(unread > 0)
        self.setFont(font)

    def open_list(self) -> None:
        self._context.run(
            notifications.list_notifications,
            LIST_LIMIT,
            on_done=self._on_listed,
            key="bell.list",
            busy=[self],
        )

    def _on_listed(self, rows: list[NotificationRow]) -> None:
        self.popup.set_rows(rows)
        below = self.mapToGlobal(QPoint(self.width() - self.popup.width(), self.height()))
        self.popup.move(below)
        self.popup.show()
        if any(not r.read for r in rows):
            self._context.run(
                notifications.mark_all_read,
                on_done=lambda _: self._context.set_unread(0),
                key="bell.read",
            )

    def _on_data_changed(self, topics: frozenset[str]) -> None:
        if NOTIFICATIONS in topics and self.popup.isVisible():
            self.open_list()
