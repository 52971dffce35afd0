"""Dead asks first: it takes the lead out of the rep's lists for good."""

from __future__ import annotations

import html

from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QLineEdit,
    QVBoxLayout,
    QWidget,
)


class DeadDialog(QDialog):
    """ "Mark this lead dead?" with an optional reason; Enter confirms, Esc cancels."""

    def __init__(self, lead_name: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Mark lead dead")
        question = QLabel(
            f"<b>Mark {html.escape(lead_name)} dead?</b><br>"
            "The lead leaves your lists and you cannot undo this yourself; "
            "a manager can still find it."
        )
        question.setWordWrap(True)
        self.reason_edit = QLineEdit()
        self.reason_edit.setPlaceholderText("Reason (optional), e.g. wrong number, not interested")
        self.reason_edit.setMaxLength(200)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.confirm_button = buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.confirm_button.setText("Mark dead")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(question)
        layout.addWidget(self.reason_edit)
        layout.addWidget(buttons)
        self.setMinimumWidth(420)

    def reason(self) -> str:
        return self.reason_edit.text().strip()
