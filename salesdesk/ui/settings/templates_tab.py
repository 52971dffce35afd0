"""The Email templates tab: subject and bodies with merge fields, and a live preview.

The preview is the template filled in with a real lead from the floor (the
manager picks which), rendered on the worker exactly as sending would render
it — so a mistake or an unknown field shows under the part that has it, with
the field's name, while typing; Save refuses it the same way.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QPushButton,
    QSplitter,
    QTabWidget,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from salesdesk.services import mail
from salesdesk.services.records import LeadRow
from salesdesk.ui.context import AppContext
from salesdesk.ui.settings.field_message import FieldMessage, help_label
from salesdesk.ui.settings.settings_work import Preview, preview_context, preview_template
from salesdesk.ui.tasks import TaskFailure

PREVIEW_DELAY_MS = 250
LABELS = {
    "confirmation": "Email confirmed — to the lead",
    "appointment": "Appointment — to the admin team",
    "call_back_reminder": "Call back reminder — to the rep",
    "follow_up_reminder": "Follow-up reminder — to the rep",
    "assigned": "Lead assigned — to the rep",
    "digest": "Hourly digest — to each person",
}
# Where a refusal's ``field`` is shown.
PARTS = {"subject": "subject", "text body": "text", "HTML body": "html", "body": "text"}


@dataclass
class TemplateDraft:
    name: str
    subject: str
    body_text: str
    body_html: str
    original: mail.TemplateDetail
    error: str = ""
    error_part: str = ""

    @property
    def changed(self) -> bool:
        o = self.original
        return (self.subject, self.body_text, self.body_html) != (
            o.subject,
            o.body_text,
            o.body_html,
        )


class TemplatesTab(QWidget):
    """Templates on the left; the editor in the middle; the preview on the right.

    Signals:
        edited(): a template changed.
        previewed(): a preview (or its refusal) arrived; for tests.
    """

    edited = Signal()
    previewed = Signal()

    def __init__(
        self,
        context: AppContext,
        company_name: Callable[[], str],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self._context = context
        self._company_name = company_name
        self.drafts: dict[str, TemplateDraft] = {}
        self._leads: list[LeadRow] = []
        self._emails: dict[int, str] = {}
        self._loading = False
        self._last_editor: QLineEdit | QPlainTextEdit | None = None

        self.list = QListWidget()
        self.subject = QLineEdit()
        self.body_text = QPlainTextEdit()
        self.body_html = QPlainTextEdit()
        for editor in (self.body_text, self.body_html):
            editor.setLineWrapMode(QPlainTextEdit.LineWrapMode.WidgetWidth)
        self.messages = {part: FieldMessage() for part in ("subject", "text", "html")}
        self.bodies = QTabWidget()
        text_page, html_page = QWidget(), QWidget()
        for page, editor, part in (
            (text_page, self.body_text, "text"),
            (html_page, self.body_html, "html"),
        ):
            box = QVBoxLayout(page)
            box.setContentsMargins(0, 4, 0, 0)
            box.addWidget(editor, 1)
            box.addWidget(self.messages[part])
        self.bodies.addTab(text_page, "Plain text")
        self.bodies.addTab(html_page, "HTML")
        self.fields = QListWidget()
        self.fields.setToolTip("Double-click a field to put it where the cursor is")
        self.fields.setMaximumHeight(150)
        self.reset_button = QPushButton("Restore the shipped text")

        subject_box = QVBoxLayout()
        subject_box.setSpacing(2)
        subject_box.addWidget(self.subject)
        subject_box.addWidget(self.messages["subject"])
        form = QFormLayout()
        form.addRow("Subject", subject_box)
        editor = QVBoxLayout()
        editor.addLayout(form)
        editor.addWidget(self.bodies, 1)
        editor.addWidget(QLabel("Merge fields"))
        editor.addWidget(self.fields)
        editor.addWidget(
            help_label("Write a field as {{ first_name }}; only the fields listed can be used.")
        )
        editor.addWidget(self.reset_button)
        editor_widget = QWidget()
        editor_widget.setLayout(editor)

        self.preview_lead = QComboBox()
        self.preview_lead.setToolTip("The lead whose details fill in the preview")
        self.preview_subject = QLabel()
        self.preview_subject.setWordWrap(True)
        self.preview_subject.setTextFormat(Qt.TextFormat.PlainText)
        font = self.preview_subject.font()
        font.setBold(True)
        self.preview_subject.setFont(font)
        self.preview_text = QTextBrowser()
        self.preview_html = QTextBrowser()
        self.preview_html.setOpenLinks(False)
        self.preview_tabs = QTabWidget()
        self.preview_tabs.addTab(self.preview_text, "Plain text")
        self.preview_tabs.addTab(self.preview_html, "HTML")
        self.preview_state = QLabel()
        self.preview_state.setWordWrap(True)
        lead_row = QHBoxLayout()
        lead_row.addWidget(QLabel("Preview with"))
        lead_row.addWidget(self.preview_lead, 1)
        preview = QVBoxLayout()
        preview.addLayout(lead_row)
        preview.addWidget(self.preview_subject)
        preview.addWidget(self.preview_tabs, 1)
        preview.addWidget(self.preview_state)
        preview_widget = QWidget()
        preview_widget.setLayout(preview)

        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(self.list)
        split.addWidget(editor_widget)
        split.addWidget(preview_widget)
        split.setSizes([210, 520, 470])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(split)

        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(PREVIEW_DELAY_MS)
        self._timer.timeout.connect(self.refresh_preview)
        self.list.currentRowChanged.connect(self._show_current)
        self.subject.textEdited.connect(self._on_edited)
        self.body_text.textChanged.connect(self._on_edited)
        self.body_html.textChanged.connect(self._on_edited)
        self.preview_lead.currentIndexChanged.connect(lambda _i: self.refresh_preview())
        self.fields.itemDoubleClicked.connect(self._insert_field)
        self.reset_button.clicked.connect(self.restore_default)
        for widget in (self.subject, self.body_text, self.body_html):
            widget.installEventFilter(self)

    def eventFilter(self, watched: object, event: object) -> bool:  # noqa: N802 - Qt override
        from PySide6.QtCore import QEvent

        if getattr(event, "type", lambda: None)() == QEvent.Type.FocusIn and isinstance(
            watched, QLineEdit | QPlainTextEdit
        ):
            self._last_editor = watched
        return False

    # --- loading ---

    def load(
        self,
        templates: Sequence[mail.TemplateDetail],
        leads: Sequence[LeadRow],
        emails: Mapping[int, str],
    ) -> None:
        self.drafts = {
            t.name: TemplateDraft(t.name, t.subject, t.body_text, t.body_html, t) for t in templates
        }
        self._leads = list(leads)
        self._emails = dict(emails)
        self.preview_lead.blockSignals(True)
        self.preview_lead.clear()
        for lead in self._leads:
            extra = f" — {lead.company}" if lead.company else ""
            self.preview_lead.addItem(f"{lead.name}{extra}", lead.id)
        if not self._leads:
            self.preview_lead.addItem("Sample values (the floor has no leads yet)", None)
        self.preview_lead.blockSignals(False)
        self.list.blockSignals(True)
        self.list.clear()
        for t in templates:
            item = QListWidgetItem(LABELS.get(t.name, t.name.replace("_", " ").capitalize()))
            item.setData(Qt.ItemDataRole.UserRole, t.name)
            self.list.addItem(item)
        self.list.blockSignals(False)
        self.list.setCurrentRow(0)
        self._show_current()

    @property
    def current(self) -> TemplateDraft | None:
        item = self.list.currentItem()
        return self.drafts.get(item.data(Qt.ItemDataRole.UserRole)) if item else None

    def select(self, name: str) -> None:
        for row in range(self.list.count()):
            if self.list.item(row).data(Qt.ItemDataRole.UserRole) == name:
                self.list.setCurrentRow(row)

    def _show_current(self, _row: int = -1) -> None:
        draft = self.current
        if draft is None:
            return
        self._loading = True
        try:
            self.subject.setText(draft.subject)
            self.subject.setCursorPosition(0)
            self.body_text.setPlainText(draft.body_text)
            self.body_html.setPlainText(draft.body_html)
            self.fields.clear()
            for name in mail.TEMPLATE_FIELDS.get(draft.name, ()):
                self.fields.addItem("{{ " + name + " }}")
        finally:
            self._loading = False
        self._show_error(draft)
        self.refresh_preview()

    # --- edits ---

    def _on_edited(self, *_args: object) -> None:
        draft = self.current
        if draft is None or self._loading:
            return
        draft.subject = self.subject.text()
        draft.body_text = self.body_text.toPlainText()
        draft.body_html = self.body_html.toPlainText()
        self._timer.start()
        self.edited.emit()

    def _insert_field(self, item: QListWidgetItem) -> None:
        target = self._last_editor or self.body_text
        if isinstance(target, QLineEdit):
            target.insert(item.text())
            self._on_edited()
        else:
            target.insertPlainText(item.text())
        target.setFocus()

    def restore_default(self) -> None:
        draft = self.current
        if draft is None:
            return
        self._context.tasks.submit(
            mail.default_template,
            draft.name,
            on_done=self._on_default,
            on_error=self._on_failed,
            key="settings.template_default",
        )

    def _on_default(self, shipped: mail.TemplateDetail) -> None:
        draft = self.drafts.get(shipped.name)
        if draft is None:
            return
        draft.subject, draft.body_text, draft.body_html = (
            shipped.subject,
            shipped.body_text,
            shipped.body_html,
        )
        if self.current is draft:
            self._show_current()
        self.edited.emit()

    # --- the preview (rendered on the worker) ---

    def refresh_preview(self) -> None:
        draft = self.current
        if draft is None:
            return
        lead_id = self.preview_lead.currentData()
        lead = next((r for r in self._leads if r.id == lead_id), None)
        email = self._emails.get(lead.owner_id or 0, "") if lead else ""
        context = preview_context(draft.name, lead, email, self._company_name())
        self.preview_state.setText("Filling in the preview…")
        snapshot = (draft.subject, draft.body_text, draft.body_html)
        self._context.tasks.submit(
            preview_template,
            draft.name,
            draft.subject,
            draft.body_text,
            draft.body_html,
            context,
            on_done=lambda result, d=draft, snap=snapshot: self._on_preview(d, snap, result),
            on_error=self._on_failed,
            key="settings.preview",
        )

    def _on_preview(
        self, draft: TemplateDraft, snapshot: tuple[str, str, str], result: Preview
    ) -> None:
        if (draft.subject, draft.body_text, draft.body_html) != snapshot:
            return  # typed since; a newer preview is on its way
        draft.error = result.error
        draft.error_part = PARTS.get(result.field, "text") if result.error else ""
        if self.current is draft:
            self._show_error(draft)
            if not result.error:
                self.preview_subject.setText(result.subject)
                self.preview_text.setPlainText(result.body_text)
                self.preview_html.setHtml(result.body_html or "<p><i>No HTML part.</i></p>")
                lead = self.preview_lead.currentText()
                self.preview_state.setText(f"Filled in with {lead}: what the recipient would get.")
            else:
                self.preview_state.setText("The preview shows the last version that worked.")
        self.previewed.emit()

    def _show_error(self, draft: TemplateDraft) -> None:
        for part, message in self.messages.items():
            message.show_message(draft.error if part == draft.error_part else "")
        if draft.error_part == "html":
            self.bodies.setCurrentIndex(1)
        elif draft.error_part == "text":
            self.bodies.setCurrentIndex(0)

    def _on_failed(self, failure: TaskFailure) -> None:
        self.preview_state.setText(failure.message)

    # --- checking and the plan ---

    def check_all(self) -> list[str]:
        bad = [d for d in self.drafts.values() if d.changed and d.error]
        if bad:
            self.select(bad[0].name)
        return [f"{LABELS.get(d.name, d.name)}: {d.error}" for d in bad]

    def show_refusal(self, name: str, field: str, message: str) -> None:
        draft = self.drafts.get(name)
        if draft is None:
            return
        draft.error, draft.error_part = message, PARTS.get(field, "text")
        self.select(name)
        self._show_error(draft)

    def changes(self) -> list[mail.TemplateDetail]:
        return [
            mail.TemplateDetail(
                d.name, d.subject, d.body_text, d.body_html, mail.TEMPLATE_FIELDS.get(d.name, ())
            )
            for d in self.drafts.values()
            if d.changed
        ]
