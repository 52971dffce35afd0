"""Team activity: who is working and which pool runs dry, in a table and two charts.

Reads one :class:`TeamSnapshot` (three read services in one task) every
minute while shown, and when leads change.
"""

from __future__ import annotations

from datetime import datetime

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QLabel,
    QSplitter,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from salesdesk.services.stats import IDLE_AFTER
from salesdesk.ui.manager.activity_chart import ActivityChart
from salesdesk.ui.manager.manager_work import TeamSnapshot
from salesdesk.ui.manager.pool_status_chart import PoolStatusChart
from salesdesk.ui.manager.team_model import TeamModel
from salesdesk.ui.timefmt import format_datetime


def floor_summary(snapshot: TeamSnapshot) -> tuple[str, bool]:
    """One line for the top of the view, and whether it needs the manager's eye."""
    idle = [r.display_name for r in snapshot.reps if r.idle]
    dry = [f"{p.name} ({p.waiting} waiting)" for p in snapshot.pools if p.running_dry]
    parts = []
    if idle:
        names = ", ".join(idle[:4]) + (f" and {len(idle) - 4} more" if len(idle) > 4 else "")
        parts.append(f"Idle for an hour or more: {names}")
    if dry:
        parts.append(f"Running dry: {', '.join(dry)}")
    if not parts:
        # Only pools reps pull from can run dry: pushed pools hand every lead out at once.
        return f"{_who_is_working(snapshot)}; no pool is running dry.", False
    return " · ".join(parts), True


def _who_is_working(snapshot: TeamSnapshot) -> str:
    """Nobody idle means all at work, or the floor closed (nobody is called idle then)."""
    reps = snapshot.reps
    last = [r.last_activity_at for r in reps if r.last_activity_at is not None]
    if not reps:
        return "No reps yet"
    if not last:
        return "No rep has worked a lead yet"
    latest = max(last)
    if snapshot.now - latest >= IDLE_AFTER:
        return f"No rep has worked since {format_datetime(latest)}"
    who = "The one rep" if len(reps) == 1 else f"All {len(reps)} reps"
    return f"{who} active in the last hour"


class TeamTab(QWidget):
    """The team panel above the pool chart and the activity chart."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = TeamModel(self)
        self.table = QTableView()
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.verticalHeader().hide()
        self.table.setAlternatingRowColors(True)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(True)
        self.pools = PoolStatusChart()
        self.activity = ActivityChart()
        self.updated = QLabel("Loading team figures…")
        self.updated.setAlignment(Qt.AlignmentFlag.AlignRight)

        charts = QSplitter(Qt.Orientation.Horizontal)
        charts.addWidget(self.pools)
        charts.addWidget(self.activity)
        charts.setSizes([600, 600])
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(self.table)
        split.addWidget(charts)
        split.setStretchFactor(0, 1)
        split.setStretchFactor(1, 2)
        split.setSizes([260, 500])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 8, 8)
        layout.addWidget(split, 1)
        layout.addWidget(self.updated)
        self.table.selectionModel().currentRowChanged.connect(self._on_rep_chosen)
        self.snapshot: TeamSnapshot | None = None

    def show_snapshot(self, snapshot: TeamSnapshot, now: datetime) -> None:
        self.snapshot = snapshot
        self.model.set_rows(snapshot.reps, now)
        self.pools.set_pools(snapshot.pools)
        self.activity.set_rows(snapshot.days)
        idle = sum(1 for r in snapshot.reps if r.idle)
        self.updated.setText(
            f"{len(snapshot.reps)} reps, {idle} idle · {len(snapshot.pools)} pools · "
            "updated every minute"
        )

    def _on_rep_chosen(self, current: object, _previous: object) -> None:
        row = getattr(current, "row", lambda: -1)()
        if 0 <= row < len(self.model.rows):
            self.activity.choose(self.model.rows[row].user_id)
