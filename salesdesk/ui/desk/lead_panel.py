"""The lead on screen: who to call, what has happened, and the notes every owner left."""

from __future__ import annotations

import html
import re
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QFont, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QSizePolicy,
    QSplitter,
    QStackedWidget,
    QTableView,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from salesdesk.services.records import LeadDetail
from salesdesk.ui.desk.history_model import HistoryModel
from salesdesk.ui.timefmt import EMPTY, format_datetime

CONTACT_FIELDS = ("Phone", "Email", "Company", "Source", "Pool", "Score")
LINK_FIELDS = ("Phone", "Email")
MAX_CUSTOM = 12  # extra fields shown; a file's 40 unknown columns would bury the lead
DATE_FIELDS = (
    "Call Back Date",
    "Date Email Confirmed",
    "Date Appointment Made",
    "Assigned",
    "Last contacted",
    "Back to pool",
)
STATUS_WORDS = {
    "current": "Current",
    "callback": "Call back",
    "pool": "In the pool",
    "appointment": "Appointment made",
    "dead": "Dead",
}
PLACEHOLDER = (
    "<p style='font-size:large'><b>No lead open.</b></p>"
    "<p>Press <b>Next</b> (key <b>N</b>) to take your next lead from the pool,<br>"
    "or pick one from your Current or Call backs list.</p>"
)


def filled_fields(custom: dict[str, Any]) -> list[tuple[str, str]]:
    """A lead's extra imported fields that hold something, as (name, text)."""
    return [(str(k), str(v)) for k, v in custom.items() if str(v).strip()]


