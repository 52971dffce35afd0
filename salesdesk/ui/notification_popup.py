"""The list that drops down from the bell: recent notices, newest first."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import QModelIndex, Qt, Signal
from PySide6.QtWidgets import QFrame, QLabel, QListView, QVBoxLayout, QWidget

from salesdesk.services.notifications import NotificationRow
from salesdesk.ui.notification_model import LEAD_ID_ROLE, NotificationModel


class NotificationPopup(QFrame):
    """A popup list of notifications; a click on one that names a lead opens it.

    Signals:
        lead_requested(int): the person clicked a notification about this lead.
    """

    lead_requested = Signal(int)

    def __init__(self, model: NotificationModel, parent: QWidget | None = None) -> None:
        super().__init__(parent, Qt.WindowType.Popup)
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.model = model
        title = QLabel("<b>Notifications</b>")
        self.empty_label = QLabel(
            "Nothing new. Leads assigned to you, taken away, or coming "
            "due for a call back show up here."
        )
        self.empty_label.setWordWrap(True)
        self.list_view = QListView()
        self.list_view.setModel(model)
        self.list_view.setWordWrap(True)
        self.list_view.setSpacing(3)
        self.list_view.setAlternatingRowColors(True)
        self.list_view.activated.connect(self._on_activated)
        self.list_view.clicked.connect(self._on_activated)
        layout = QVBoxLayout(self)
        layout.addWidget(title)
        layout.addWidget(self.empty_label)
        layout.addWidget(self.list_view)
        self.resize(380, 360)

    def set_rows(self, rows: Sequence[NotificationRow]) -> None:
        self.model.set_rows(rows)
        self.empty_label.setVisible(not rows)
        self.list_view.setVisible(bool(rows))

    def _on_activated(self, index: QModelIndex) -> None:
        lead_id = index.data(LEAD_ID_ROLE)
        if lead_id is not None:
            self.lead_requested.emit(int(lead_id))
            self.hide()
