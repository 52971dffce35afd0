"""Import leads from a CSV file: choose it, check where each column goes, import, read the report.

The dialog previews the file on the worker (how it was read, each column's
first values and the field it fills, as :func:`importing.preview_file` plans
it), lets the manager send any column elsewhere, then runs
:func:`importing.import_csv` on the worker with a progress bar and a Stop
button. It ends with what a manager needs to follow up: how many leads went
in, and every row that did not go in as it was, by line and why, which can be
saved as a text file. ``salesdesk import`` does the same from a script.

The choices are sent by column position, not by heading, so two columns with
the same heading (two "Phone" columns) keep their own choices.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
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
from salesdesk.services.csv_file import DELIMITER_NAMES
from salesdesk.services.errors import ExportFileError
from salesdesk.services.importing import FIELDS, MAX_LENGTH, ImportPreview, ImportSummary
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
    "round_robin": (
        "As they arrive, each lead goes to the pool's next member in turn; when every "
        "member is at their cap, the rest wait in the pool."
    ),
    "weighted": (
        "As they arrive, leads are shared among the pool's members by their weights; when "
        "every member is at their cap, the rest wait in the pool."
    ),
    "manual": "The leads wait in the pool for a manager to assign them.",
}
POLL_MS = 100
_PROBLEM = "color: rgb(190, 30, 30);"
_QUIET = "color: gray;"
HEADLINE = "font-weight: bold;"


def _rows(n: int) -> str:
    return f"{n:,} {'row was' if n == 1 else 'rows were'}"


def describe_summary(summary: ImportSummary, pool: str, routing: str = "next") -> str:
    """The report's first lines: what went in (and, in a push pool, to whom), and what did not."""
    went_in = f"{summary.imported:,} lead{'' if summary.imported == 1 else 's'}"
    left_out = []
    if summary.duplicates == 1:
        left_out.append("1 row was skipped as a duplicate")
    elif summary.duplicates:
        left_out.append(f"{summary.duplicates:,} rows were skipped as duplicates")
    if summary.rejected:
        left_out.append(f"{_rows(len(summary.rejected))} rejected")
    if summary.kept_aside:
        n = len({row.line for row in summary.kept_aside})  # a lead may have two set aside
        left_out.append(f"{n:,} lead{'' if n == 1 else 's'} went in with a value set aside")
    listed = ""
    if left_out:
        joined = (
            ", ".join(left_out[:-1]) + " and " + left_out[-1] if len(left_out) > 1 else left_out[0]
        )
        rows = summary.duplicates + len(summary.rejected) + len(summary.kept_aside)
        listed = f" {joined}; {'it is' if rows == 1 else 'each is'} listed below with its line."
    if summary.stopped_at is not None:
        last = summary.header_line + summary.lines
        return (
            f"Stopped at line {summary.stopped_at:,} of {last:,}: {went_in} went into "
            f"{pool}.{listed} Import the same file again to add the rest; the leads already "
            "in are skipped as duplicates."
        )
    handed = ""
    if routing in ("round_robin", "weighted") and summary.imported:
        waiting = summary.imported - summary.routed
        if not waiting:
            handed = " Every one went straight to the pool's members."
        else:
            handed = (
                f" {summary.routed:,} went straight to the pool's members; {waiting:,} wait in "
                "the pool until a member has room under their cap."
            )
    return f"Imported {went_in} into {pool}.{handed}{listed}"


def report_lines(summary: ImportSummary) -> list[str]:
    """Every row that did not go in as it was, in the file's order, with its line and why.

    A run of consecutive lines for the same reason is one line ("lines 2-9,001:
    skipped: email already in SalesDesk (9,000 rows)"), as after importing a
    file a second time.
    """
    rows = [(r.line, f"rejected: {r.reason}") for r in summary.rejected]
    rows += [(r.line, f"skipped: {r.reason}") for r in summary.duplicate_rows]
    rows += [(r.line, f"went in, but {r.reason}") for r in summary.kept_aside]
    rows.sort()
    lines: list[str] = []
    start = 0
    while start < len(rows):
        end = start
        while (
            end + 1 < len(rows)
            and rows[end + 1][1] == rows[start][1]
            and rows[end + 1][0] == rows[end][0] + 1
        ):
            end += 1
        first, why = rows[start]
        if end == start:
            lines.append(f"line {first}: {why}")
        else:
            last = rows[end][0]
            lines.append(f"lines {first:,}-{last:,}: {why} ({end - start + 1:,} rows)")
        start = end + 1
    return lines