class LeadPanel(QWidget):
    """Shows one :class:`LeadDetail`; asks the desk to call or to add a note.

    Signals:
        call_requested(int, str): the phone link was clicked (lead id, phone number).
        note_submitted(int, str): "Add note" with the note's text (lead id, text).
        draft_left(int, str): another lead (or none) was opened while a note was
            typed but not added (lead id, text): the desk saves it.
    """

    call_requested = Signal(int, str)
    note_submitted = Signal(int, str)
    draft_left = Signal(int, str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.detail: LeadDetail | None = None
        self._values: dict[str, QLabel] = {}

        self._placeholder = QLabel(PLACEHOLDER)
        self._placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self._placeholder.setWordWrap(True)

        self._title = QLabel()
        title_font = QFont(self._title.font())
        title_font.setPointSizeF(title_font.pointSizeF() * 1.5)
        title_font.setBold(True)
        self._title.setFont(title_font)
        self._title.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        # Names are shown as typed: "O'Brien", "Smith & Sons", never read as markup.
        self._title.setTextFormat(Qt.TextFormat.PlainText)
        self._status = QLabel()
        self._status.setObjectName("leadStatus")

        contact = QGroupBox("Contact")
        contact_form = self._form(contact, CONTACT_FIELDS)
        self._values["Phone"].setTextInteractionFlags(
            Qt.TextInteractionFlag.LinksAccessibleByMouse
            | Qt.TextInteractionFlag.LinksAccessibleByKeyboard
        )
        self._values["Phone"].linkActivated.connect(self._on_phone_link)
        self._values["Email"].setOpenExternalLinks(True)
        # Columns an import kept that SalesDesk has no field for (a website, a job title):
        # shown under the contact details, as they came.
        self._custom_form = contact_form
        self._custom_rows = 0
        dates = QGroupBox("Dates")
        self._form(dates, DATE_FIELDS)

        fields = QHBoxLayout()
        fields.addWidget(contact, 1)
        fields.addWidget(dates, 1)

        self.notes_view = QTextBrowser()
        self.notes_view.setOpenLinks(False)
        self.notes_view.setPlaceholderText("No notes yet.")
        self.notes_view.setMinimumHeight(3 * self.notes_view.fontMetrics().lineSpacing())
        self.note_edit = QPlainTextEdit()
        self.note_edit.setPlaceholderText("Write a note for this lead…")
        self.note_edit.setTabChangesFocus(True)
        self.note_edit.setMaximumHeight(3 * self.note_edit.fontMetrics().lineSpacing() + 12)
        self.add_note_button = QPushButton("Add note")
        self.add_note_button.setToolTip("Save the note with this lead (Ctrl+Enter)")
        self.add_note_button.clicked.connect(self._on_add_note_clicked)
        for keys in ("Ctrl+Return", "Ctrl+Enter"):
            shortcut = QShortcut(QKeySequence(keys), self.note_edit)
            shortcut.setContext(Qt.ShortcutContext.WidgetShortcut)
            shortcut.activated.connect(self._on_add_note_clicked)
        notes_box = QGroupBox("Notes (from every owner)")
        notes_layout = QVBoxLayout(notes_box)
        notes_layout.addWidget(self.notes_view, 1)
        note_row = QHBoxLayout()
        note_row.addWidget(self.note_edit, 1)
        note_row.addWidget(self.add_note_button, 0, Qt.AlignmentFlag.AlignBottom)
        notes_layout.addLayout(note_row)

        self.history_model = HistoryModel(self)
        self.history_view = QTableView()
        self.history_view.setModel(self.history_model)
        self.history_view.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.history_view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.history_view.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.history_view.verticalHeader().hide()
        self.history_view.verticalHeader().setDefaultSectionSize(
            self.history_view.fontMetrics().height() + 6
        )
        self.history_view.setWordWrap(False)
        self.history_view.setMinimumHeight(4 * self.history_view.fontMetrics().lineSpacing())
        header = self.history_view.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(True)
        history_box = QGroupBox("History")
        history_layout = QVBoxLayout(history_box)
        history_layout.addWidget(self.history_view)

        # Stacked, so each gets the panel's full width: history lines are long.
        lower = QSplitter(Qt.Orientation.Vertical)
        lower.addWidget(notes_box)
        lower.addWidget(history_box)
        lower.setStretchFactor(0, 1)
        lower.setStretchFactor(1, 1)
        lower.setChildrenCollapsible(False)

        page = QWidget()
        layout = QVBoxLayout(page)
        layout.setContentsMargins(0, 0, 0, 0)
        heading = QHBoxLayout()
        heading.addWidget(self._title, 1)
        heading.addWidget(self._status, 0, Qt.AlignmentFlag.AlignVCenter)
        layout.addLayout(heading)
        layout.addLayout(fields)
        layout.addWidget(lower, 1)

        self._stack = QStackedWidget()
        self._stack.addWidget(self._placeholder)
        self._stack.addWidget(page)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(self._stack)
        self.show_detail(None)

    def _form(self, box: QGroupBox, names: tuple[str, ...]) -> QFormLayout:
        form = QFormLayout(box)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.DontWrapRows)
        for name in names:
            value = QLabel(EMPTY)
            value.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            # Phone and Email are links (escaped markup); every other field is plain text.
            linked = name in LINK_FIELDS
            value.setTextFormat(Qt.TextFormat.RichText if linked else Qt.TextFormat.PlainText)
            value.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
            self._values[name] = value
            form.addRow(f"{name}:", value)
        return form

    # --- showing a lead ------------------------------------------------------------------

    @property
    def lead_id(self) -> int | None:
        return self.detail.lead.id if self.detail else None

    def field_text(self, name: str) -> str:
        """The text shown for a field (without markup), for tests and accessibility."""
        label = self._values[name]
        if label.textFormat() == Qt.TextFormat.PlainText:
            return label.text()
        return html.unescape(re.sub(r"<[^>]+>", "", label.text()))

    def title_text(self) -> str:
        """The lead's name as shown at the top of the panel."""
        return self._title.text()

    def show_detail(self, detail: LeadDetail | None) -> None:
        previous = self.lead_id
        if previous is not None and (detail is None or detail.lead.id != previous):
            draft = self.take_draft()
            if draft:
                self.draft_left.emit(previous, draft)
        self.detail = detail
        if detail is None:
            self._stack.setCurrentIndex(0)
            self.history_model.set_events(())
            return
        lead = detail.lead
        self._title.setText(lead.name)
        self._status.setText(f"<b>{STATUS_WORDS.get(lead.status, lead.status)}</b>")
        phone = lead.phone or ""
        if phone:
            self._values["Phone"].setText(
                f'<a href="tel:{html.escape(tel_uri_number(phone))}">{html.escape(phone)}</a>'
            )
            self._values["Phone"].setToolTip(
                "Call this number (P); the call is recorded as last contacted"
            )
        else:
            self._values["Phone"].setText(EMPTY)
            self._values["Phone"].setToolTip("")
        if lead.email:
            address = html.escape(lead.email)
            self._values["Email"].setText(f'<a href="mailto:{address}">{address}</a>')
        else:
            self._values["Email"].setText(EMPTY)
        self._values["Company"].setText(lead.company or EMPTY)
        self._values["Source"].setText(lead.source or EMPTY)
        self._values["Pool"].setText(lead.pool_name or EMPTY)
        self._values["Score"].setText(str(lead.score))
        self._show_custom(detail.custom)
        self._values["Call Back Date"].setText(format_datetime(lead.call_back_at))
        self._values["Date Email Confirmed"].setText(format_datetime(lead.email_confirmed_at))
        self._values["Date Appointment Made"].setText(format_datetime(lead.appointment_at))
        self._values["Assigned"].setText(format_datetime(lead.assigned_at))
        self._values["Last contacted"].setText(format_datetime(lead.last_contacted_at))
        self._show_deadline(detail)
        self.notes_view.setHtml(_notes_html(detail))
        self.history_model.set_events(detail.history)
        self.history_view.scrollToTop()  # newest first: what just happened is on top
        self._stack.setCurrentIndex(1)

    def _show_custom(self, custom: dict[str, Any]) -> None:
        form = self._custom_form
        for _ in range(self._custom_rows):
            form.removeRow(form.rowCount() - 1)
        shown = filled_fields(custom)[:MAX_CUSTOM]
        for key, value in shown:
            label = QLabel(value if len(value) <= 120 else value[:119] + "…")
            label.setTextFormat(Qt.TextFormat.PlainText)  # as imported, never markup
            label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            label.setToolTip(value)
            caption = QLabel(f"{key}:")
            caption.setTextFormat(Qt.TextFormat.PlainText)
            form.addRow(caption, label)
        self._custom_rows = len(shown)

    def custom_fields(self) -> list[tuple[str, str]]:
        """The extra fields on screen, (name, value), for tests."""
        form, first = self._custom_form, len(CONTACT_FIELDS)
        rows = []
        for row in range(first, first + self._custom_rows):
            name = form.itemAt(row, QFormLayout.ItemRole.LabelRole).widget()
            value = form.itemAt(row, QFormLayout.ItemRole.FieldRole).widget()
            assert isinstance(name, QLabel) and isinstance(value, QLabel)
            rows.append((name.text().removesuffix(":"), value.text()))
        return rows

    def _show_deadline(self, detail: LeadDetail) -> None:
        label = self._values["Back to pool"]
        if detail.returns_at is None:
            label.setText(EMPTY)
            label.setToolTip("")
            return
        label.setText(f"{format_datetime(detail.returns_at)} ({detail.returns_because})")
        label.setToolTip(
            "If nothing more is done with this lead by then, it goes back to the pool "
            "(the keep period, or the days without action, in Settings → Rules)."
        )

    def call(self) -> bool:
        """Act as if the phone link was clicked; False when there is no number."""
        if self.detail is None or not self.detail.lead.phone:
            return False
        self.call_requested.emit(self.detail.lead.id, self.detail.lead.phone)
        return True

    def take_draft(self) -> str:
        """The note typed but not added yet (stripped), which leaves the box empty."""
        text = self.note_edit.toPlainText().strip()
        self.note_edit.clear()
        return text

    def _on_phone_link(self, _link: str) -> None:
        self.call()

    def _on_add_note_clicked(self) -> None:
        text = self.note_edit.toPlainText().strip()
        if self.detail is not None and text:
            self.note_submitted.emit(self.detail.lead.id, text)


def tel_uri_number(phone: str) -> str:
    """A phone number as a ``tel:`` URI wants it: a leading + and digits only."""
    digits = re.sub(r"[^\d+]", "", phone)
    return ("+" if digits.startswith("+") else "") + digits.replace("+", "")


def _notes_html(detail: LeadDetail) -> str:
    if not detail.notes:
        return ""
    parts = []
    for note in reversed(detail.notes):  # newest first: the latest word on top
        who = html.escape(note.author_name or "Someone")
        body = html.escape(note.body).replace("\n", "<br>")
        parts.append(
            f"<p style='margin-bottom:8px'><b>{who}</b> · "
            f"<small>{format_datetime(note.at)}</small><br>{body}</p>"
        )
    return "".join(parts)
