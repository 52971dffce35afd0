"""Appointment asks first: it emails the admin team and takes the lead off the rep's lists."""

from __future__ import annotations

import html

from PySide6.QtWidgets import QDialog, QDialogButtonBox, QLabel, QVBoxLayout, QWidget


class AppointmentDialog(QDialog):
    """ "Hand this lead to the admin team?"; Enter confirms, Esc cancels.

    One key (A) would otherwise send an email and move the lead for good: the
    rep cannot take it back, only an admin can.
    """

    def __init__(self, lead_name: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Make appointment")
        question = QLabel(
            f"<b>Appointment made with {html.escape(lead_name)}?</b><br>"
            "The admin team is emailed to book it, and the lead leaves your lists."
        )
        question.setWordWrap(True)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.confirm_button = buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.confirm_button.setText("Hand to the admin team")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(question)
        layout.addWidget(buttons)
        self.setMinimumWidth(420)
