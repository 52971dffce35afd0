"""Deleting a pool says what happens to its leads, and asks where they go."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QVBoxLayout,
    QWidget,
)


class DeletePoolDialog(QDialog):
    """ "Inbound has 1,234 leads. Move them to: […]" — or, without leads, a plain yes/no."""

    def __init__(
        self,
        name: str,
        leads: int,
        others: Sequence[tuple[str, str]],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Delete pool")
        self.target = QComboBox()
        for key, other in others:
            self.target.addItem(other, key)
        if leads:
            text = (
                f"“{name}” holds {leads:,} lead{'s' if leads != 1 else ''} — waiting, held by "
                "reps, or closed. They keep their owners and history and move to the pool you "
                "choose. The pool is deleted when you save."
            )
        else:
            text = f"“{name}” has no leads. It is deleted when you save."
        intro = QLabel(text)
        intro.setWordWrap(True)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.ok = buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.ok.setText("Delete pool")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        if leads:
            form = QFormLayout()
            form.addRow("Move its leads to", self.target)
            layout.addLayout(form)
            if not others:
                note = QLabel("There is no other pool to take them: add one first.")
                note.setWordWrap(True)
                layout.addWidget(note)
                self.ok.setEnabled(False)
        layout.addWidget(buttons)
        self.leads = leads
        self.setMinimumWidth(440)

    @property
    def move_to(self) -> str | None:
        return self.target.currentData() if self.leads else None
