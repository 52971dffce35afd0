"""The whole pool as a table model that fetches pages on demand, with flat memory.

Like Anki's browser table, the model holds lead *ids* and fetches the rows
themselves lazily; ``data()`` never does I/O. How it stays quick on a million
leads:

* **Sort and filter happen in the database** (``lead_table.list_leads``), paged by
  keyset: Qt asks ``canFetchMore``/``fetchMore`` as the view scrolls near the
  end, and each call asks the worker for the next page after the last row held.
* **Memory stays flat**: every fetched row's id is kept (8 bytes a row, in an
  ``array``), but full rows only for the most recently used pages. A row whose
  page was let go shows "…" for a moment while its page is fetched again *by
  id* — so every row stays exactly where it was, even if the lead changed.
* **Stale answers never paint**: each reset (a new filter or sort) starts a new
  generation, and an answer from an older one is dropped.
* **The count is a separate call** (``lead_table.count_leads``): exact when small,
  "about N" when large, so the first rows never wait for it. When the first
  page already holds every match, its length is the count and no call is made.
"""

from __future__ import annotations

from array import array
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QPersistentModelIndex,
    Qt,
    QTimer,
    Signal,
)

from salesdesk.services import lead_table, leads
from salesdesk.services.lead_table import STATUS_WORDS, LeadCount, LeadFilter
from salesdesk.services.records import LeadPage, LeadRow
from salesdesk.ui.context import AppContext
from salesdesk.ui.tasks import TaskFailure
from salesdesk.ui.timefmt import EMPTY, format_datetime, to_local

_Index = QModelIndex | QPersistentModelIndex

LEAD_ID_ROLE = Qt.ItemDataRole.UserRole + 1
LEAD_ROW_ROLE = Qt.ItemDataRole.UserRole + 2
_ROLES = frozenset(
    int(r)
    for r in (
        Qt.ItemDataRole.DisplayRole,
        Qt.ItemDataRole.ToolTipRole,
        Qt.ItemDataRole.TextAlignmentRole,
        LEAD_ID_ROLE,
        LEAD_ROW_ROLE,
    )
)
_RIGHT = int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
LOADING = "…"


@dataclass(frozen=True, slots=True)
class Column:
    title: str
    sort: str  # the key of lead_table.SORT_KEYS
    sample: str  # the widest value it usually shows, to size the column before rows arrive
    elastic: bool = False  # free text (names, companies): may give width, or take what is over


COLUMNS = (
    Column("Name", "name", "Hannah Johnson", elastic=True),
    Column("Company", "company", "Wide World Importers", elastic=True),
    Column("Pool", "pool", "Webinar follow-up", elastic=True),
    Column("Status", "status", "Appointment"),
    Column("Owner", "owner", "Carol Nguyen", elastic=True),
    Column("Assigned", "assigned_at", "22 Nov 16:22"),
    Column("Contacted", "last_contacted_at", "22 Nov 16:22"),
    Column("Call back", "call_back_at", "22 Nov 16:22"),
    Column("Source", "source", "Trade show", elastic=True),
    Column("Score", "score", "100"),
    Column("Added", "created_at", "22 Nov"),
)
DEFAULT_SORT_COLUMN = len(COLUMNS) - 1  # Added, newest first
_DATE_COLUMNS = {5, 6, 7, 10}


def short_date(utc: datetime | None, this_year: int) -> str:
    """``22 Nov 16:21`` this year, ``3 Mar 2025`` before: dates in a narrow column."""
    if utc is None:
        return EMPTY
    local = to_local(utc)
    if local.year == this_year:
        return f"{local.day} {local:%b %H:%M}"
    return f"{local.day} {local:%b %Y}"


def day_only(utc: datetime | None, this_year: int) -> str:
    """``22 Nov`` this year, ``Mar 2025`` before: when a lead came in, the hour is noise.

    As narrow as the column's title; the tooltip has the whole date and time.
    """
    if utc is None:
        return EMPTY
    local = to_local(utc)
    if local.year == this_year:
        return f"{local.day} {local:%b}"
    return f"{local:%b %Y}"


