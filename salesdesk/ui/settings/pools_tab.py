"""The Pools tab: create, rename, (de)activate and delete pools; routing; members and shares.

Every change is staged in a draft per pool and saved with the dialog. Shares
of a weighted pool are percentages checked as they are typed: they must add up
to 100 %, and a 0 % share is allowed — that member stays in the pool (and can
press Next) but is never pushed a lead. A follow-up that is changed here is
checked as it is typed against the idle limit and keep period on the Rules tab
(as the service checks it on save): one that the lead's return to the pool
would always beat is refused under the field.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from salesdesk.services.records import PoolRow, UserRow
from salesdesk.services.rules import follow_up_problem
from salesdesk.ui.settings.delete_pool_dialog import DeletePoolDialog
from salesdesk.ui.settings.field_message import FieldMessage, help_label
from salesdesk.ui.settings.settings_work import PoolChange

ROUTINGS = (
    ("next", "Reps pull with Next"),
    ("round_robin", "Round robin: pushed to members in turn"),
    ("weighted", "Weighted: pushed to members by set shares"),
    ("manual", "Manual: waits for a manager to assign"),
)


def percentages(weights: Mapping[int, int]) -> dict[int, int]:
    """Relative weights as whole percentages adding up to exactly 100 (largest remainder)."""
    total = sum(weights.values())
    if not weights or total <= 0:
        return dict.fromkeys(weights, 0)
    exact = {k: 100 * w / total for k, w in weights.items()}
    shares = {k: int(v) for k, v in exact.items()}
    short = 100 - sum(shares.values())
    for k in sorted(exact, key=lambda k: exact[k] - shares[k], reverse=True)[:short]:
        shares[k] += 1
    return shares


def even_shares(members: Sequence[int]) -> dict[int, int]:
    return percentages(dict.fromkeys(members, 1))


@dataclass
class PoolDraft:
    key: str
    pool_id: int | None
    name: str
    active: bool
    routing: str
    follow_up_days: int | None
    members: dict[int, int]  # user id -> share (percent when weighted)
    leads: int = 0
    deleted: bool = False
    move_to: str | None = None
    original: PoolRow | None = None
    original_members: dict[int, int] = field(default_factory=dict)

    @property
    def label(self) -> str:
        text = self.name or "(no name)"
        if self.deleted:
            return f"{text} — deleted on save"
        if self.pool_id is None:
            return text + " (new)"
        if not self.active:
            text += " (inactive)"
        return f"{text} · {self.leads:,} lead{'s' if self.leads != 1 else ''}"


def share_problem(draft: PoolDraft) -> str:
    """Why the shares cannot be saved, or ""."""
    if draft.routing != "weighted" or not draft.members:
        return ""
    total = sum(draft.members.values())
    if total != 100:
        return f"The shares add up to {total} %; they must add up to 100 %."
    return ""


def share_note(draft: PoolDraft, names: Mapping[int, str]) -> str:
    """What the members (and shares) mean for this pool's routing, or what is missing."""
    if not draft.members:
        if draft.leads and draft.active and draft.routing != "manual":
            return (
                f"No members: nobody can take leads from this pool ({draft.leads:,} in it). "
                "Tick the people who work it, or make the pool inactive."
            )
        return "No members yet: tick the people who work this pool."
    if draft.routing == "next":
        return (
            "Every member may press Next to take this pool's leads; shares are for weighted pools."
        )
    if draft.routing == "round_robin":
        return "Each new lead goes to the next member in turn who has room under their cap."
    if draft.routing == "manual":
        return "Leads wait here for a manager to assign them; members are not pushed any."
    zero = [names.get(u, "?") for u, w in draft.members.items() if w == 0]
    total = sum(draft.members.values())
    text = "Shares add up to 100 %." if total == 100 else "Each share is a percentage."
    if zero:
        text += f" {', '.join(zero)}: 0 % — stays a member, is pushed no leads."
    return text


