"""The manager's lead table's column widths: fitted to the window until the manager sets them.

A table of eleven columns in a window anywhere from 1024 to 2560 pixels wide.
Resizing every column to its contents on every page would measure a
million-row table again and again, and would throw away the manager's own
widths; fixed widths cut names at 1280 and leave gaps at 1920. So:

* each column's wish is measured **once**, from the first page of rows (200
  rows: a fraction of a millisecond), or from a typical value before any row
  has arrived;
* the widths are fitted to the table's width (:func:`column_fit.fit_widths`)
  whenever the window changes size — dates and numbers are never cut; names,
  companies and pools give or take;
* once the manager drags a column's edge or moves a column, the header is
  theirs: it is saved in the settings, restored next time, and no longer
  fitted. "Fit columns to the window" on the header's menu hands it back.
"""

from __future__ import annotations

from PySide6.QtCore import QByteArray, QEvent, QObject, QPoint, QSettings, Qt
from PySide6.QtWidgets import QMenu, QStyle, QTableView

from salesdesk.ui.manager.column_fit import fit_widths
from salesdesk.ui.manager.pool_model import COLUMNS

# An elastic column (free text) never asks for more than about this many characters.
MOST_CHARACTERS = 26
# ...and may be squeezed down to about this many when the window is narrow.
LEAST_CHARACTERS = 9
FIT_TEXT = "Fit columns to the window"


class TableLayout(QObject):
    """Fits a table's columns to its width, and remembers the widths a person chose.

    Args:
        table: the view (its model has ``COLUMNS`` for columns).
        settings: where the manager's own widths and order are kept.
        key: the settings key for them.
    """

    def __init__(self, table: QTableView, settings: QSettings, key: str) -> None:
        super().__init__(table)
        self._table = table
        self._header = table.horizontalHeader()
        self._settings = settings
        self._key = key
        self._fitting = False
        self._pressed = False
        self._changed_by_hand = False
        self._content: list[int] | None = None
        self.customised = self._restore()
        # Kept, not asked for in eventFilter: events still arrive while the table is being deleted.
        self._header_area = self._header.viewport()
        self._table_area = table.viewport()
        self._header_area.installEventFilter(self)
        self._table_area.installEventFilter(self)
        self._header.sectionResized.connect(self._on_section_resized)
        self._header.sectionMoved.connect(self._on_section_moved)
        self._header.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self._header.customContextMenuRequested.connect(self._show_menu)
        if not self.customised:
            self.fit()

    # --- measuring ---

    def _padding(self) -> int:
        """What a cell adds around its text (the style's text margins and the grid line)."""
        margin = self._table.style().pixelMetric(QStyle.PixelMetric.PM_FocusFrameHMargin)
        return 2 * (margin + 1) + 4

    def _header_width(self, column: int) -> int:
        metrics = self._header.fontMetrics()
        margin = self._header.style().pixelMetric(QStyle.PixelMetric.PM_HeaderMargin)
        text = metrics.horizontalAdvance(COLUMNS[column].title)
        arrow = metrics.height()  # the sort indicator beside the title
        return text + arrow + 4 * margin + 6

    def measure_rows(self, count: int) -> None:
        """Measure the widest text of the first ``count`` rows, once per table.

        Later pages are never measured: a value wider than the first page's is
        cut with "…" (its tooltip or the lead pane shows it), as in any table
        that does not read every row.
        """
        if self._content is not None or count <= 0:
            return
        model = self._table.model()
        metrics = self._table.fontMetrics()
        pad = self._padding()
        widest = [0] * len(COLUMNS)
        for row in range(count):
            for column in range(len(COLUMNS)):
                text = model.data(model.index(row, column))
                if isinstance(text, str):
                    widest[column] = max(widest[column], metrics.horizontalAdvance(text))
        self._content = [w + pad for w in widest]
        self.fit()

    def wanted(self) -> tuple[list[int], list[int]]:
        """Each column's ideal and least width, in pixels."""
        metrics = self._table.fontMetrics()
        pad = self._padding()
        most = metrics.averageCharWidth() * MOST_CHARACTERS + pad
        least = metrics.averageCharWidth() * LEAST_CHARACTERS + pad
        ideal, minimum = [], []
        for column, spec in enumerate(COLUMNS):
            header = self._header_width(column)
            sample = metrics.horizontalAdvance(spec.sample) + pad
            if spec.elastic:
                content = self._content[column] if self._content else sample
                want = max(header, min(content, most))
                ideal.append(want)
                minimum.append(min(want, max(header, least)))
            else:
                content = self._content[column] if self._content else 0
                want = max(header, sample, content)
                ideal.append(want)
                minimum.append(want)
        return ideal, minimum

    # --- fitting ---

    def fit(self) -> None:
        """Fit the columns to the table's width (unless the manager has set them)."""
        if self.customised:
            return
        available = self._table_area.width()
        if available <= 0:
            return
        ideal, minimum = self.wanted()
        widths = fit_widths(ideal, minimum, available)
        self._fitting = True
        try:
            for column, width in enumerate(widths):
                self._header.resizeSection(column, width)
        finally:
            self._fitting = False

    def fit_again(self) -> None:
        """Forget the manager's widths and order and fit the columns to the window."""
        self.customised = False
        self._settings.remove(self._key)
        self._fitting = True
        try:
            for logical in range(self._header.count()):
                visual = self._header.visualIndex(logical)
                if visual != logical:
                    self._header.moveSection(visual, logical)
        finally:
            self._fitting = False
        self.fit()

    # --- the manager's own widths ---

    def _restore(self) -> bool:
        titles = self._settings.value(f"{self._key}/titles")
        state = self._settings.value(f"{self._key}/state")
        if titles != "|".join(c.title for c in COLUMNS):
            return False  # saved for other columns (an older version): start afresh
        if not isinstance(state, QByteArray) or state.isEmpty():
            return False
        sort = (self._header.sortIndicatorSection(), self._header.sortIndicatorOrder())
        restored = self._header.restoreState(state)
        self._header.setSortIndicator(*sort)  # the order is the filter's, not the layout's
        return restored

    def _save(self) -> None:
        self._settings.setValue(f"{self._key}/titles", "|".join(c.title for c in COLUMNS))
        self._settings.setValue(f"{self._key}/state", self._header.saveState())

    def _on_section_resized(self, _column: int, _old: int, _new: int) -> None:
        if not self._fitting and self._pressed:
            self._changed_by_hand = True

    def _on_section_moved(self, _column: int, _old: int, _new: int) -> None:
        if not self._fitting:
            self.customised = True
            self._save()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt override
        kind = event.type()
        if watched is self._table_area:
            if kind == QEvent.Type.Resize and not self.customised:
                self.fit()
            return False
        if watched is not self._header_area:
            return False
        if kind in (QEvent.Type.MouseButtonPress, QEvent.Type.MouseButtonDblClick):
            self._pressed = True
        elif kind == QEvent.Type.MouseButtonRelease:
            self._pressed = False
            if self._changed_by_hand:
                self._changed_by_hand = False
                self.customised = True
                self._save()
        return False

    def _show_menu(self, at: QPoint) -> None:
        menu = QMenu(self._header)
        action = menu.addAction(FIT_TEXT)
        action.setEnabled(self.customised)
        action.triggered.connect(self.fit_again)
        menu.popup(self._header.mapToGlobal(at))
