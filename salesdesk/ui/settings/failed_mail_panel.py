"""Mail the admin should know about: given up, waiting to retry, or partly refused.

Shown under the mail server's settings, so an admin who fixes a password or a
port sees at once which messages are stuck, with the server's own reason, and
can send them again.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from salesdesk.services import outbox_admin
from salesdesk.ui.context import AppContext
from salesdesk.ui.tasks import TaskFailure
from salesdesk.ui.timefmt import format_datetime

COLUMNS = ("To", "Subject", "State", "Tries", "The server's reason")
STATES = {"failed": "Given up", "retrying": "Will retry", "partly_sent": "Partly sent"}


def _stuck_and_queued(
    db: Any, actor: Any
) -> tuple[list[outbox_admin.MailRow], outbox_admin.OutboxSummary]:
    return outbox_admin.list_failed_mail(db, actor), outbox_admin.outbox_summary(db, actor)


class FailedMailPanel(QWidget):
    """A list of stuck mail with Retry.

    Signals:
        retried(int): how many messages were put back in the queue.
    """

    retried = Signal(int)

    def __init__(self, context: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._context = context
        self._rows: list[outbox_admin.MailRow] = []
        self.title = QLabel("<b>Mail that did not go out</b>")
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(len(COLUMNS) - 1, QHeaderView.ResizeMode.Stretch)
        self.table.setWordWrap(True)
        self.refresh_button = QPushButton("Refresh")
        self.retry_button = QPushButton("Retry selected")
        self.retry_button.setToolTip("Send the selected messages again now")
        buttons = QHBoxLayout()
        buttons.addWidget(self.status, 1)
        buttons.addWidget(self.refresh_button)
        buttons.addWidget(self.retry_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 8, 0, 0)
        layout.addWidget(self.title)
        layout.addWidget(self.table, 1)
        layout.addLayout(buttons)
        self.refresh_button.clicked.connect(self.refresh)
        self.retry_button.clicked.connect(self.retry_selected)
        self.table.itemSelectionChanged.connect(self._sync_buttons)
        self._sync_buttons()

    @property
    def rows(self) -> tuple[outbox_admin.MailRow, ...]:
        return tuple(self._rows)

    def refresh(self) -> None:
        self._context.run(
            _stuck_and_queued,
            on_done=lambda found: self._show(*found),
            on_error=self._on_failed,
            key="settings.failed_mail",
            busy=[self.refresh_button],
        )

    def retry_selected(self) -> None:
        ids = [self._rows[i.row()].id for i in self.table.selectionModel().selectedRows()]
        ids = [i for i in ids if any(r.id == i and r.can_retry for r in self._rows)]
        if not ids:
            return
        self._context.run(
            outbox_admin.retry_mail,
            ids,
            on_done=self._on_retried,
            on_error=self._on_failed,
            key="settings.retry_mail",
            busy=[self.retry_button],
        )

    def _show(
        self, rows: list[outbox_admin.MailRow], queue: outbox_admin.OutboxSummary | None = None
    ) -> None:
        self._rows = list(rows)
        self.table.setRowCount(len(rows))
        for r, mail in enumerate(rows):
            values = (
                mail.to_address,
                mail.subject,
                STATES.get(mail.status, mail.status),
                str(mail.attempts),
                mail.last_error,
            )
            for c, value in enumerate(values):
                item = QTableWidgetItem(value)
                item.setToolTip(value)
                if c == 3:
                    item.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
                self.table.setItem(r, c, item)
        self.table.resizeColumnsToContents()
        self.table.horizontalHeader().setSectionResizeMode(
            len(COLUMNS) - 1, QHeaderView.ResizeMode.Stretch
        )
        if rows:
            newest = max(m.created_at for m in rows)
            self.status.setText(
                f"{len(rows)} message(s) need attention; the newest was written "
                f"{format_datetime(newest)}."
            )
        elif queue is not None and queue.waiting:
            # Not stuck, but not gone either: with no mail server yet, mail written
            # days ago would all go out (late) the moment one is saved.
            n = queue.waiting
            self.status.setText(
                f"No mail is stuck. {n} email{'s wait' if n != 1 else ' waits'} to go out, the "
                f"oldest written {format_datetime(queue.oldest_waiting)}: they go at the next "
                "delivery round once a mail server is saved."
            )
        else:
            self.status.setText("No mail is stuck: everything written has gone out.")
        self._sync_buttons()

    def _on_retried(self, result: Any) -> None:
        count = len(getattr(result, "done", ()))
        self.status.setText(f"{count} message(s) put back in the queue; they go out next round.")
        self.retried.emit(count)
        self.refresh()

    def _on_failed(self, failure: TaskFailure) -> None:
        self.status.setText(failure.message)

    def _sync_buttons(self) -> None:
        selected = self.table.selectionModel().selectedRows() if self.table.selectionModel() else []
        self.retry_button.setEnabled(
            any(0 <= i.row() < len(self._rows) and self._rows[i.row()].can_retry for i in selected)
        )