def write_report(path: Path, text: str) -> None:
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise ExportFileError(f"Cannot write {path}: {exc.strerror or exc}.") from None


class ImportDialog(QDialog):
    """Choose a file and a pool, check the columns, import, and read what happened.

    ``pools`` may still be on their way when the dialog opens: :meth:`set_pools`
    fills the choice when they arrive.

    Signals:
        imported(object): an :class:`ImportSummary` (the import finished or was stopped).
    """

    imported = Signal(object)

    def __init__(
        self,
        context: AppContext,
        pools: Sequence[PoolRow] | None,
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
        self._pools_known = False
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
        self.pool_note = QLabel()
        self.pool_note.setWordWrap(True)
        self.source = QLineEdit()
        self.source.setMaxLength(MAX_LENGTH["source"])
        self.source.setPlaceholderText("From the file's Source column, else the file's name")
        self.source.setToolTip("Written on every lead of this file, e.g. 'Trade show 2026'")
        self.source_note = QLabel()
        self.source_note.setWordWrap(True)
        self.source_note.setStyleSheet(_QUIET)
        self.source_note.hide()

        self.progress_bar = QProgressBar()
        self.progress_bar.hide()
        self.headline = QLabel()
        self.headline.setWordWrap(True)
        self.headline.setStyleSheet(HEADLINE)
        self.headline.hide()
        self.report = QPlainTextEdit()
        self.report.setReadOnly(True)
        self.report.hide()
        self.saved_note = QLabel()
        self.saved_note.setStyleSheet(_QUIET)

        self.import_button = QPushButton("Import")
        self.import_button.setDefault(True)
        self.import_button.setEnabled(False)
        self.stop_button = QPushButton("Stop")
        self.stop_button.setToolTip("Stop after the rows being written now; what went in stays in")
        self.stop_button.hide()
        self.save_button = QPushButton("Save report…")
        self.save_button.hide()
        self.again_button = QPushButton("Import another file…")
        self.again_button.hide()
        self.close_button = QPushButton("Cancel")

        file_row = QHBoxLayout()
        file_row.addWidget(QLabel("File:"))
        file_row.addWidget(self.file_edit, 1)
        file_row.addWidget(self.choose_button)
        self.form = QWidget()
        form = QFormLayout(self.form)
        form.setContentsMargins(0, 0, 0, 0)
        form.addRow("Into pool:", self.pool)
        form.addRow("", self.pool_note)
        form.addRow("Source:", self.source)
        form.addRow("", self.source_note)
        buttons = QHBoxLayout()
        buttons.addWidget(self.save_button)
        buttons.addWidget(self.saved_note, 1)
        for button in (self.again_button, self.stop_button, self.import_button, self.close_button):
            buttons.addWidget(button)
        layout = QVBoxLayout(self)
        layout.addLayout(file_row)
        layout.addWidget(self.file_info)
        layout.addWidget(self.columns, 1)
        layout.addWidget(self.problem)
        layout.addWidget(self.form)
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
        self.again_button.clicked.connect(self.start_again)
        self.close_button.clicked.connect(self.reject)
        self.pool.currentIndexChanged.connect(self._show_pool_note)
        self.source.textChanged.connect(self._show_source_note)
        self.set_pools(pools)

    # --- the pools ---

    def set_pools(self, pools: Sequence[PoolRow] | None) -> None:
        """The pools to import into; ``None`` while they are being read."""
        chosen = self.pool.currentData()
        self._pools_known = pools is not None
        self.pool.blockSignals(True)
        self.pool.clear()
        for pool in sorted(pools or (), key=lambda p: (not p.active, p.name.casefold())):
            self.pool.addItem(pool.name if pool.active else f"{pool.name} (inactive)", pool)
        if chosen is not None:
            self.pool.setCurrentIndex(max(0, self.pool.findText(chosen.name)))
        self.pool.blockSignals(False)
        self._show_pool_note()
        self._check_columns()

    def _show_pool_note(self) -> None:
        pool = self.pool.currentData()
        if not self._pools_known:
            self.pool_note.setText("Reading the pools…")
            return
        if pool is None:
            self.pool_note.setText("There is no pool yet: an admin adds pools in Settings → Pools.")
            return
        note = ROUTING_NOTES.get(pool.routing, "")
        if not pool.active:
            note += " The pool is inactive: nobody takes leads from it until it is turned on."
        self.pool_note.setText(note)

    def _show_source_note(self) -> None:
        """A typed source wins over the file's own Source column: say where that goes."""
        own = [
            self._preview.columns[row].heading
            for row in range(self.columns.rowCount())
            if self._preview is not None and self.field_of(row) == "source"
        ]
        typed = bool(self.source.text().strip())
        if typed and own:
            self.source_note.setText(
                f'The file\'s "{own[0]}" column is then kept on each lead as an extra field.'
            )
        self.source_note.setVisible(typed and bool(own))

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
        name = DELIMITER_NAMES.get(preview.delimiter)
        how = f"{name}-separated" if name else f"separated by {preview.delimiter!r}"
        lines = f"{preview.lines:,} line{'' if preview.lines == 1 else 's'}"
        where = ""
        if preview.header_line > 1:
            where = f" (the column names are on line {preview.header_line})"
        self.file_info.setText(
            f"Read as {preview.encoding}, {how}: {lines} after the column names{where}. "
            "Change where a column goes if it was matched wrongly."
        )
        self.columns.setRowCount(len(preview.columns))
        for row, column in enumerate(preview.columns):
            self.columns.setItem(row, 0, QTableWidgetItem(column.heading))
            samples = [" ".join(s.split()) for s in column.samples]  # one line each
            shown = QTableWidgetItem(" · ".join(samples))
            shown.setToolTip("\n".join(samples))
            self.columns.setItem(row, 1, shown)
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
            choice.currentIndexChanged.connect(self._show_source_note)
            self.columns.setCellWidget(row, 2, choice)
        self._check_columns()
        self._show_source_note()

    def _on_preview_failed(self, failure: TaskFailure) -> None:
        self.file_info.setText("This file cannot be imported.")
        self._show_problem(failure.message)

    def field_of(self, row: int) -> str:
        choice = self.columns.cellWidget(row, 2)
        assert isinstance(choice, QComboBox)
        return str(choice.currentData())

    def set_field(self, heading: str, field: str, nth: int = 0) -> None:
        """Send a column elsewhere, as the manager would with its drop-down.

        ``nth`` picks among columns with the same heading (0 for the first).
        """
        assert self._preview is not None
        rows = [r for r, c in enumerate(self._preview.columns) if c.heading == heading]
        choice = self.columns.cellWidget(rows[nth], 2)
        assert isinstance(choice, QComboBox)
        choice.setCurrentIndex(choice.findData(field))

    def chosen_columns(self) -> dict[int, str]:
        """The columns (by position) the manager sent somewhere other than the suggestion."""
        if self._preview is None:
            return {}
        return {
            row: self.field_of(row)
            for row, column in enumerate(self._preview.columns)
            if self.field_of(row) != column.field
        }

    def _check_columns(self) -> None:
        preview = self._preview
        if preview is None:
            return
        fields = {self.field_of(row) for row in range(self.columns.rowCount())}
        problem = None
        if not fields & {"email", "phone"}:
            problem = preview.problem or (
                "No column goes into Email or Phone: choose the one that holds them, "
                "since every lead needs an email or a phone."
            )
        elif preview.lines == 0:
            problem = "The file has column names but no rows under them: there is nothing to add."
        self._show_problem(problem)
        self.import_button.setEnabled(problem is None and self.pool.currentData() is not None)

    def _show_problem(self, text: str | None) -> None:
        self.problem.setText(text or "")
        self.problem.setVisible(bool(text))

    # --- importing ---

    @property
    def importing(self) -> bool:
        return self._progress is not None

    def _set_inputs_enabled(self, enabled: bool) -> None:
        for widget in (self.choose_button, self.columns, self.pool, self.source):
            widget.setEnabled(enabled)

    def start_import(self) -> None:
        if self._path is None or self.pool.currentData() is None or self.importing:
            return
        pool: PoolRow = self.pool.currentData()
        self._progress = progress = Progress()
        self._set_inputs_enabled(False)
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
            source=self.source.text().strip() or None,
            progress=progress.report,
            should_stop=progress.stop_requested,
            columns=self.chosen_columns() or None,
            on_done=lambda summary: self._on_imported(summary, pool),
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

    def _finish(self) -> bool:
        """The import is over; whether any batch had been written."""
        wrote = self._progress is not None and self._progress.done > 0
        self._poll.stop()
        self._progress = None
        self.progress_bar.hide()
        self.stop_button.hide()
        self.close_button.setEnabled(True)
        return wrote

    def _on_imported(self, summary: ImportSummary, pool: PoolRow) -> None:
        self._finish()
        self.summary = summary
        self.close_button.setText("Close")
        self.headline.setText(describe_summary(summary, pool.name, pool.routing))
        self.headline.show()
        lines = report_lines(summary)
        self.report.setPlainText("\n".join(lines))
        self.report.setVisible(bool(lines))
        self.save_button.setVisible(bool(lines))
        for widget in (self.columns, self.file_info, self.form, self.import_button):
            widget.hide()
        self.again_button.show()
        self._context.announce(LEADS, TEAM)
        self.imported.emit(summary)

    def _on_import_failed(self, failure: TaskFailure) -> None:
        wrote = self._finish()
        self._set_inputs_enabled(True)
        self._check_columns()
        text = failure.message
        if wrote:
            text += (
                " Leads written before this stay in; importing the same file again adds "
                "only the rest."
            )
            self._context.announce(LEADS, TEAM)
        self._show_problem(text)

    def start_again(self) -> None:
        """Back to the start, for the next file (the pool stays; the source was this file's)."""
        self.summary = None
        self._path = self._preview = None
        self.file_edit.clear()
        self.columns.setRowCount(0)
        self.source.clear()
        self.file_info.setText("Choose the next file.")
        self.problem.hide()
        done: tuple[QWidget, ...] = (
            self.headline,
            self.report,
            self.save_button,
            self.again_button,
        )
        for widget in done:
            widget.hide()
        self.saved_note.clear()
        for widget in (self.columns, self.file_info, self.form, self.import_button):
            widget.show()
        self._set_inputs_enabled(True)
        self.close_button.setText("Cancel")
        self.choose_file()

    # --- the report ---

    def save_report(self) -> None:
        name = f"{self._path.stem if self._path else 'import'}-report.txt"
        start = str(Path(self._start_dir) / name) if self._start_dir else name
        path, _ = QFileDialog.getSaveFileName(self, "Save the report", start, "Text (*.txt)")
        if path:
            self.save_report_to(Path(path))

    def save_report_to(self, path: Path) -> None:
        """Write the report (on the worker: the folder may be a slow network share)."""
        when = f"{datetime.now():%Y-%m-%d %H:%M}"
        text = (
            f"Import of {self._path} at {when}\n{self.headline.text()}\n\n"
            f"{self.report.toPlainText()}\n"
        )
        self.saved_note.setText("Saving…")
        self._context.tasks.submit(
            write_report,
            path,
            text,
            on_done=lambda _: self.saved_note.setText(f"Saved to {path}"),
            on_error=self._on_report_failed,
            owner=self,
        )

    def _on_report_failed(self, failure: TaskFailure) -> None:
        self.saved_note.setText("")
        self._show_problem(failure.message)

    # --- closing ---

    def reject(self) -> None:
        if self.importing:  # Escape while importing: stop; the report follows
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
