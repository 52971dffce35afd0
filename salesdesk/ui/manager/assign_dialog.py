"""Choose who gets the selected leads.

People are listed with what they hold now, so a manager sees at a glance who
has room; a manager may still go over a rep's cap (the cap limits what a rep
pulls, not what a manager decides).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QVBoxLayout,
    QWidget,
)

from salesdesk.services.records import UserRow


class AssignDialog(QDialog):
    """ "Assign 3 leads to …": active people, reps first, with their current leads."""

    def __init__(
        self,
        count: int,
        people: Sequence[UserRow],
        held: Mapping[int, int] | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Assign leads")
        held = held or {}
        self.person = QComboBox()
        active = [u for u in people if u.active]
        active.sort(key=lambda u: (u.role != "rep", u.display_name.casefold()))
        for user in active:
            label = user.display_name
            if user.role != "rep":
                label += f" ({user.role})"
            if user.id in held:
                label += f" — holds {held[user.id]} current"
            self.person.addItem(label, user.id)
        intro = QLabel(
            f"Give the {count} selected lead{'s' if count != 1 else ''} to one person. "
            "Leads held by someone else are taken from them (both are told); dead leads "
            "and appointments are left as they are."
        )
        intro.setWordWrap(True)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.ok = buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.ok.setText("Assign")
        self.ok.setEnabled(bool(active))
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form = QFormLayout()
        form.addRow("Assign to", self.person)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addLayout(form)
        layout.addWidget(buttons)
        self.setMinimumWidth(420)

    @property
    def user_id(self) -> int | None:
        value = self.person.currentData()
        return int(value) if value is not None else None

    def choose(self, user_id: int) -> None:
        """Pick a person (for tests and keyboard users)."""
        self.person.setCurrentIndex(self.person.findData(user_id))
