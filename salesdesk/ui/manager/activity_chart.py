"""New leads (taken with Next, routed or assigned) and outcomes per day, per team or rep.

Bars per day: leads that reached the rep (claims) beside what the rep decided
(the four outcomes). A rep's quiet day shows as an empty slot, not a missing
one, because the service returns zeros too.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from PySide6.QtCharts import QBarCategoryAxis, QBarSeries, QBarSet, QChart, QChartView, QValueAxis
from PySide6.QtCore import QMargins, Qt
from PySide6.QtGui import QColor, QPainter
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from salesdesk.services.stats import OUTCOME_KINDS, RepDayRow

WHOLE_TEAM = 0
SERIES = (
    # Like the team table's "New today": pulled with Next, routed, or assigned.
    ("New leads", None, QColor(70, 130, 200)),
    ("Dead", "dead", QColor(160, 160, 160)),
    ("Call back", "call_back", QColor(150, 110, 200)),
    ("Email confirmed", "email_confirmed", QColor(80, 170, 100)),
    ("Appointment", "appointment", QColor(230, 160, 40)),
)
assert {kind for _, kind, _ in SERIES if kind} == set(OUTCOME_KINDS)


def day_label(day: date) -> str:
    return f"{day:%a} {day.day}"


class ActivityChart(QWidget):
    """A rep chooser above a grouped bar chart of the last days."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.rep = QComboBox()
        self.rep.addItem("Whole team", WHOLE_TEAM)
        self.rep.currentIndexChanged.connect(self._draw)
        chart = QChart()
        chart.legend().setAlignment(Qt.AlignmentFlag.AlignBottom)
        chart.setMargins(QMargins(4, 4, 4, 4))
        chart.setAnimationOptions(QChart.AnimationOption.NoAnimation)
        self.view = QChartView(chart)
        self.view.setRenderHint(QPainter.RenderHint.Antialiasing)
        top = QHBoxLayout()
        top.addWidget(QLabel("New leads and outcomes per day for"))
        top.addWidget(self.rep, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(top)
        layout.addWidget(self.view, 1)
        self._rows: tuple[RepDayRow, ...] = ()
        self.totals: dict[str, list[int]] = {}

    def set_rows(self, rows: Sequence[RepDayRow]) -> None:
        self._rows = tuple(rows)
        reps: dict[int, str] = {}
        for row in self._rows:
            reps.setdefault(row.user_id, row.display_name)
        chosen = self.rep.currentData()
        self.rep.blockSignals(True)
        self.rep.clear()
        self.rep.addItem("Whole team", WHOLE_TEAM)
        for user_id, name in reps.items():
            self.rep.addItem(name, user_id)
        self.rep.setCurrentIndex(max(0, self.rep.findData(chosen)))
        self.rep.blockSignals(False)
        self._draw()

    def choose(self, user_id: int) -> None:
        self.rep.setCurrentIndex(max(0, self.rep.findData(user_id)))

    def _draw(self) -> None:
        chosen = self.rep.currentData()
        rows = [r for r in self._rows if chosen in (WHOLE_TEAM, None) or r.user_id == chosen]
        days = sorted({r.day for r in rows})
        totals = {label: [0] * len(days) for label, _, _ in SERIES}
        position = {day: i for i, day in enumerate(days)}
        for row in rows:
            i = position[row.day]
            totals["New leads"][i] += row.claims
            for label, kind, _ in SERIES[1:]:
                totals[label][i] += row.outcomes.get(kind or "", 0)
        self.totals = totals
        chart = self.view.chart()
        chart.removeAllSeries()
        for axis in chart.axes():
            chart.removeAxis(axis)
        series = QBarSeries()
        for label, _, colour in SERIES:
            bar = QBarSet(label)
            bar.setColor(colour)
            bar.setBorderColor(colour)
            bar.append([float(v) for v in totals[label]])
            series.append(bar)
        chart.addSeries(series)
        day_axis = QBarCategoryAxis()
        day_axis.append([day_label(d) for d in days] or [""])
        count_axis = QValueAxis()
        count_axis.setLabelFormat("%d")
        top = max((max(v) for v in totals.values() if v), default=0)
        count_axis.setRange(0, max(5, top))
        count_axis.applyNiceNumbers()
        chart.addAxis(day_axis, Qt.AlignmentFlag.AlignBottom)
        chart.addAxis(count_axis, Qt.AlignmentFlag.AlignLeft)
        series.attachAxis(day_axis)
        series.attachAxis(count_axis)
        chart.setTitle(f"Last {len(days)} days")
