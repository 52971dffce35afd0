"""Stand-ins for the manager view and the settings dialog (built in another issue).

The main window's contract is only that it finds ``ManagerView(context, parent)``
and ``SettingsDialog(context, parent)`` by module path; these prove the wiring.
"""

from __future__ import annotations

from PySide6.QtWidgets import QDialog, QLabel, QVBoxLayout, QWidget


class ManagerView(QWidget):
    def __init__(self, context, parent=None) -> None:
        super().__init__(parent)
        self.context = context
        QVBoxLayout(self).addWidget(QLabel("the floor"))


class SettingsDialog(QDialog):
    opened: list[SettingsDialog] = []

    def __init__(self, context, parent=None) -> None:
        super().__init__(parent)
        self.context = context
        SettingsDialog.opened.append(self)
