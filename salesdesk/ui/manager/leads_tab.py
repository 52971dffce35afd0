"""The whole pool in one table, with filters, bulk actions and the selected lead's history.

The table is a :class:`PoolModel`: the database filters, sorts and pages, and
the view fetches more as the manager scrolls. Bulk actions (assign or
reassign, return to pool, remove) run as one service call each; the answer
says what was done and what was skipped and why, and the change is announced
so every view — and, through the database, every rep's desk — catches up.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import date, datetime
from pathlib import Path

from PySide6.QtCore import QByteArray, QItemSelection, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QKeySequence, QShowEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMessageBox,
    QPushButton,
    QSplitter,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from salesdesk.services import lead_table, leads
from salesdesk.services.lead_table import LeadCount, LeadFilter
from salesdesk.services.records import BulkResult, LeadDetail, LeadRow
from salesdesk.ui.context import LEADS, TEAM, AppContext
from salesdesk.ui.manager.assign_dialog import AssignDialog
from salesdesk.ui.manager.export_job import ExportJob
from salesdesk.ui.manager.filter_bar import FilterBar
from salesdesk.ui.manager.import_dialog import ImportDialog
from salesdesk.ui.manager.lead_history_panel import LeadHistoryPanel
from salesdesk.ui.manager.manager_work import FilterChoices
from salesdesk.ui.manager.pool_model import COLUMNS, DEFAULT_SORT_COLUMN, PoolModel
from salesdesk.ui.manager.table_layout import TableLayout
from salesdesk.ui.message_bar import ERROR, INFO, WARNING
from salesdesk.ui.tasks import TaskFailure
from salesdesk.ui.timefmt import format_datetime, to_local

MAX_BULK = 5_000
DETAIL_DELAY_MS = 150
HEADER_KEY = "manager/leads_columns"
SPLITTER_KEY = "manager/leads_splitter"
FOLDER_KEY = "manager/files_folder"  # where the last import or export was
PANE_MIN_WIDTH = 220


def pane_width(total: int) -> int:
    """The lead pane's first width: under a fifth of the tab, 220–340 px; the rest is the table's.

    The pane holds a summary and a history that wrap; the table has eleven
    columns that do not. At 1280 px this leaves the table about 1,020 px.
    """
    return max(PANE_MIN_WIDTH, min(340, total * 18 // 100))


def describe_count(count: LeadCount | None) -> str:
    if count is None:
        return "Counting leads…"
    if count.exact:
        return f"{count.value:,} lead{'s' if count.value != 1 else ''}"
    rounded = _round(count.value)
    return f"about {rounded:,} leads"


def _round(value: int) -> int:
    """Two significant figures: an estimate should not pretend to be exact."""
    digits = len(str(value))
    step = 10 ** max(0, digits - 2)
    return round(value / step) * step


def describe_bulk(verb: str, result: BulkResult) -> tuple[str, str]:
    """A sentence for a bulk result, and the message level to show it with."""
    done = len(result.done)
    text = f"{verb} {done} lead{'s' if done != 1 else ''}."
    if not result.skipped:
        return text, INFO
    reasons: dict[str, int] = {}
    for reason in result.skipped.values():
        reasons[reason] = reasons.get(reason, 0) + 1
    skipped = "; ".join(f"{n} {reason}" for reason, n in sorted(reasons.items()))
    return f"{text} Skipped {len(result.skipped)}: {skipped}.", WARNING


class LeadsTab(QWidget):
    """Filters, actions, the pool table and the history of the selected lead.

    Signals:
        message(str, str): text and level for the view's message bar.
        changed(): this tab changed leads (the team figures are out of date).
    """

    message = Signal(str, str)
    changed = Signal()

    def __init__(self, context: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._context = context
        self._choices: FilterChoices | None = None
        self._held: dict[int, int] = {}
        self._count: LeadCount | None = None
        self._selecting_all = False
        self.open_dialog: QWidget | None = None  # the dialog on screen (tests answer it)
        self.model = PoolModel(context, parent=self)
        self.filters = FilterBar()
        self.table = QTableView()
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.table.setSortingEnabled(True)
        self.table.setAlternatingRowColors(True)
        self.table.setWordWrap(False)
        self.table.verticalHeader().hide()
        # Fixed row heights: the view never measures a million rows.
        rows = self.table.verticalHeader()
        rows.setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        rows.setDefaultSectionSize(self.fontMetrics().height() + 8)
        header = self.table.horizontalHeader()
        header.setSectionsMovable(True)
        header.setHighlightSections(False)
        header.setStretchLastSection(True)
        header.setSortIndicator(DEFAULT_SORT_COLUMN, Qt.SortOrder.DescendingOrder)

        self.assign_button = QPushButton("Assign to…")
        self.assign_button.setToolTip("Give the selected leads to one person")
        self.return_button = QPushButton("Return to pool")
        self.return_button.setToolTip("Take the selected leads back from their reps")
        self.remove_button = QPushButton("Remove…")
        self.remove_button.setToolTip("Remove the selected leads by the dead-lead rule (Delete)")
        self.refresh_button = QPushButton("Refresh")
        self.refresh_button.setToolTip("Read the table again from the top")
        self.import_action = QAction("Import leads…", self)
        self.import_action.setToolTip("Add leads from a CSV file to a pool")
        self.export_action = QAction("Export leads…", self)
        self.export_action.setToolTip(
            "Save the leads the filters show to a CSV file, in the table's order"
        )
        self.import_button = QPushButton(self.import_action.text().removesuffix(" leads…") + "…")
        self.import_button.setToolTip(self.import_action.toolTip())
        self.export_button = QPushButton(self.export_action.text().removesuffix(" leads…") + "…")
        self.export_button.setToolTip(self.export_action.toolTip())
        self._export: ExportJob | None = None
        self._import_dialog: ImportDialog | None = None
        self.selection_label = QLabel()
        # "Select all 1,234 matching": Ctrl+A selects the rows loaded so far only.
        self.select_all_link = QLabel()
        self.select_all_link.setTextInteractionFlags(Qt.TextInteractionFlag.LinksAccessibleByMouse)
        self.select_all_link.linkActivated.connect(lambda _: self.select_all_matching())
        self.select_all_link.hide()
        self.count_label = QLabel(describe_count(None))
        self.count_label.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)

        actions_row = QHBoxLayout()
        for button in (self.assign_button, self.return_button, self.remove_button):
            actions_row.addWidget(button)
        actions_row.addWidget(self.selection_label)
        actions_row.addWidget(self.select_all_link)
        actions_row.addStretch(1)
        actions_row.addWidget(self.count_label)
        actions_row.addWidget(self.refresh_button)
        actions_row.addSpacing(12)
        actions_row.addWidget(self.import_button)
        actions_row.addWidget(self.export_button)

        self.history = LeadHistoryPanel()
        self.history.setMinimumWidth(PANE_MIN_WIDTH)
        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.addLayout(actions_row)
        left_layout.addWidget(self.table, 1)
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.addWidget(left)
        self.splitter.addWidget(self.history)
        self.splitter.setChildrenCollapsible(False)
        # A wider window widens the table; the pane keeps its width (or the one dragged to).
        self.splitter.setStretchFactor(0, 1)
        self.splitter.setStretchFactor(1, 0)
        self.columns = TableLayout(self.table, context.settings, HEADER_KEY)
        self._pane_placed = self._restore_splitter()

        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 8, 8)
        layout.addWidget(self.filters)
        layout.addWidget(self.splitter, 1)

        self._detail_timer = QTimer(self)
        self._detail_timer.setSingleShot(True)
        self._detail_timer.setInterval(DETAIL_DELAY_MS)
        self._detail_timer.timeout.connect(self._load_detail)

        self.filters.filters_changed.connect(self._on_filters_changed)
        self.model.count_changed.connect(self._on_count)
        self.model.modelReset.connect(self._on_reset)
        self.model.load_failed.connect(lambda text: self.message.emit(text, ERROR))
        self.table.selectionModel().selectionChanged.connect(self._on_selection_changed)
        self.assign_button.clicked.connect(self.assign_selected)
        self.return_button.clicked.connect(self.return_selected)
        self.remove_button.clicked.connect(self.remove_selected)
        self.refresh_button.clicked.connect(self.model.reload)
        self.import_action.triggered.connect(self.import_leads)
        self.import_button.clicked.connect(self.import_leads)
        self.export_action.triggered.connect(self.export_leads)
        self.export_button.clicked.connect(self.export_leads)
        self.model.page_loaded.connect(self._on_page_loaded)
        self.model.loaded_up_to.connect(self._on_loaded_for_selection)
        self.splitter.splitterMoved.connect(self._save_splitter)
        # Only Delete: the desk's single-letter keys (A, P, F5…) sit in the same
        # window's menu once a manager opens their own desk.
        self._add_shortcut(QKeySequence.StandardKey.Delete, self.remove_selected)
        self._on_selection_changed()

    def _add_shortcut(self, keys: str | QKeySequence.StandardKey, slot: object) -> None:
        action = QAction(self)
        action.setShortcut(QKeySequence(keys))
        action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        action.triggered.connect(slot)  # type: ignore[arg-type]
        self.addAction(action)

    # --- the layout: the pane's width and the columns' ---

    def _restore_splitter(self) -> bool:
        state = self._context.settings.value(SPLITTER_KEY)
        return (
            isinstance(state, QByteArray)
            and not state.isEmpty()
            and (self.splitter.restoreState(state))
        )

    def _save_splitter(self) -> None:
        self._context.settings.setValue(SPLITTER_KEY, self.splitter.saveState())

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 - Qt override
        super().showEvent(event)
        if not self._pane_placed:
            self._pane_placed = True
            total = sum(self.splitter.sizes()) or self.splitter.width()
            pane = pane_width(total)
            self.splitter.setSizes([max(0, total - pane), pane])

    def _on_page_loaded(self, page: int) -> None:
        if page == 0:
            self.columns.measure_rows(min(self.model.rowCount(), self.model.page_size))

    # --- what is shown ---

    def start(self) -> None:
        """Fetch the first page (the view calls this once it is built)."""
        self.model.set_filters(self.filters.current_filter())

    def set_choices(self, choices: FilterChoices) -> None:
        self._choices = choices
        self.filters.set_choices(choices.pools, choices.people, choices.sources)
        if self._import_dialog is not None and self._import_dialog.isVisible():
            self._import_dialog.set_pools(choices.pools)

    def set_held(self, held: Mapping[int, int]) -> None:
        """Current leads per person (from the team panel), shown in the assign dialog."""
        self._held = dict(held)

    def selected_ids(self) -> list[int]:
        rows = [i.row() for i in self.table.selectionModel().selectedRows()]
        return self.model.lead_ids(rows)

    def refresh_rows(self) -> None:
        """Leads changed somewhere: repaint the rows on screen (and the open history)."""
        top = self.table.rowAt(0)
        bottom = self.table.rowAt(self.table.viewport().height() - 1)
        if top < 0:
            top = 0
        if bottom < 0:
            bottom = self.model.rowCount() - 1
        if self.model.rowCount():
            self.model.refresh_rows(top, bottom)
        if self.history.lead_id is not None:
            self._load_detail()

    # --- actions ---

    def _selection_for(self, verb: str) -> list[int] | None:
        ids = self.selected_ids()
        if not ids:
            self.message.emit(f"Select the leads to {verb} first.", INFO)
            return None
        if len(ids) > MAX_BULK:
            self.message.emit(
                f"Select at most {MAX_BULK:,} leads at a time (you selected {len(ids):,}).",
                WARNING,
            )
            return None
        return ids

    def assign_selected(self) -> None:
        ids = self._selection_for("assign")
        if ids is None:
            return
        people = self._choices.people if self._choices else ()
        cap = self._choices.cap if self._choices else None
        dialog = AssignDialog(len(ids), people, self._held, self, floor_cap=cap)
        self.open_dialog = dialog
        dialog.accepted.connect(lambda: self._assign(ids, dialog.user_id))
        dialog.open()

    def _assign(self, ids: list[int], user_id: int | None) -> None:
        if user_id is None:
            return
        people = {u.id: u.display_name for u in (self._choices.people if self._choices else ())}
        name = people.get(user_id, "them")
        self._run_bulk(leads.assign_leads, ids, user_id, verb=f"Assigned to {name}:")

    def return_selected(self) -> None:
        ids = self._selection_for("return to the pool")
        if ids is None:
            return
        # Which of them have a call back booked, as the database says now (the
        # rows on screen may be out of date, or not loaded for a big selection).
        self._context.run(
            leads.lead_rows_by_id,
            ids,
            on_done=lambda rows: self._return_asking_for_call_backs(ids, rows),
            on_error=self._on_failed,
            busy=[self.return_button],
            owner=self,
        )

    def _return_asking_for_call_backs(self, ids: list[int], rows: list[LeadRow]) -> None:
        booked = [r for r in rows if r.status == "callback" and r.call_back_at is not None]
        booked.sort(key=lambda r: r.call_back_at or datetime.min)
        if not booked:
            self._run_bulk(leads.return_to_pool, ids, verb="Returned to the pool:")
            return
        # A call back is a customer's appointment with a rep: say so before it goes.
        listed = "; ".join(
            f"{lead.name}, {format_datetime(lead.call_back_at)}" for lead in booked[:3]
        ) + (f"; and {len(booked) - 3} more" if len(booked) > 3 else "")
        some = "1 of them has" if len(booked) == 1 else f"{len(booked)} of them have"
        self._ask_then_run(
            "Return to pool",
            f"Return {_leads_word(ids)} to the pool?\n\n{some} a call back booked ({listed}). "
            "In the pool the call back is cancelled: whoever takes the lead next starts afresh.",
            f"Return {_leads_word(ids)}",
            QMessageBox.ButtonRole.AcceptRole,
            lambda: self._run_bulk(leads.return_to_pool, ids, verb="Returned to the pool:"),
        )

    def select_all_matching(self) -> None:
        """Select every lead the filters match (loading them first), up to MAX_BULK."""
        matching = self._count.value if self._count is not None else 0
        if matching > MAX_BULK:
            self.message.emit(
                f"{matching:,} leads match; bulk actions take at most {MAX_BULK:,} at a time. "
                "Narrow the filters (a pool, an owner, a date) and select again.",
                WARNING,
            )
            return
        self.select_all_link.setText("Selecting every matching lead…")
        self._selecting_all = True
        self.model.load_up_to(MAX_BULK)

    def _on_loaded_for_selection(self, _rows: int) -> None:
        if self._selecting_all:
            self._selecting_all = False
            self.table.selectAll()

    def remove_selected(self) -> None:
        ids = self._selection_for("remove")
        if ids is None:
            return
        policy = self._choices.dead_policy if self._choices else "hide"
        if policy == "delete":
            what = (
                "They will be deleted for good, as the dead-lead rule says. This cannot be undone."
            )
        else:
            tag = self._choices.dead_tag if self._choices else "dead"
            what = (
                f"They will be marked dead, hidden from reps and tagged '{tag}', as the "
                "dead-lead rule says. Managers can still find them."
            )
        self._ask_then_run(
            "Remove leads",
            f"Remove {_leads_word(ids)}?\n\n{what}",
            f"Remove {_leads_word(ids)}",
            QMessageBox.ButtonRole.DestructiveRole,
            lambda: self._run_bulk(leads.remove_leads, ids, verb="Removed"),
        )

    def _ask_then_run(
        self,
        title: str,
        text: str,
        button_text: str,
        role: QMessageBox.ButtonRole,
        run: Callable[[], None],
    ) -> None:
        """A question with Cancel (the default) and one button that runs ``run``."""
        box = QMessageBox(
            QMessageBox.Icon.Question, title, text, QMessageBox.StandardButton.Cancel, self
        )
        go = box.addButton(button_text, role)
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)
        self.open_dialog = box
        box.buttonClicked.connect(lambda button: run() if button is go else None)
        box.open()

    def _run_bulk(self, fn: object, *args: object, verb: str) -> None:
        buttons = [self.assign_button, self.return_button, self.remove_button]
        self._context.run(
            fn,  # type: ignore[arg-type]
            *args,
            on_done=lambda result: self._on_bulk_done(verb, result),
            on_error=self._on_failed,
            busy=buttons,
        )

    def _on_bulk_done(self, verb: str, result: BulkResult) -> None:
        text, level = describe_bulk(verb, result)
        self.message.emit(text, level)
        self.model.refresh_leads(list(result.done) + list(result.skipped))
        self.changed.emit()
        self._context.announce(LEADS, TEAM)

    def _on_failed(self, failure: TaskFailure) -> None:
        self.message.emit(failure.message, ERROR)

    # --- files ---

    def _folder(self) -> str:
        folder = self._context.settings.value(FOLDER_KEY, "")
        return folder if isinstance(folder, str) and Path(folder).is_dir() else str(Path.home())

    def _remember_folder(self, path: Path) -> None:
        self._context.settings.setValue(FOLDER_KEY, str(path.parent))

    def import_leads(self) -> ImportDialog:
        """The import dialog: a file into a pool, with its report."""
        pools = self._choices.pools if self._choices else None  # None: still being read
        dialog = ImportDialog(self._context, pools, self, start_dir=self._folder())
        self._import_dialog = dialog
        self.open_dialog = dialog
        dialog.file_edit.textChanged.connect(lambda text: self._remember_folder(Path(text)))
        dialog.imported.connect(self._on_imported)
        dialog.open()
        return dialog

    def _on_imported(self) -> None:
        self.model.reload()  # newest first: the new leads are on top
        self.changed.emit()

    def export_leads(self) -> None:
        default = Path(self._folder()) / f"{self._export_name()}-{date.today():%Y-%m-%d}.csv"
        path, _ = QFileDialog.getSaveFileName(
            self, "Export leads", str(default), "CSV files (*.csv)"
        )
        if path:
            self.export_to(Path(path) if path.lower().endswith(".csv") else Path(path + ".csv"))

    def _export_name(self) -> str:
        """The file's name says what is in it: the pool, the owner, or just leads."""
        filters, choices = self.model.filters, self._choices
        words = ["leads"]
        if choices is not None:
            pools = {p.id: p.name for p in choices.pools}
            people = {u.id: u.display_name for u in choices.people}
            named = [pools.get(filters.pool_id or 0, ""), people.get(filters.owner_id or 0, "")]
            words = [w for w in named if w] or words
        return "-".join(re.sub(r"\W+", "-", w).strip("-").lower() for w in words)

    def export_to(self, path: Path) -> ExportJob | None:
        """Write what the table shows (filters and order) to ``path``."""
        if self._export is not None:
            self.message.emit("An export is already running.", INFO)
            return None
        self._remember_folder(path)
        expected = self._count.value if self._count is not None else 0
        self._export = job = ExportJob(
            self._context,
            path,
            self.model.filters,
            COLUMNS[self.model.sort_column].sort,
            self.model.descending,
            expected,
            self,
        )
        job.finished.connect(self._on_exported)
        return job

    def _on_exported(self, text: str, level: str) -> None:
        self._export = None
        self.message.emit(text, level)

    # --- reactions ---

    def _on_filters_changed(self, filters: LeadFilter) -> None:
        self.model.set_filters(filters)

    def _on_reset(self) -> None:
        self._count = None
        self.count_label.setText(describe_count(None))
        self.history.clear()
        self._on_selection_changed()

    def _on_count(self, count: LeadCount) -> None:
        self._count = count
        self.count_label.setText(describe_count(count))
        if count.exact:
            self.count_label.setToolTip("")
        else:
            self.count_label.setToolTip(
                f"More than {lead_table.COUNT_EXACT_UP_TO:,} leads match, so the number is "
                "estimated from a sample; the table itself shows every one."
            )

    def _on_selection_changed(
        self, _selected: QItemSelection | None = None, _deselected: QItemSelection | None = None
    ) -> None:
        n = len(self.table.selectionModel().selectedRows())
        self.selection_label.setText(f"{n:,} selected" if n else "")
        # Every loaded row is selected but more match: offer them all.
        more = n and n == self.model.rowCount() and not self.model.exhausted
        if more and not self._selecting_all:
            matching = describe_count(self._count) if self._count else "every lead"
            self.select_all_link.setText(f"of {matching} · <a href='all'>Select all that match</a>")
        self.select_all_link.setVisible(bool(more) or self._selecting_all)
        for button in (self.assign_button, self.return_button, self.remove_button):
            button.setEnabled(n > 0)
        self._detail_timer.start()

    def _load_detail(self) -> None:
        current = self.table.selectionModel().currentIndex()
        selected = self.table.selectionModel().selectedRows()
        if len(selected) != 1:
            self.history.clear(
                f"{len(selected):,} leads selected."
                if selected
                else "Select a lead to see its history."
            )
            return
        lead_id = self.model.lead_id(selected[0].row() if selected else current.row())
        if lead_id is None:
            return
        self._context.run(
            leads.get_lead,
            lead_id,
            on_done=self._on_detail,
            on_error=self._on_failed,
            key="manager.detail",
        )

    def _on_detail(self, detail: LeadDetail) -> None:
        ids = self.selected_ids()
        if ids == [detail.lead.id]:
            self.history.show_detail(detail, to_local(self._context.now()).year)


def _leads_word(ids: list[int]) -> str:
    return f"{len(ids)} lead{'s' if len(ids) != 1 else ''}"
