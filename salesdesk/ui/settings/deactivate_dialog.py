"""Deactivating a person asks where their leads go: back to the pool, or to someone else."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtWidgets import (
    QButtonGroup,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QLabel,
    QRadioButton,
    QVBoxLayout,
    QWidget,
)


class DeactivateDialog(QDialog):
    """ "Alice holds 12 leads. When she is deactivated they go: ( ) back to the pool ( ) to …"."""

    def __init__(
        self,
        name: str,
        held: int,
        others: Sequence[tuple[int, str]],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Deactivate")
        leads = f"{held} lead{'s' if held != 1 else ''}"
        intro = QLabel(
            f"{name} can no longer sign in once deactivated (you can reactivate them later). "
            + (
                f"They hold {leads} (current and call backs). Where should these go?"
                if held
                else "They hold no leads."
            )
        )
        intro.setWordWrap(True)
        self.to_pool = QRadioButton("Back to the pool, for anyone to take")
        self.to_person = QRadioButton("To this person:")
        self.person = QComboBox()
        for user_id, other in others:
            self.person.addItem(other, user_id)
        group = QButtonGroup(self)
        group.addButton(self.to_pool)
        group.addButton(self.to_person)
        self.to_pool.setChecked(True)
        self.person.setEnabled(False)
        self.to_person.toggled.connect(self.person.setEnabled)
        self.to_person.setEnabled(bool(others))
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Deactivate")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        if held:
            layout.addWidget(self.to_pool)
            layout.addWidget(self.to_person)
            layout.addWidget(self.person)
        layout.addWidget(buttons)
        self.setMinimumWidth(440)

    @property
    def leads_to(self) -> int | None:
        return self.person.currentData() if self.to_person.isChecked() else None
