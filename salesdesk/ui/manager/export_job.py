"""Exporting the manager's table to a CSV file, on the worker, with a Stop button.

:func:`lead_export.export_leads` writes what the table shows (its filters and
its order); this runs it on the worker and shows a progress window once the
export has taken longer than a moment. Stop ends it between pages, and then no
file is written.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, Qt, QTimer, Signal
from PySide6.QtWidgets import QProgressDialog, QWidget

from salesdesk.services import lead_export
from salesdesk.services.lead_export import ExportSummary
from salesdesk.services.lead_table import LeadFilter
from salesdesk.ui.context import AppContext
from salesdesk.ui.message_bar import ERROR, INFO
from salesdesk.ui.tasks import Progress, TaskFailure

POLL_MS = 100
SHOW_AFTER_MS = 400  # a quick export never flashes a window


def describe_export(summary: ExportSummary) -> str:
    if summary.stopped:
        return "Export stopped: no file was written."
    leads = f"{summary.rows:,} lead{'' if summary.rows == 1 else 's'}"
    extra = ""
    if summary.extra_columns:
        extra = f" with {len(summary.extra_columns)} extra imported field" + (
            "" if len(summary.extra_columns) == 1 else "s"
        )
    return f"Exported {leads}{extra} to {summary.path}."


class ExportJob(QObject):
    """One export: the worker writes, a progress window shows how far it got.

    Signals:
        finished(str, str): what happened, and the message level to show it with.
    """

    finished = Signal(str, str)

    def __init__(
        self,
        context: AppContext,
        path: Path,
        filters: LeadFilter,
        sort: str,
        descending: bool,
        expected: int,
        parent: QWidget,
    ) -> None:
        super().__init__(parent)
        self.progress = progress = Progress()
        self.window = QProgressDialog(
            f"Writing {expected:,} leads to {path.name}…" if expected else f"Writing {path.name}…",
            "Stop",
            0,
            expected,
            parent,
        )
        self.window.setWindowTitle("Export leads")
        self.window.setWindowModality(Qt.WindowModality.WindowModal)
        self.window.setMinimumDuration(SHOW_AFTER_MS)
        self.window.setAutoClose(False)
        self.window.setAutoReset(False)
        self.window.setValue(0)
        self.window.canceled.connect(progress.stop)
        self._poll = QTimer(self)
        self._poll.setInterval(POLL_MS)
        self._poll.timeout.connect(self._show_progress)
        self._poll.start()
        context.run(
            lead_export.export_leads,
            path,
            filters,
            sort,
            descending,
            progress=progress.report,
            should_stop=progress.stop_requested,
            on_done=self._on_done,
            on_error=self._on_failed,
        )

    def _show_progress(self) -> None:
        if self.window.maximum():
            self.window.setValue(min(self.progress.done, self.window.maximum() - 1))

    def _close(self) -> None:
        self._poll.stop()
        self.window.close()
        self.window.deleteLater()

    def _on_done(self, summary: ExportSummary) -> None:
        self._close()
        self.finished.emit(describe_export(summary), INFO)

    def _on_failed(self, failure: TaskFailure) -> None:
        self._close()
        self.finished.emit(failure.message, ERROR)


__all__ = ["ExportJob", "describe_export"]
