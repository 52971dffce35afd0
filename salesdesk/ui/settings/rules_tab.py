"""The Rules tab: every allocation rule with its explanation and a live check.

Each field is checked as it is edited with the same validator the service
uses on save (``rules.VALIDATORS``), and a refusal is shown under the field in
the validator's own words. Nothing is saved until the dialog's Save.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QScrollArea,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from salesdesk.services import rules
from salesdesk.services.errors import ValidationError
from salesdesk.ui.settings.field_message import FieldMessage, help_label

# key -> (label, choices) for the rules this tab shows, in the order shown.
CHOICES: dict[str, tuple[tuple[str, str], ...]] = {
    "dead_policy": (("hide", "Hide and tag them"), ("delete", "Delete them for good")),
    "rep_visibility": (
        ("own", "Only their own leads"),
        ("own_and_pool_counts", "Their own leads and how many wait in each pool"),
    ),
    "pool_order": (("newest_first", "Newest first"), ("oldest_first", "Oldest first")),
    "callback_reminder": (("in_app", "A notice in SalesDesk"), ("email", "An email to the rep")),
    "follow_up_reminder": (("in_app", "A notice in SalesDesk"), ("email", "An email to the rep")),
}
FIELDS: tuple[tuple[str, str], ...] = (
    ("keep_days", "Keep period (days)"),
    ("idle_days", "Reallocate after days without action"),
    ("working_days_only", "Working days"),
    ("cap", "Cap on current leads per rep"),
    ("one_at_a_time", "One lead at a time"),
    ("pool_order", "Order of the pool"),
    ("cooldown_hours", "Ex-owner cooldown (hours)"),
    ("dead_policy", "Dead leads"),
    ("dead_tag", "Tag for dead leads"),
    ("rep_visibility", "What reps may see"),
    ("callback_reminder", "Call back reminder"),
    ("follow_up_reminder", "Follow-up reminder"),
    ("assignment_digest", "Assignment digest"),
    ("admin_emails", "Admin team addresses"),
    ("company_name", "Company name"),
)
SPIN_RANGES = {
    "keep_days": (0, 365, "No limit"),
    "idle_days": (0, 365, "Never"),
    "cap": (1, 1000, ""),
    "cooldown_hours": (0, 24 * 90, "None"),
}
# Words for rules whose help names code values ('hide', 'in_app') or is missing;
# the rest show their help from ``Rules`` (rules.rule_help()).
HELP = {
    "one_at_a_time": "",
    "working_days_only": (
        "The keep period, the days without action and each pool's follow-up skip "
        "Saturdays and Sundays (public holidays still count). The weekend is that of the "
        "computer running the clock jobs: for a team, the worker's."
    ),
    "assignment_digest": "",
    "pool_order": "Which waiting lead Next hands out first, after priority and score.",
    "dead_policy": "What happens to a lead marked dead, or removed by a manager.",
    "dead_tag": "Put on a hidden dead lead, so managers can still find it.",
    "rep_visibility": (
        "Reps never see another rep's leads; the pool choice adds how many leads "
        "wait in each of their pools."
    ),
    "callback_reminder": "How a rep is reminded of a call back on its day.",
    "follow_up_reminder": (
        "How an owner is reminded of a lead left without contact for its pool's follow-up days."
    ),
    "admin_emails": "Where Appointment notices go; separate addresses with commas.",
}
CHECK_TEXT = {
    "working_days_only": "Count only Monday to Friday",
    "one_at_a_time": "A rep must action their current lead before taking the next",
    "assignment_digest": "Email each person, at most hourly, the leads given to them or taken away",
}


class RulesTab(QWidget):
    """One editor per rule, its help underneath, and its message under that.

    Signals:
        edited(): a value changed (the dialog marks itself changed).
        working_days_changed(bool): days are now counted as working days (or not),
            so other tabs can say which.
    """

    edited = Signal()
    working_days_changed = Signal(bool)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.editors: dict[str, QWidget] = {}
        self.messages: dict[str, FieldMessage] = {}
        self._helps: dict[str, Any] = {}
        self._labels: dict[str, QLabel] = {}
        self._original: dict[str, Any] = {}
        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.setVerticalSpacing(10)
        for key, label in FIELDS:
            editor = self._editor(key)
            if isinstance(editor, QSpinBox):
                editor.setFixedWidth(150)
            elif not isinstance(editor, QCheckBox):
                editor.setFixedWidth(460)
            self.editors[key] = editor
            column = QVBoxLayout()
            column.setSpacing(2)
            line = QHBoxLayout()
            line.addWidget(editor)
            line.addStretch(1)
            column.addLayout(line)
            help_text = help_label("")
            self._helps[key] = help_text
            column.addWidget(help_text)
            message = FieldMessage()
            self.messages[key] = message
            column.addWidget(message)
            self._labels[key] = QLabel(label)
            form.addRow(self._labels[key], column)
        inner = QWidget()
        inner.setLayout(form)
        inner.setMaximumWidth(980)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(inner)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(scroll)

    def _editor(self, key: str) -> QWidget:
        if key in CHOICES:
            combo = QComboBox()
            for value, words in CHOICES[key]:
                combo.addItem(words, value)
            combo.currentIndexChanged.connect(lambda _i, k=key: self._on_edited(k))
            return combo
        if key in SPIN_RANGES:
            low, high, special = SPIN_RANGES[key]
            spin = QSpinBox()
            spin.setRange(low, high)
            if special:
                spin.setSpecialValueText(special)
            spin.valueChanged.connect(lambda _v, k=key: self._on_edited(k))
            return spin
        if key in CHECK_TEXT:
            check = QCheckBox(CHECK_TEXT[key])
            check.toggled.connect(lambda _on, k=key: self._on_edited(k))
            return check
        line = QLineEdit()
        if key == "admin_emails":
            line.setPlaceholderText("appointments@example.com, sales.lead@example.com")
        line.textChanged.connect(lambda _t, k=key: self._on_edited(k))
        return line

    # --- values ---

    def load(self, current: rules.Rules, help_texts: Mapping[str, str]) -> None:
        for key, _label in FIELDS:
            self._set(key, getattr(current, key))
            text = HELP.get(key, help_texts.get(key, ""))
            self._helps[key].setText(text)
            self._helps[key].setVisible(bool(text))
            self.messages[key].clear_message()
        self._original = {key: self.value(key) for key, _ in FIELDS}
        self._name_the_days()

    def _name_the_days(self) -> None:
        """ "days" or "working days" in the labels of the rules counted in them."""
        working = bool(self.value("working_days_only"))
        unit = "working days" if working else "days"
        self._labels["keep_days"].setText(f"Keep period ({unit})")
        self._labels["idle_days"].setText(f"Reallocate after {unit} without action")
        self.working_days_changed.emit(working)

    def _set(self, key: str, value: Any) -> None:
        editor = self.editors[key]
        editor.blockSignals(True)
        if isinstance(editor, QComboBox):
            editor.setCurrentIndex(max(0, editor.findData(value)))
        elif isinstance(editor, QSpinBox):
            editor.setValue(int(value))
        elif isinstance(editor, QCheckBox):
            editor.setChecked(bool(value))
        elif isinstance(editor, QLineEdit):
            editor.setText(", ".join(value) if isinstance(value, tuple) else str(value))
        editor.blockSignals(False)

    def value(self, key: str) -> Any:
        editor = self.editors[key]
        if isinstance(editor, QComboBox):
            return editor.currentData()
        if isinstance(editor, QSpinBox):
            return editor.value()
        if isinstance(editor, QCheckBox):
            return editor.isChecked()
        assert isinstance(editor, QLineEdit)
        return editor.text()

    def changes(self) -> dict[str, Any]:
        """The rules whose value differs from what was loaded."""
        return {
            key: self.value(key) for key, _ in FIELDS if self.value(key) != self._original.get(key)
        }

    # --- checking ---

    def check(self, key: str) -> str:
        """Check one field as the service will; show and return the message (or "")."""
        try:
            rules.validate({key: self.value(key)})
        except ValidationError as exc:
            self.messages[key].show_message(exc.message)
            return exc.message
        self.messages[key].clear_message()
        return ""

    def check_all(self) -> list[str]:
        return [m for key, _ in FIELDS if (m := self.check(key))]

    def show_refusal(self, field: str, message: str) -> bool:
        """Put a refusal from Save under its field; False if the field is not on this tab."""
        if field in self.messages:
            self.messages[field].show_message(message)
            self.editors[field].setFocus()
            return True
        return False

    def _on_edited(self, key: str) -> None:
        self.check(key)
        if key == "working_days_only":
            self._name_the_days()
        self.edited.emit()
