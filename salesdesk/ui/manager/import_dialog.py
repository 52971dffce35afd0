"""Import leads from a CSV file: choose it, check where each column goes, import, read the report.

The dialog previews the file on the worker (how it was read, each column's
first values and the field it fills, as :func:`importing.preview_file` plans
it), lets the manager send any column elsewhere, then runs
:func:`importing.import_csv` on the worker with a progress bar and a Stop
button. It ends with what a manager needs to follow up: how many leads went
in, and every skipped or rejected row with its line and why, which can be
saved as a text file. ``salesdesk import`` does the same from a script.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDialog,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from salesdesk.services import importing
from salesdesk.services.importing import FIELDS, ImportPreview, ImportSummary
from salesdesk.services.records import PoolRow
from salesdesk.ui.context import LEADS, TEAM, AppContext
from salesdesk.ui.tasks import Progress, TaskFailure

FIELD_WORDS = {
    "first_name": "First name",
    "last_name": "Last name",
    "name": "Full name (split in two)",
    "email": "Email",
    "phone": "Phone",
    "company": "Company",
    "source": "Source",
    "score": "Score",
    "priority": "Priority",
    "custom": "Keep as an extra field",
    "ignore": "Leave out",
}
assert set(FIELD_WORDS) == {*FIELDS, "custom", "ignore"}

ROUTING_NOTES = {
    "next": "Reps take these leads with Next.",
    "round_robin": "As they arrive, each lead goes to the pool's next member in turn.",
    "weighted": "As they arrive, leads are shared among the pool's members by their weights.",
    "manual": "The leads wait in the pool for a manager to assign them.",
}
DELIMITER_WORDS = {",": "comma-separated", ";": "semicolon-separated", "\t": "tab-separated"}
POLL_MS = 100
_PROBLEM = "color: rgb(190, 30, 30);"
HEADLINE = "font-weight: bold;"


def describe_summary(summary: ImportSummary, pool: str) -> str:
    """The report's first line: what went in, and what did not."""
    went_in = f"{summary.imported:,} lead{'' if summary.imported == 1 else 's'}"
    if summary.stopped_at is not None:
        return (
            f"Stopped at line {summary.stopped_at:,} of {summary.lines + 1:,}: {went_in} went "
            f"into {pool}. Import the same file again to add the rest; the leads already in "
            "are skipped as duplicates."
        )
    text = f"Imported {went_in} into {pool}."
    left_out = [
        f"{n:,} {'row was' if n == 1 else 'rows were'} {what}"
        for n, what in (
            (summary.duplicates, "skipped as duplicates"),
            (len(summary.rejected), "rejected"),
        )
        if n
    ]
    if left_out:
        each = "it is" if summary.duplicates + len(summary.rejected) == 1 else "each is"
        text += f" {' and '.join(left_out)}; {each} listed below with its line."
    return text


def report_lines(summary: ImportSummary) -> list[str]:
    """Every row that did not go in, in the file's order, with its line and why."""
    rows = [(r.line, f"rejected: {r.reason}") for r in summary.rejected]
    rows += [(r.line, f"skipped: {r.reason}") for r in summary.duplicate_rows]
    return [f"line {line}: {why}" for line, why in sorted(rows)]