class PoolsTab(QWidget):
    """A list of pools on the left, the chosen pool's settings and members on the right.

    Signals:
        edited(): something changed (the dialog marks itself changed).
    """

    edited = Signal()

    def __init__(
        self,
        limits: Callable[[], tuple[int, int]] = lambda: (0, 0),
        parent: QWidget | None = None,
    ) -> None:
        """``limits`` gives the idle limit and keep period (days) as the Rules tab has them."""
        super().__init__(parent)
        self._limits = limits
        self.drafts: list[PoolDraft] = []
        self._people: list[UserRow] = []
        self._new = 0
        self._loading = False
        self.open_dialog: DeletePoolDialog | None = None

        self.list = QListWidget()
        self.add_button = QPushButton("Add pool")
        self.delete_button = QPushButton("Delete pool…")
        self.keep_button = QPushButton("Keep this pool")
        self.keep_button.setToolTip("Undo the deletion")
        left = QVBoxLayout()
        left.addWidget(self.list, 1)
        buttons = QHBoxLayout()
        buttons.addWidget(self.add_button)
        buttons.addWidget(self.delete_button)
        left.addLayout(buttons)

        self.name = QLineEdit()
        self.name_message = FieldMessage()
        self.active = QCheckBox("Active — leads are handed out from this pool")
        self.routing = QComboBox()
        for value, words in ROUTINGS:
            self.routing.addItem(words, value)
        self.follow_up = QSpinBox()
        self.follow_up.setRange(0, 365)
        self.follow_up.setSpecialValueText("Off")
        self.follow_up.setSuffix(" working days")
        self.follow_up_message = FieldMessage()
        self.members = QTableWidget(0, 2)
        self.members.setHorizontalHeaderLabels(["Member", "Share"])
        self.members.verticalHeader().hide()
        header = self.members.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        self.share_note = help_label("")
        self.share_message = FieldMessage()
        self.deleted_note = QLabel()
        self.deleted_note.setWordWrap(True)

        name_box = QVBoxLayout()
        name_box.setSpacing(2)
        name_box.addWidget(self.name)
        name_box.addWidget(self.name_message)
        form = QFormLayout()
        form.addRow("Name", name_box)
        form.addRow("", self.active)
        form.addRow("Routing", self.routing)
        follow_up_box = QVBoxLayout()
        follow_up_box.setSpacing(2)
        follow_up_box.addWidget(self.follow_up)
        follow_up_box.addWidget(
            help_label(
                "Remind the owner when a lead here has had no contact for this long — "
                "sooner than the Rules send it back to the pool."
            )
        )
        follow_up_box.addWidget(self.follow_up_message)
        form.addRow("Follow-up reminder", follow_up_box)
        right = QVBoxLayout()
        right.addWidget(self.deleted_note)
        right.addWidget(self.keep_button)
        right.addLayout(form)
        right.addWidget(QLabel("Members"))
        right.addWidget(self.members, 1)
        right.addWidget(self.share_note)
        right.addWidget(self.share_message)
        self.editor = QWidget()
        self.editor.setLayout(right)

        self.list.setMaximumWidth(380)
        layout = QHBoxLayout(self)
        layout.addLayout(left, 1)
        layout.addWidget(self.editor, 2)

        self.list.currentRowChanged.connect(self._show_current)
        self.add_button.clicked.connect(self.add_pool)
        self.delete_button.clicked.connect(self.delete_current)
        self.keep_button.clicked.connect(self.keep_current)
        self.name.textEdited.connect(self._on_name)
        self.active.toggled.connect(self._on_field)
        self.routing.currentIndexChanged.connect(self._on_routing)
        self.follow_up.valueChanged.connect(self._on_field)
        self.members.itemChanged.connect(self._on_member_ticked)

    # --- loading ---

    def load(
        self, pools: Sequence[PoolRow], people: Sequence[UserRow], leads: Mapping[int, int]
    ) -> None:
        self._people = list(people)
        self.drafts = []
        for pool in pools:
            weights = {m.user_id: m.weight for m in pool.members}
            shown = percentages(weights) if pool.routing == "weighted" else dict(weights)
            self.drafts.append(
                PoolDraft(
                    key=f"p{pool.id}",
                    pool_id=pool.id,
                    name=pool.name,
                    active=pool.active,
                    routing=pool.routing,
                    follow_up_days=pool.follow_up_days,
                    members=shown,
                    leads=leads.get(pool.id, 0),
                    original=pool,
                    original_members=dict(shown),
                )
            )
        self._refresh_list(0 if self.drafts else -1)

    def _refresh_list(self, select: int) -> None:
        self.list.blockSignals(True)
        self.list.clear()
        for draft in self.drafts:
            item = QListWidgetItem(draft.label)
            if draft.deleted:
                font = QFont(item.font())
                font.setStrikeOut(True)
                item.setFont(font)
            self.list.addItem(item)
        self.list.blockSignals(False)
        self.list.setCurrentRow(select)
        self._show_current(select)

    @property
    def current(self) -> PoolDraft | None:
        row = self.list.currentRow()
        return self.drafts[row] if 0 <= row < len(self.drafts) else None

    def _show_current(self, _row: int = -1) -> None:
        draft = self.current
        self.editor.setEnabled(draft is not None)
        self.delete_button.setEnabled(draft is not None and not draft.deleted)
        if draft is None:
            return
        self._loading = True
        try:
            self.name.setText(draft.name)
            self.active.setChecked(draft.active)
            self.routing.setCurrentIndex(max(0, self.routing.findData(draft.routing)))
            self.follow_up.setValue(draft.follow_up_days or 0)
            self._fill_members(draft)
            for widget in (self.name, self.active, self.routing, self.follow_up, self.members):
                widget.setEnabled(not draft.deleted)
            self.keep_button.setVisible(draft.deleted)
            self.deleted_note.setVisible(draft.deleted)
            if draft.deleted:
                target = next((d.name for d in self.drafts if d.key == draft.move_to), "")
                self.deleted_note.setText(
                    f"Deleted when you save; its {draft.leads:,} leads move to {target}."
                    if draft.leads
                    else "Deleted when you save (it has no leads)."
                )
        finally:
            self._loading = False
        self._check_current()

    def _fill_members(self, draft: PoolDraft) -> None:
        people = [
            u for u in self._people if (u.active and u.role == "rep") or u.id in draft.members
        ]
        self.members.blockSignals(True)
        self.members.setRowCount(len(people))
        weighted = draft.routing == "weighted"
        self.members.setColumnHidden(1, not weighted)
        for row, person in enumerate(people):
            name = person.display_name + ("" if person.active else " (inactive)")
            item = QTableWidgetItem(name)
            item.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(
                Qt.CheckState.Checked if person.id in draft.members else Qt.CheckState.Unchecked
            )
            item.setData(Qt.ItemDataRole.UserRole, person.id)
            self.members.setItem(row, 0, item)
            spin = QSpinBox()
            spin.setRange(0, 100)
            spin.setSuffix(" %")
            spin.setValue(draft.members.get(person.id, 0))
            spin.setEnabled(person.id in draft.members)
            spin.valueChanged.connect(lambda value, uid=person.id: self._on_share(uid, value))
            self.members.setCellWidget(row, 1, spin)
        self.members.blockSignals(False)

    def share_spin(self, user_id: int) -> QSpinBox | None:
        for row in range(self.members.rowCount()):
            item = self.members.item(row, 0)
            if item is not None and item.data(Qt.ItemDataRole.UserRole) == user_id:
                widget = self.members.cellWidget(row, 1)
                return widget if isinstance(widget, QSpinBox) else None
        return None

    def member_item(self, user_id: int) -> QTableWidgetItem | None:
        for row in range(self.members.rowCount()):
            item = self.members.item(row, 0)
            if item is not None and item.data(Qt.ItemDataRole.UserRole) == user_id:
                return item
        return None

    # --- edits ---

    def add_pool(self) -> None:
        self._new += 1
        draft = PoolDraft(
            key=f"new{self._new}",
            pool_id=None,
            name=self._free_name("New pool"),
            active=True,
            routing="next",
            follow_up_days=None,
            members={},
        )
        self.drafts.append(draft)
        self._refresh_list(len(self.drafts) - 1)
        self.name.setFocus()
        self.name.selectAll()
        self.edited.emit()

    def _free_name(self, base: str) -> str:
        taken = {d.name.casefold() for d in self.drafts}
        name, n = base, 1
        while name.casefold() in taken:
            n += 1
            name = f"{base} {n}"
        return name

    def delete_current(self) -> None:
        draft = self.current
        if draft is None or draft.deleted:
            return
        if draft.pool_id is None:  # never saved: simply drop it
            self.drafts.remove(draft)
            self._refresh_list(min(len(self.drafts) - 1, self.list.currentRow()))
            self.edited.emit()
            return
        others = [(d.key, d.name) for d in self.drafts if d is not draft and not d.deleted]
        dialog = DeletePoolDialog(draft.name, draft.leads, others, self)
        self.open_dialog = dialog
        dialog.accepted.connect(lambda: self._mark_deleted(draft, dialog.move_to))
        dialog.open()

    def _mark_deleted(self, draft: PoolDraft, move_to: str | None) -> None:
        draft.deleted = True
        draft.move_to = move_to
        self._refresh_list(self.drafts.index(draft))
        self.edited.emit()

    def keep_current(self) -> None:
        draft = self.current
        if draft is not None and draft.deleted:
            draft.deleted, draft.move_to = False, None
            self._refresh_list(self.drafts.index(draft))
            self.edited.emit()

    def _on_name(self, text: str) -> None:
        draft = self.current
        if draft is None or self._loading:
            return
        draft.name = text
        item = self.list.currentItem()
        if item is not None:
            item.setText(draft.label)
        self._check_current()
        self.edited.emit()

    def name_the_days(self, working: bool) -> None:
        """The follow-up counts working days or calendar days, as the rules say."""
        self.follow_up.setSuffix(" working days" if working else " days")

    def _on_field(self, *_args: object) -> None:
        draft = self.current
        if draft is None or self._loading:
            return
        draft.active = self.active.isChecked()
        draft.follow_up_days = self.follow_up.value() or None
        item = self.list.currentItem()
        if item is not None:
            item.setText(draft.label)
        self._check_current()
        self.edited.emit()

    def _on_routing(self, _index: int) -> None:
        draft = self.current
        if draft is None or self._loading:
            return
        routing = self.routing.currentData()
        if routing == "weighted" and draft.routing != "weighted":
            draft.members = even_shares(list(draft.members))
        elif routing != "weighted" and draft.routing == "weighted":
            draft.members = dict.fromkeys(draft.members, 1)
        draft.routing = routing
        self._loading = True
        self._fill_members(draft)
        self._loading = False
        self._check_current()
        self.edited.emit()

    def _on_member_ticked(self, item: QTableWidgetItem) -> None:
        draft = self.current
        if draft is None or self._loading or item.column() != 0:
            return
        user_id = item.data(Qt.ItemDataRole.UserRole)
        spin = self.share_spin(user_id)
        if item.checkState() == Qt.CheckState.Checked:
            draft.members[user_id] = 0 if draft.routing == "weighted" else 1
        else:
            draft.members.pop(user_id, None)
        if spin is not None:
            spin.setEnabled(user_id in draft.members)
            spin.blockSignals(True)
            spin.setValue(draft.members.get(user_id, 0))
            spin.blockSignals(False)
        self._check_current()
        self.edited.emit()

    def _on_share(self, user_id: int, value: int) -> None:
        draft = self.current
        if draft is None or self._loading or user_id not in draft.members:
            return
        draft.members[user_id] = value
        self._check_current()
        self.edited.emit()

    # --- checking ---

    def name_problem(self, draft: PoolDraft) -> str:
        name = " ".join(draft.name.split())
        if not name:
            return "Give the pool a name."
        clash = [
            d
            for d in self.drafts
            if d is not draft
            and not d.deleted
            and " ".join(d.name.split()).casefold() == name.casefold()
        ]
        return f"There is already a pool called '{name}'." if clash else ""

    def follow_up_problem(self, draft: PoolDraft) -> str:
        """Why this follow-up can never fire, for one set in this dialog; else "".

        A follow-up saved earlier is left for Save to judge: if the Rules tab's
        limits changed under it, the service refuses the rule, next to it.
        """
        original = draft.original.follow_up_days if draft.original else None
        if draft.deleted or draft.follow_up_days == original:
            return ""
        idle_days, keep_days = self._limits()
        return follow_up_problem(draft.follow_up_days, idle_days, keep_days)

    def _check_current(self) -> None:
        draft = self.current
        if draft is None:
            return
        self.name_message.show_message("" if draft.deleted else self.name_problem(draft))
        self.follow_up_message.show_message(self.follow_up_problem(draft))
        names = {u.id: u.display_name for u in self._people}
        self.share_note.setText(share_note(draft, names))
        self.share_note.setVisible(True)
        self.share_message.show_message("" if draft.deleted else share_problem(draft))

    def check_all(self) -> list[str]:
        """Every pool's problems; the first bad pool is selected so its message shows."""
        problems = []
        first_bad = -1
        for index, draft in enumerate(self.drafts):
            if draft.deleted:
                continue
            found = [
                p
                for p in (
                    self.name_problem(draft),
                    self.follow_up_problem(draft),
                    share_problem(draft),
                )
                if p
            ]
            if found and first_bad < 0:
                first_bad = index
            problems += [f"{draft.name or 'A pool'}: {p}" for p in found]
        if first_bad >= 0:
            self.list.setCurrentRow(first_bad)
        return problems

    def show_refusal(self, key: str, field: str, message: str) -> None:
        for index, draft in enumerate(self.drafts):
            if draft.key == key:
                self.list.setCurrentRow(index)
        targets = {"name": self.name_message, "follow_up_days": self.follow_up_message}
        targets.get(field, self.share_message).show_message(message)

    # --- the plan ---

    def changes(self) -> tuple[list[PoolChange], list[tuple[str, int, str | None]]]:
        pools: list[PoolChange] = []
        deletes: list[tuple[str, int, str | None]] = []
        for draft in self.drafts:
            name = " ".join(draft.name.split())
            if draft.deleted:
                if draft.pool_id is not None:
                    deletes.append((draft.key, draft.pool_id, draft.move_to))
                continue
            members = dict(draft.members)
            if draft.pool_id is None:
                pools.append(
                    PoolChange(
                        draft.key,
                        None,
                        name,
                        draft.active,
                        draft.routing,
                        draft.follow_up_days,
                        members or None,
                    )
                )
                continue
            original = draft.original
            assert original is not None
            changed = tuple(
                f
                for f, new, old in (
                    ("name", name, original.name),
                    ("active", draft.active, original.active),
                    ("routing", draft.routing, original.routing),
                    ("follow_up_days", draft.follow_up_days, original.follow_up_days),
                )
                if new != old
            )
            members_changed = members != draft.original_members
            if changed or members_changed:
                pools.append(
                    PoolChange(
                        draft.key,
                        draft.pool_id,
                        name,
                        draft.active,
                        draft.routing,
                        draft.follow_up_days,
                        members if members_changed else None,
                        changed,
                    )
                )
        return pools, deletes
