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
        floor_cap: int | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Assign leads")
        held = held or {}
        self._count = count
        self._held = held
        self._people = {u.id: u for u in people}
        self._floor_cap = floor_cap
        self.person = QComboBox()
        active = [u for u in people if u.active]
        active.sort(key=lambda u: (u.role != "rep", u.display_name.casefold()))
        for user in active:
            label = user.display_name
            if user.role != "rep":
                label += f" ({user.role})"
            cap = self._cap_of(user)
            if user.id in held or cap is not None:
                label += f" — holds {held.get(user.id, 0)} current"
                label += f" of {cap}" if cap is not None else ""
            self.person.addItem(label, user.id)
        self.over_cap = QLabel()
        self.over_cap.setWordWrap(True)
        self.over_cap.setStyleSheet("color: #8a5a00")
        self.person.currentIndexChanged.connect(self._show_cap)
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
        layout.addWidget(self.over_cap)
        layout.addWidget(buttons)
        self.setMinimumWidth(420)
        self._show_cap()

    def _cap_of(self, user: UserRow) -> int | None:
        """A rep's cap (their own, else the floor's); managers and admins pull nothing."""
        if user.role != "rep":
            return None
        return user.cap if user.cap is not None else self._floor_cap

    def _show_cap(self) -> None:
        """Say so when the choice takes a rep past their cap (allowed, but worth knowing)."""
        user = self._people.get(self.user_id) if self.user_id is not None else None
        cap = self._cap_of(user) if user is not None else None
        after = self._held.get(self.user_id or 0, 0) + self._count
        over = user is not None and cap is not None and after > cap
        if over:
            assert user is not None
            self.over_cap.setText(
                f"{user.display_name} would hold up to {after} current leads, over their cap "
                f"of {cap}. A manager may assign past it; Next will give them nothing until "
                "they are under it again."
            )
        self.over_cap.setVisible(over)

    @property
    def user_id(self) -> int | None:
        value = self.person.currentData()
        return int(value) if value is not None else None

    def choose(self, user_id: int) -> None:
        """Pick a person (for tests and keyboard users)."""
        self.person.setCurrentIndex(self.person.findData(user_id))
