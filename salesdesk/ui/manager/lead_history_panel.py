"""The selected lead for a manager: who holds it, and everything that happened to it.

Every owner's actions and notes, with who and when — the history the services
write with every transition — so a manager can see why a lead is where it is
before moving it. Shown as wrapped text rather than a table, so it reads in a
narrow side panel.
"""

from __future__ import annotations

from datetime import datetime
from html import escape

from PySide6.QtWidgets import QLabel, QTabWidget, QTextBrowser, QVBoxLayout, QWidget

from salesdesk.services.lead_table import STATUS_WORDS
from salesdesk.services.records import EventRow, LeadDetail, NoteRow
from salesdesk.ui.desk.history_model import describe_actor, describe_event
from salesdesk.ui.desk.lead_panel import filled_fields
from salesdesk.ui.manager.pool_model import short_date
from salesdesk.ui.timefmt import EMPTY, format_compact, format_datetime

NOTHING_SELECTED = "Select a lead to see its history."


def history_html(events: tuple[EventRow, ...], this_year: int | None = None) -> str:
    """Newest first: what happened, then when and who, one paragraph each.

    ``this_year`` drops the year from this year's dates (as the table does),
    so "2 Mar 09:30 · Carol Nguyen" fits on one line of the narrow pane.
    """
    items = [
        f"<p style='margin:0 0 8px 0'>{escape(describe_event(e))}<br>"
        f"<span style='color:gray'>{escape(_when(e.at, this_year))} · "
        f"{escape(describe_actor(e))}</span></p>"
        for e in reversed(events)
    ]
    return "".join(items) or "<p>No history yet.</p>"


def notes_html(notes: tuple[NoteRow, ...], this_year: int | None = None) -> str:
    items = [
        f"<p style='margin:0 0 10px 0'><span style='color:gray'>"
        f"{escape(_when(n.at, this_year))} · {escape(n.author_name or 'SalesDesk')}</span><br>"
        f"{escape(n.body).replace(chr(10), '<br>')}</p>"
        for n in reversed(notes)
    ]
    return "".join(items)


def fields_html(fields: list[tuple[str, str]]) -> str:
    """The extra imported fields, one per paragraph: name in grey, then the value as it came."""
    return "".join(
        f"<p style='margin:0 0 8px 0'><span style='color:gray'>{escape(name)}</span><br>"
        f"{escape(value).replace(chr(10), '<br>')}</p>"
        for name, value in fields
    )


def _breakable(email: str | None) -> str:
    return (email or "").replace("@", "@\u200b")


def _when(at: datetime, this_year: int | None) -> str:
    return format_compact(at) if this_year is None else short_date(at, this_year)


class LeadHistoryPanel(QWidget):
    """The lead's summary, its history (newest first) and its notes."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.title = QLabel(NOTHING_SELECTED)
        self.title.setWordWrap(True)
        font = self.title.font()
        font.setPointSizeF(font.pointSizeF() * 1.2)
        font.setBold(True)
        self.title.setFont(font)
        self.summary = QLabel()
        self.summary.setWordWrap(True)
        self.history = QTextBrowser()
        self.history.setOpenLinks(False)
        self.notes = QTextBrowser()
        self.notes.setPlaceholderText("No notes on this lead.")
        # Columns an import kept without a field of their own (a website, a job title).
        self.fields = QTextBrowser()
        self.fields.setPlaceholderText(
            "No extra fields. Columns of an imported file that have no field of their "
            "own (a website, a job title) show here."
        )
        self.tabs = QTabWidget()
        self.tabs.addTab(self.history, "History")
        self.tabs.addTab(self.notes, "Notes")
        self.tabs.addTab(self.fields, "Fields")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 0, 0, 0)
        layout.addWidget(self.title)
        layout.addWidget(self.summary)
        layout.addWidget(self.tabs, 1)
        self._lead_id: int | None = None
        self.events: tuple[EventRow, ...] = ()
        self.clear()

    @property
    def lead_id(self) -> int | None:
        return self._lead_id

    def clear(self, text: str = NOTHING_SELECTED) -> None:
        self._lead_id = None
        self.events = ()
        self.title.setText(text)
        self.summary.clear()
        self.history.clear()
        self.notes.clear()
        self.fields.clear()
        self.tabs.setTabText(0, "History")
        self.tabs.setTabText(1, "Notes")
        self.tabs.setTabText(2, "Fields")
        self.tabs.setEnabled(False)

    def show_detail(self, detail: LeadDetail, this_year: int | None = None) -> None:
        """Show a lead; ``this_year`` (local) shortens this year's dates in its history."""
        lead = detail.lead
        self._lead_id = lead.id
        self.events = detail.history
        self.title.setText(lead.name)
        owner = lead.owner_name or "nobody"
        lines = [
            f"{STATUS_WORDS.get(lead.status, lead.status)} · held by {owner} · "
            f"pool {lead.pool_name or EMPTY}",
            # An email address may break after its @ in the narrow pane (not be cut off).
            *(x for x in (lead.company, _breakable(lead.email), lead.phone) if x),
        ]
        if lead.call_back_at is not None:
            lines.append(f"Call back {format_datetime(lead.call_back_at)}")
        if lead.tags:
            lines.append("Tags: " + ", ".join(lead.tags))
        self.summary.setText("\n".join(lines))
        self.history.setHtml(history_html(detail.history, this_year))
        self.notes.setHtml(notes_html(detail.notes, this_year))
        self.tabs.setTabText(0, f"History ({len(detail.history)})")
        self.tabs.setTabText(1, f"Notes ({len(detail.notes)})" if detail.notes else "Notes")
        fields = filled_fields(detail.custom)
        self.fields.setHtml(fields_html(fields))
        self.tabs.setTabText(2, f"Fields ({len(fields)})" if fields else "Fields")
        self.tabs.setEnabled(True)