class ImportDialog(QDialog):
    """Choose a file and a pool, check the columns, import, and read what happened.

    Signals:
        imported(object): an :class:`ImportSummary` (the import finished or was stopped).
    """

    imported = Signal(object)

    def __init__(
        self,
        context: AppContext,
        pools: Sequence[PoolRow],
        parent: QWidget | None = None,
        start_dir: str = "",
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Import leads")
        self.resize(780, 600)
        self._context = context
        self._start_dir = start_dir
        self._path: Path | None = None
        self._preview: ImportPreview | None = None
        self._progress: Progress | None = None
        self.summary: ImportSummary | None = None

        self.file_edit = QLineEdit()
        self.file_edit.setReadOnly(True)
        self.file_edit.setPlaceholderText("A CSV file from a spreadsheet, a CRM or a mailing tool")
        self.choose_button = QPushButton("Choose file…")
        self.file_info = QLabel(
            "Column names are matched whatever wrote the file (First Name, first_name, Vorname…); "
            "check them below before importing."
        )
        self.file_info.setWordWrap(True)
        self.columns = QTableWidget(0, 3)
        self.columns.setHorizontalHeaderLabels(["Column in the file", "First values", "Goes into"])
        self.columns.verticalHeader().hide()
        self.columns.setWordWrap(False)
        self.columns.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.columns.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.columns.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        header = self.columns.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.ResizeToContents)
        self.problem = QLabel()
        self.problem.setWordWrap(True)
        self.problem.setStyleSheet(_PROBLEM)
        self.problem.hide()

        self.pool = QComboBox()
        for pool in sorted(pools, key=lambda p: (not p.active, p.name.casefold())):
            self.pool.addItem(pool.name if pool.active else f"{pool.name} (inactive)", pool)
        self.pool_note = QLabel()
        self.pool_note.setWordWrap(True)
        self.source = QLineEdit()
        self.source.setPlaceholderText("From the file's Source column, else the file's name")
        self.source.setToolTip("Written on every lead of this file, e.g. 'Trade show 2026'")

        self.progress_bar = QProgressBar()
        self.progress_bar.hide()
        self.headline = QLabel()
        self.headline.setWordWrap(True)
        self.headline.setStyleSheet(HEADLINE)
        self.headline.hide()
        self.report = QPlainTextEdit()
        self.report.setReadOnly(True)
        self.report.hide()

        self.import_button = QPushButton("Import")
        self.import_button.setDefault(True)
        self.import_button.setEnabled(False)
        self.stop_button = QPushButton("Stop")
        self.stop_button.setToolTip("Stop after the rows being written now; what went in stays in")
        self.stop_button.hide()
        self.save_button = QPushButton("Save report…")
        self.save_button.hide()
        self.close_button = QPushButton("Cancel")

        file_row = QHBoxLayout()
        file_row.addWidget(QLabel("File:"))
        file_row.addWidget(self.file_edit, 1)
        file_row.addWidget(self.choose_button)
        form = QFormLayout()
        form.addRow("Into pool:", self.pool)
        form.addRow("", self.pool_note)
        form.addRow("Source:", self.source)
        buttons = QHBoxLayout()
        buttons.addWidget(self.save_button)
        buttons.addStretch(1)
        for button in (self.stop_button, self.import_button, self.close_button):
            buttons.addWidget(button)
        layout = QVBoxLayout(self)
        layout.addLayout(file_row)
        layout.addWidget(self.file_info)
        layout.addWidget(self.columns, 1)
        layout.addWidget(self.problem)
        layout.addLayout(form)
        layout.addWidget(self.progress_bar)
        layout.addWidget(self.headline)
        layout.addWidget(self.report, 1)
        layout.addLayout(buttons)

        self._poll = QTimer(self)
        self._poll.setInterval(POLL_MS)
        self._poll.timeout.connect(self._show_progress)
        self.choose_button.clicked.connect(self.choose_file)
        self.import_button.clicked.connect(self.start_import)
        self.stop_button.clicked.connect(self.stop_import)
        self.save_button.clicked.connect(self.save_report)
        self.close_button.clicked.connect(self.reject)
        self.pool.currentIndexChanged.connect(self._show_pool_note)
        self._show_pool_note()

    # --- the file and its columns ---

    def choose_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Import leads", self._start_dir, "CSV files (*.csv *.txt);;All files (*)"
        )
        if path:
            self.open_file(Path(path))

    def open_file(self, path: Path) -> None:
        """Read the file's columns (on the worker) and show where each one goes."""
        self._path = path
        self._preview = None
        self.file_edit.setText(str(path))
        self.file_info.setText(f"Reading {path.name}…")
        self.columns.setRowCount(0)
        self.problem.hide()
        self.import_button.setEnabled(False)
        self._context.tasks.submit(
            importing.preview_file,
            path,
            on_done=self._on_preview,
            on_error=self._on_preview_failed,
            key="import.preview",
        )

    def _on_preview(self, preview: ImportPreview) -> None:
        self._preview = preview
        how = DELIMITER_WORDS.get(preview.delimiter, f"separated by {preview.delimiter!r}")
        lines = f"{preview.lines:,} line{'' if preview.lines == 1 else 's'}"
        self.file_info.setText(
            f"Read as {preview.encoding}, {how}: {lines} after the column names. "
            "Change where a column goes if it was matched wrongly."
        )
        self.columns.setRowCount(len(preview.columns))
        for row, column in enumerate(preview.columns):
            self.columns.setItem(row, 0, QTableWidgetItem(column.heading))
            samples = QTableWidgetItem(" · ".join(column.samples))
            samples.setToolTip("\n".join(column.samples))
            self.columns.setItem(row, 1, samples)
            choice = QComboBox()
            for field, words in FIELD_WORDS.items():
                choice.addItem(words, field)
            choice.setItemData(
                choice.findData("custom"),
                "Shown on the lead under this column's name",
                Qt.ItemDataRole.ToolTipRole,
            )
            choice.setCurrentIndex(choice.findData(column.field))
            choice.currentIndexChanged.connect(self._check_columns)
            self.columns.setCellWidget(row, 2, choice)
        self._check_columns()

    def _on_preview_failed(self, failure: TaskFailure) -> None:
        self.file_info.setText("This file cannot be imported.")
        self._show_problem(failure.message)

    def field_of(self, row: int) -> str:
        choice = self.columns.cellWidget(row, 2)
        assert isinstance(choice, QComboBox)
        return str(choice.currentData())

    def set_field(self, heading: str, field: str) -> None:
        """Send a column elsewhere, as the manager would with its drop-down."""
        assert self._preview is not None
        row = [c.heading for c in self._preview.columns].index(heading)
        choice = self.columns.cellWidget(row, 2)
        assert isinstance(choice, QComboBox)
        choice.setCurrentIndex(choice.findData(field))

    def mapping(self) -> dict[str, str]:
        """The columns the manager sent somewhere other than the suggestion."""
        if self._preview is None:
            return {}
        return {
            column.heading: self.field_of(row)
            for row, column in enumerate(self._preview.columns)
            if self.field_of(row) != column.field
        }

    def _check_columns(self) -> None:
        if self._preview is None:
            return
        fields = {self.field_of(row) for row in range(self.columns.rowCount())}
        problem = None
        if not fields & {"email", "phone"}:
            problem = self._preview.problem or (
                "No column goes into Email or Phone: choose the one that holds them, "
                "since every lead needs an email or a phone."
            )
        self._show_problem(problem)
        self.import_button.setEnabled(problem is None and self.pool.count() > 0)

    def _show_problem(self, text: str | None) -> None:
        self.problem.setText(text or "")
        self.problem.setVisible(bool(text))

    def _show_pool_note(self) -> None:
        pool = self.pool.currentData()
        if pool is None:
            self.pool_note.setText("There is no pool yet: add one in Settings → Pools first.")
            return
        note = ROUTING_NOTES.get(pool.routing, "")
        if not pool.active:
            note += " The pool is inactive: nobody takes leads from it until it is turned on."
        self.pool_note.setText(note)

    # --- importing ---

    @property
    def importing(self) -> bool:
        return self._progress is not None

    def start_import(self) -> None:
        if self._path is None or self.pool.currentData() is None or self.importing:
            return
        pool: PoolRow = self.pool.currentData()
        self._progress = progress = Progress()
        for widget in (self.choose_button, self.columns, self.pool, self.source):
            widget.setEnabled(False)
        self.import_button.setEnabled(False)
        self.close_button.setEnabled(False)
        self.stop_button.setEnabled(True)
        self.stop_button.show()
        self.progress_bar.setRange(0, 0)
        self.progress_bar.show()
        self.problem.hide()
        self._poll.start()
        self._context.run(
            importing.import_csv,
            self._path,
            pool.id,
            mapping=self.mapping() or None,
            source=self.source.text().strip() or None,
            progress=progress.report,
            should_stop=progress.stop_requested,
            on_done=lambda summary: self._on_imported(summary, pool.name),
            on_error=self._on_import_failed,
            owner=self,
        )

    def stop_import(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self.stop_button.setEnabled(False)
            self.progress_bar.setFormat("Stopping after the rows being written now…")

    def _show_progress(self) -> None:
        progress = self._progress
        if progress is None or not progress.total:
            return
        self.progress_bar.setRange(0, progress.total)
        self.progress_bar.setValue(progress.done)
        if not progress.stop_requested():
            self.progress_bar.setFormat(f"Line {progress.done:,} of {progress.total:,}")

    def _finish(self) -> None:
        self._poll.stop()
        self._progress = None
        self.progress_bar.hide()
        self.stop_button.hide()
        self.close_button.setEnabled(True)

    def _on_imported(self, summary: ImportSummary, pool: str) -> None:
        self._finish()
        self.summary = summary
        self.close_button.setText("Close")
        self.headline.setText(describe_summary(summary, pool))
        self.headline.show()
        lines = report_lines(summary)
        self.report.setPlainText("\n".join(lines))
        self.report.setVisible(bool(lines))
        self.save_button.setVisible(bool(lines))
        self.columns.hide()
        self.file_info.hide()
        self._context.announce(LEADS, TEAM)
        self.imported.emit(summary)

    def _on_import_failed(self, failure: TaskFailure) -> None:
        self._finish()
        for widget in (self.choose_button, self.columns, self.pool, self.source):
            widget.setEnabled(True)
        self._check_columns()
        self._show_problem(
            f"{failure.message} Leads written before this stay in; importing the same "
            "file again adds only the rest."
        )
        self._context.announce(LEADS, TEAM)

    # --- the report ---

    def save_report(self) -> None:
        name = f"{self._path.stem if self._path else 'import'}-report.txt"
        start = str(Path(self._start_dir) / name) if self._start_dir else name
        path, _ = QFileDialog.getSaveFileName(self, "Save the report", start, "Text (*.txt)")
        if path:
            self.save_report_to(Path(path))

    def save_report_to(self, path: Path) -> None:
        text = f"{self.headline.text()}\n\n{self.report.toPlainText()}\n"
        try:
            path.write_text(text, encoding="utf-8")
        except OSError as exc:
            self._show_problem(f"Cannot write {path}: {exc.strerror or exc}.")

    # --- closing ---

    def reject(self) -> None:
        if self.importing:  # Escape while importing: stop, and close once it has
            self.stop_import()
            return
        super().reject()

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt override
        if self.importing:
            self.stop_import()
            event.ignore()
            return
        super().closeEvent(event)


__all__ = ["ImportDialog", "describe_summary", "report_lines"]
