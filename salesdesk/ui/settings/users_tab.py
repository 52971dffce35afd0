"""The Users tab: add people, change their role or cap, reset a password, deactivate.

Every change is staged and saved with the dialog. Deactivating asks where the
person's leads go (back to the pool, or to a chosen person); the checks the
service makes on save are also made here as the fields are typed in.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from PySide6.QtCore import Signal
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from salesdesk.services import team
from salesdesk.services.errors import ValidationError
from salesdesk.services.records import Actor, UserRow
from salesdesk.ui.settings.deactivate_dialog import DeactivateDialog
from salesdesk.ui.settings.field_message import FieldMessage, help_label
from salesdesk.ui.settings.settings_work import UserChange

ROLES = (("rep", "Rep"), ("manager", "Manager"), ("admin", "Admin"))
FIELDS = ("username", "display_name", "email", "role", "cap", "password")


@dataclass
class UserDraft:
    key: str
    user_id: int | None
    username: str
    display_name: str
    email: str
    role: str
    cap: int | None
    active: bool
    password: str = ""
    deactivate: bool = False
    leads_to: int | None = None
    reactivate: bool = False
    original: UserRow | None = None

    @property
    def label(self) -> str:
        text = f"{self.display_name or self.username or '(new person)'} — {self.role}"
        if self.user_id is None:
            text += " (new)"
        elif self.deactivate:
            text += " — deactivated on save"
        elif self.reactivate:
            text += " — reactivated on save"
        elif not self.active:
            text += " (inactive)"
        return text


class UsersTab(QWidget):
    """People on the left; the chosen person's details on the right.

    Signals:
        edited(): something changed.
    """

    edited = Signal()

    def __init__(self, actor: Actor, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._actor = actor
        self.drafts: list[UserDraft] = []
        self._held: dict[int, int] = {}
        self._floor_cap = 25
        self._new = 0
        self._loading = False
        self.open_dialog: DeactivateDialog | None = None

        self.list = QListWidget()
        self.add_button = QPushButton("Add person")
        left = QVBoxLayout()
        left.addWidget(self.list, 1)
        left.addWidget(self.add_button)

        self.username = QLineEdit()
        self.display_name = QLineEdit()
        self.email = QLineEdit()
        self.role = QComboBox()
        for value, words in ROLES:
            self.role.addItem(words, value)
        self.cap = QSpinBox()
        self.cap.setRange(0, 1000)
        self.password = QLineEdit()
        self.password.setEchoMode(QLineEdit.EchoMode.Password)
        self.state = QLabel()
        self.state.setWordWrap(True)
        self.deactivate_button = QPushButton("Deactivate…")
        self.reactivate_button = QPushButton("Reactivate")
        self.messages = {f: FieldMessage() for f in FIELDS}
        self.password_help = help_label("")
        form = QFormLayout()
        for label, key, widget in (
            ("User name", "username", self.username),
            ("Name", "display_name", self.display_name),
            ("Email", "email", self.email),
            ("Role", "role", self.role),
            ("Personal cap", "cap", self.cap),
            ("Password", "password", self.password),
        ):
            box = QVBoxLayout()
            box.setSpacing(2)
            box.addWidget(widget)
            if key == "password":
                box.addWidget(self.password_help)
            box.addWidget(self.messages[key])
            form.addRow(label, box)
        state_row = QHBoxLayout()
        state_row.addWidget(self.state, 1)
        state_row.addWidget(self.deactivate_button)
        state_row.addWidget(self.reactivate_button)
        right = QVBoxLayout()
        right.addLayout(form)
        right.addLayout(state_row)
        right.addStretch(1)
        self.editor = QWidget()
        self.editor.setLayout(right)
        self.list.setMaximumWidth(380)
        layout = QHBoxLayout(self)
        layout.addLayout(left, 1)
        layout.addWidget(self.editor, 2)

        self.list.currentRowChanged.connect(self._show_current)
        self.add_button.clicked.connect(self.add_person)
        self.deactivate_button.clicked.connect(self.deactivate_current)
        self.reactivate_button.clicked.connect(self.reactivate_current)
        for line in (self.username, self.display_name, self.email, self.password):
            line.textEdited.connect(self._on_edited)
        self.role.currentIndexChanged.connect(self._on_edited)
        self.cap.valueChanged.connect(self._on_edited)

    # --- loading ---

    def load(self, users: Sequence[UserRow], held: Mapping[int, int], floor_cap: int) -> None:
        self._held = dict(held)
        self._floor_cap = floor_cap
        self.cap.setSpecialValueText(f"Floor default ({floor_cap})")
        self.drafts = [
            UserDraft(
                key=f"u{u.id}",
                user_id=u.id,
                username=u.username,
                display_name=u.display_name,
                email=u.email or "",
                role=u.role,
                cap=u.cap,
                active=u.active,
                original=u,
            )
            for u in users
        ]
        self._refresh_list(0 if self.drafts else -1)

    def _refresh_list(self, select: int) -> None:
        self.list.blockSignals(True)
        self.list.clear()
        for draft in self.drafts:
            item = QListWidgetItem(draft.label)
            if not draft.active or draft.deactivate:
                font = QFont(item.font())
                font.setItalic(True)
                item.setFont(font)
            self.list.addItem(item)
        self.list.blockSignals(False)
        self.list.setCurrentRow(select)
        self._show_current()

    @property
    def current(self) -> UserDraft | None:
        row = self.list.currentRow()
        return self.drafts[row] if 0 <= row < len(self.drafts) else None

    def _show_current(self, _row: int = -1) -> None:
        draft = self.current
        self.editor.setEnabled(draft is not None)
        if draft is None:
            return
        self._loading = True
        try:
            new = draft.user_id is None
            self.username.setText(draft.username)
            self.username.setReadOnly(not new)
            self.username.setToolTip("" if new else "A user name cannot be changed.")
            self.display_name.setText(draft.display_name)
            self.email.setText(draft.email)
            self.role.setCurrentIndex(max(0, self.role.findData(draft.role)))
            self.cap.setValue(draft.cap or 0)
            self.password.setText(draft.password)
            self.password.setPlaceholderText(
                "At least 8 characters" if new else "Leave empty to keep the current password"
            )
            self.password_help.setText(
                "They use this to sign in; tell them in person."
                if new
                else "Type a new password to reset theirs (they are not told automatically)."
            )
            self._show_state(draft)
        finally:
            self._loading = False
        self._check(draft)

    def _show_state(self, draft: UserDraft) -> None:
        yourself = draft.user_id == self._actor.id
        active_now = (draft.active and not draft.deactivate) or draft.reactivate
        if draft.user_id is None:
            self.state.setText("Added when you save.")
        elif draft.deactivate:
            target = next((d.display_name for d in self.drafts if d.user_id == draft.leads_to), "")
            where = f"go to {target}" if target else "go back to the pool"
            self.state.setText(f"Deactivated when you save; their leads {where}.")
        elif active_now:
            held = self._held.get(draft.user_id or 0, 0)
            self.state.setText(f"Active · holds {held} lead{'s' if held != 1 else ''}")
        else:
            self.state.setText("Deactivated: cannot sign in.")
        self.deactivate_button.setVisible(draft.user_id is not None and active_now)
        self.deactivate_button.setEnabled(not yourself)
        self.deactivate_button.setToolTip(
            "You cannot deactivate yourself." if yourself else "Stop this person signing in"
        )
        self.reactivate_button.setVisible(
            draft.user_id is not None and (not active_now or draft.deactivate)
        )
        self.reactivate_button.setText("Keep active" if draft.deactivate else "Reactivate")

    # --- edits ---

    def add_person(self) -> None:
        self._new += 1
        draft = UserDraft(
            key=f"new{self._new}",
            user_id=None,
            username="",
            display_name="",
            email="",
            role="rep",
            cap=None,
            active=True,
        )
        self.drafts.append(draft)
        self._refresh_list(len(self.drafts) - 1)
        self.username.setFocus()
        self.edited.emit()

    def _taker_label(self, draft: UserDraft) -> str:
        if draft.role != "rep":
            return f"{draft.display_name} ({draft.role})"
        cap = draft.cap if draft.cap is not None else self._floor_cap
        held = self._held.get(draft.user_id or 0, 0)
        return f"{draft.display_name} — holds {held} of {cap}"

    def deactivate_current(self) -> None:
        draft = self.current
        if draft is None or draft.user_id is None or draft.user_id == self._actor.id:
            return
        # Reps first, each with what they hold against their cap, as Assign shows them:
        # an admin at the top of the list took a whole desk's leads by one slip.
        takers = sorted(
            (
                d
                for d in self.drafts
                if d is not draft and d.user_id is not None and d.active and not d.deactivate
            ),
            key=lambda d: (d.role != "rep", d.display_name.casefold()),
        )
        others = [(d.user_id, self._taker_label(d)) for d in takers]
        held = self._held.get(draft.user_id, 0)
        dialog = DeactivateDialog(draft.display_name, held, others, self)  # type: ignore[arg-type]
        self.open_dialog = dialog
        dialog.accepted.connect(lambda: self._mark_deactivated(draft, dialog.leads_to))
        dialog.open()

    def _mark_deactivated(self, draft: UserDraft, leads_to: int | None) -> None:
        draft.deactivate, draft.leads_to, draft.reactivate = True, leads_to, False
        self._refresh_list(self.drafts.index(draft))
        self.edited.emit()

    def reactivate_current(self) -> None:
        draft = self.current
        if draft is None:
            return
        if draft.deactivate:
            draft.deactivate, draft.leads_to = False, None
        elif not draft.active:
            draft.reactivate = not draft.reactivate
        self._refresh_list(self.drafts.index(draft))
        self.edited.emit()

    def _on_edited(self, *_args: object) -> None:
        draft = self.current
        if draft is None or self._loading:
            return
        if draft.user_id is None:
            draft.username = self.username.text().strip().lower()
        draft.display_name = self.display_name.text()
        draft.email = self.email.text().strip()
        draft.role = self.role.currentData()
        draft.cap = self.cap.value() or None
        draft.password = self.password.text()
        item = self.list.currentItem()
        if item is not None:
            item.setText(draft.label)
        self._check(draft)
        self.edited.emit()

    # --- checking ---

    def problems(self, draft: UserDraft) -> dict[str, str]:
        found: dict[str, str] = {}
        if draft.user_id is None:
            if not team.USERNAME_RE.match(draft.username):
                found["username"] = (
                    "A user name is 2 to 63 characters: lower-case letters, digits, '.', '_' "
                    "or '-'."
                )
            elif any(d is not draft and d.username == draft.username for d in self.drafts):
                found["username"] = f"The user name '{draft.username}' is taken."
            if len(draft.password) < team.MIN_PASSWORD:
                found["password"] = f"A password needs at least {team.MIN_PASSWORD} characters."
        elif draft.password and len(draft.password) < team.MIN_PASSWORD:
            found["password"] = f"A password needs at least {team.MIN_PASSWORD} characters."
        if not draft.display_name.strip():
            found["display_name"] = "Enter the person's name."
        try:
            team.clean_email(draft.email)  # the service's own check, so the words match
        except ValidationError as exc:
            found["email"] = exc.message
        if draft.user_id == self._actor.id and draft.role != "admin":
            found["role"] = "You cannot remove your own admin role."
        return found

    def _check(self, draft: UserDraft) -> None:
        found = self.problems(draft)
        for key, message in self.messages.items():
            message.show_message(found.get(key, ""))

    def check_all(self) -> list[str]:
        problems: list[str] = []
        first_bad = -1
        for index, draft in enumerate(self.drafts):
            found = self.problems(draft)
            if found and first_bad < 0:
                first_bad = index
            who = draft.display_name or draft.username or "A new person"
            problems += [f"{who}: {m}" for m in found.values()]
        if first_bad >= 0:
            self.list.setCurrentRow(first_bad)
        return problems

    def show_refusal(self, key: str, field: str, message: str) -> None:
        for index, draft in enumerate(self.drafts):
            if draft.key == key:
                self.list.setCurrentRow(index)
        self.messages.get(field, self.messages["display_name"]).show_message(message)

    # --- the plan ---

    def changes(
        self,
    ) -> tuple[list[UserChange], list[tuple[str, int, int | None]], list[tuple[str, int]]]:
        users: list[UserChange] = []
        deactivations: list[tuple[str, int, int | None]] = []
        reactivations: list[tuple[str, int]] = []
        for d in self.drafts:
            if d.user_id is None:
                users.append(
                    UserChange(
                        d.key,
                        None,
                        d.username,
                        d.display_name.strip(),
                        d.email,
                        d.role,
                        d.cap,
                        d.password,
                    )
                )
                continue
            original = d.original
            assert original is not None
            changed = tuple(
                f
                for f, new, old in (
                    ("display_name", d.display_name.strip(), original.display_name),
                    ("email", d.email, original.email or ""),
                    ("role", d.role, original.role),
                    ("cap", d.cap, original.cap),
                )
                if new != old
            )
            if changed or d.password:
                users.append(
                    UserChange(
                        d.key,
                        d.user_id,
                        d.username,
                        d.display_name.strip(),
                        d.email,
                        d.role,
                        d.cap,
                        d.password,
                        changed,
                    )
                )
            if d.deactivate:
                deactivations.append((d.key, d.user_id, d.leads_to))
            if d.reactivate:
                reactivations.append((d.key, d.user_id))
        return users, deactivations, reactivations