def _display(row: LeadRow, column: int, this_year: int) -> str:
    if column == 0:
        return row.name
    if column == 1:
        return row.company or EMPTY
    if column == 2:
        return row.pool_name or EMPTY
    if column == 3:
        return STATUS_WORDS.get(row.status, row.status)
    if column == 4:
        return row.owner_name or EMPTY
    if column == 5:
        return short_date(row.assigned_at, this_year)
    if column == 6:
        return short_date(row.last_contacted_at, this_year)
    if column == 7:
        return short_date(row.call_back_at, this_year)
    if column == 8:
        return row.source or EMPTY
    if column == 9:
        return str(row.score)
    return day_only(row.created_at, this_year)


def _tooltip(row: LeadRow, column: int) -> str | None:
    when = {
        5: row.assigned_at,
        6: row.last_contacted_at,
        7: row.call_back_at,
        10: row.created_at,
    }
    if column in when:
        return format_datetime(when[column])
    if column == 0:
        contact = " · ".join(x for x in (row.email, row.phone) if x)
        return f"{row.name}\n{contact}" if contact else row.name
    return None


class PoolModel(QAbstractTableModel):
    """Every lead that matches the manager's filter, in the chosen order.

    Args:
        context: the session's context (database, actor, task runner).
        page_size: rows per fetch.
        cached_pages: how many pages of full rows to keep; older ones are let go.

    Signals:
        count_changed(object): a :class:`LeadCount` for the current filter arrived.
        page_loaded(int): a page arrived (its number); for tests and benchmarks.
        load_failed(str): a fetch failed; the message to show.
        loading_changed(bool): a fetch started (True) or the model went idle.
        loaded_up_to(int): :meth:`load_up_to` is done; how many rows the model has.
    """

    count_changed = Signal(object)
    page_loaded = Signal(int)
    load_failed = Signal(str)
    loading_changed = Signal(bool)
    loaded_up_to = Signal(int)

    def __init__(
        self,
        context: AppContext,
        page_size: int = 200,
        cached_pages: int = 12,
        parent: Any = None,
    ) -> None:
        super().__init__(parent)
        self._context = context
        self._page_size = page_size
        self._cached_pages = max(2, cached_pages)
        self._filters = LeadFilter()
        self._sort_column = DEFAULT_SORT_COLUMN
        self._descending = True
        self._ids = array("q")
        self._rows: OrderedDict[int, dict[int, LeadRow | None]] = OrderedDict()
        self._requested: set[int] = set()
        self._cursor: tuple[Any, ...] | None = None
        self._exhausted = True
        self._fetching = False
        self._generation = 0
        self._started = False
        self._load_target = 0  # load_up_to: fetch pages until this many rows
        self.count: LeadCount | None = None
        self._this_year = to_local(context.now()).year
        # Pages the view asked for while painting; requested once it has painted.
        self._wanted: set[int] = set()
        self._flush_timer = QTimer(self)
        self._flush_timer.setSingleShot(True)
        self._flush_timer.setInterval(0)
        self._flush_timer.timeout.connect(self._request_wanted)

    # --- what is shown ---

    @property
    def filters(self) -> LeadFilter:
        return self._filters

    @property
    def page_size(self) -> int:
        return self._page_size

    @property
    def sort_column(self) -> int:
        return self._sort_column

    @property
    def descending(self) -> bool:
        return self._descending

    @property
    def is_loading(self) -> bool:
        return self._fetching

    @property
    def exhausted(self) -> bool:
        """True once the last page has arrived (every matching lead has a row)."""
        return self._exhausted

    @property
    def cached_row_count(self) -> int:
        """How many full rows are held right now (for tests and the benchmark)."""
        return sum(len(page) for page in self._rows.values())

    def set_filters(self, filters: LeadFilter) -> None:
        """Show the leads matching ``filters`` from the top."""
        self._filters = filters
        self.reload()

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        if not 0 <= column < len(COLUMNS):
            return
        descending = order == Qt.SortOrder.DescendingOrder
        if (column, descending) == (self._sort_column, self._descending) and self._ids:
            return
        self._sort_column, self._descending = column, descending
        if self._started:  # a view sets its order while being built: no query for that
            self.reload()

    def reload(self) -> None:
        """Forget everything held and fetch the first page (and the count) again."""
        self._started = True
        self._generation += 1
        self.beginResetModel()
        self._ids = array("q")
        self._rows.clear()
        self._requested.clear()
        self._wanted.clear()
        self._cursor = None
        self._exhausted = False
        self._fetching = False
        self._load_target = 0
        self.count = None
        self._this_year = to_local(self._context.now()).year
        self.endResetModel()
        self._fetch_next()  # the count is asked for once the first page is in (_on_page)

    def load_up_to(self, rows: int) -> None:
        """Fetch pages until the model has ``rows`` rows or every match (then ``loaded_up_to``)."""
        self._load_target = rows
        if self._exhausted or len(self._ids) >= rows:
            self._load_target = 0
            self.loaded_up_to.emit(len(self._ids))
        elif not self._fetching:
            self._fetch_next()

    def _fetch_count(self) -> None:
        self._context.run(
            lead_table.count_leads,
            self._filters,
            on_done=lambda count, g=self._generation: self._on_count(g, count),
            on_error=self._on_failed,
            key=f"pool_model.{id(self)}.count",
            owner=self,
        )

    # --- ids and rows (no I/O) ---

    def lead_id(self, row: int) -> int | None:
        return self._ids[row] if 0 <= row < len(self._ids) else None

    def lead_ids(self, rows: Iterable[int]) -> list[int]:
        return [self._ids[r] for r in sorted(set(rows)) if 0 <= r < len(self._ids)]

    def row_of(self, lead_id: int) -> int | None:
        """The row showing ``lead_id``, if it has been fetched (a linear search)."""
        try:
            return self._ids.index(lead_id)
        except ValueError:
            return None

    def lead_at(self, row: int) -> LeadRow | None:
        """The full row if it is held; ``None`` while its page is being fetched again."""
        page = self._rows.get(row // self._page_size)
        if page is None:
            return None
        return page.get(row)

    # --- refreshing rows that changed ---

    def refresh_leads(self, lead_ids: Sequence[int]) -> None:
        """Fetch these leads again (after a change) and repaint them where they stand.

        A lead that no longer exists stays in its row, shown as removed, until
        the next reload: rows never jump under the manager's cursor.
        """
        held = [i for i in lead_ids if (r := self.row_of(i)) is not None and self.lead_at(r)]
        if not held:
            return
        self._context.run(
            leads.lead_rows_by_id,
            held,
            on_done=lambda rows, g=self._generation, ids=tuple(held): self._on_refreshed(
                g, ids, rows
            ),
            on_error=self._on_failed,
            owner=self,
        )

    def refresh_rows(self, first: int, last: int) -> None:
        """Another client changed leads: fetch the rows on screen again, by id.

        Other held pages are let go rather than fetched, so they come back
        fresh if the manager scrolls to them; a busy floor costs one page or
        two per change, not the whole cache.
        """
        wanted = set(range(max(0, first) // self._page_size, max(0, last) // self._page_size + 1))
        for page in list(self._rows):
            if page not in wanted:
                del self._rows[page]
        for page in sorted(wanted):
            self._request_page(page)

    # --- Qt model interface ---

    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008 - Qt's default
        return 0 if parent.isValid() else len(self._ids)

    def columnCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(COLUMNS)

    def canFetchMore(self, parent: _Index) -> bool:  # noqa: N802 - Qt override
        return not parent.isValid() and not self._exhausted and not self._fetching

    def fetchMore(self, parent: _Index) -> None:  # noqa: N802 - Qt override
        if self.canFetchMore(parent):
            self._fetch_next()

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if orientation != Qt.Orientation.Horizontal or not 0 <= section < len(COLUMNS):
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section].title
        if role == Qt.ItemDataRole.ToolTipRole:
            name = "last contacted" if section == 6 else COLUMNS[section].title.lower()
            return f"Sort by {name} (click again to reverse)"
        return None

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        # A view asks for a dozen roles per cell per paint; answer the ones not
        # shown before touching anything else.
        if role not in _ROLES or not index.isValid():
            return None
        row_number, column = index.row(), index.column()
        if not (0 <= row_number < len(self._ids) and 0 <= column < len(COLUMNS)):
            return None
        if role == LEAD_ID_ROLE:
            return self._ids[row_number]
        page_number = row_number // self._page_size
        page = self._rows.get(page_number)
        display = role == Qt.ItemDataRole.DisplayRole
        if page is None:
            if display:
                self._wanted.add(page_number)
                if not self._flush_timer.isActive():
                    self._flush_timer.start()
                return LOADING
            return None
        row = page.get(row_number)
        if display:
            self._rows.move_to_end(page_number)  # recently used
            if row is None:
                return "(removed)" if column == 0 else ""
            return _display(row, column, self._this_year)
        if role == LEAD_ROW_ROLE:
            return row
        if row is None:
            return None
        if role == Qt.ItemDataRole.ToolTipRole:
            return _tooltip(row, column)
        if column == 9:  # TextAlignmentRole
            return _RIGHT
        return None

    # --- fetching (on the worker) ---

    def _fetch_next(self) -> None:
        self._fetching = True
        self.loading_changed.emit(True)
        generation = self._generation
        self._context.run(
            lead_table.list_leads,
            self._filters,
            COLUMNS[self._sort_column].sort,
            self._descending,
            self._cursor,
            self._page_size,
            False,
            on_done=lambda page, g=generation: self._on_page(g, page),
            on_error=self._on_fetch_failed,
            key=f"pool_model.{id(self)}.next",
            owner=self,
        )

    def _request_wanted(self) -> None:
        wanted, self._wanted = self._wanted, set()
        for page_number in sorted(wanted):
            if page_number not in self._rows:
                self._request_page(page_number)

    def _request_page(self, page_number: int) -> None:
        if page_number in self._requested:
            return
        start = page_number * self._page_size
        ids = list(self._ids[start : start + self._page_size])
        if not ids:
            return
        self._requested.add(page_number)
        self._context.run(
            leads.lead_rows_by_id,
            ids,
            on_done=lambda rows, g=self._generation, p=page_number, i=tuple(ids): (
                self._on_page_again(g, p, i, rows)
            ),
            on_error=self._on_failed,
            owner=self,
        )

    def _on_page(self, generation: int, page: LeadPage) -> None:
        if generation != self._generation:
            return
        self._fetching = False
        self._cursor = page.next_cursor
        self._exhausted = page.next_cursor is None
        if not self._ids:
            # The first page: when it holds every match (a search for one
            # lead, say) that is the count, and a second pass over a large
            # table to count them is saved.
            if self._exhausted:
                self._on_count(generation, LeadCount(len(page.rows), True))
            else:
                self._fetch_count()
        if page.rows:
            first = len(self._ids)
            self.beginInsertRows(QModelIndex(), first, first + len(page.rows) - 1)
            self._ids.extend(r.id for r in page.rows)
            for offset, row in enumerate(page.rows):
                number = first + offset
                self._rows.setdefault(number // self._page_size, {})[number] = row
            self.endInsertRows()
            self._evict()
        self.loading_changed.emit(False)
        self.page_loaded.emit(max(0, len(self._ids) - 1) // self._page_size)
        if self._load_target:
            self.load_up_to(self._load_target)

    def _on_page_again(
        self, generation: int, page_number: int, ids: tuple[int, ...], rows: list[LeadRow]
    ) -> None:
        self._requested.discard(page_number)
        if generation != self._generation:
            return
        by_id = {r.id: r for r in rows}
        start = page_number * self._page_size
        self._rows[page_number] = {start + k: by_id.get(lead_id) for k, lead_id in enumerate(ids)}
        self._rows.move_to_end(page_number)
        self._evict(keep=page_number)
        self.dataChanged.emit(
            self.index(start, 0), self.index(start + len(ids) - 1, len(COLUMNS) - 1)
        )
        self.page_loaded.emit(page_number)

    def _on_refreshed(self, generation: int, ids: tuple[int, ...], rows: list[LeadRow]) -> None:
        if generation != self._generation:
            return
        by_id = {r.id: r for r in rows}
        for lead_id in ids:
            number = self.row_of(lead_id)
            if number is None:
                continue
            page = self._rows.get(number // self._page_size)
            if page is None:
                continue
            page[number] = by_id.get(lead_id)
            self.dataChanged.emit(self.index(number, 0), self.index(number, len(COLUMNS) - 1))

    def _on_count(self, generation: int, count: LeadCount) -> None:
        if generation == self._generation:
            self.count = count
            self.count_changed.emit(count)

    def _on_fetch_failed(self, failure: TaskFailure) -> None:
        self._fetching = False
        self.loading_changed.emit(False)
        self._on_failed(failure)

    def _on_failed(self, failure: TaskFailure) -> None:
        self.load_failed.emit(failure.message)

    def _evict(self, keep: int | None = None) -> None:
        """Let the least recently used pages go, keeping ids (and so every row's place)."""
        while len(self._rows) > self._cached_pages:
            oldest = next(iter(self._rows))
            if oldest == keep:
                self._rows.move_to_end(oldest)
                continue
            del self._rows[oldest]
