"""Leads by status per pool, as stacked bars; a pool running dry is named in red.

One bar per pool, one colour per status in the order a lead lives through
them, so the "In pool" segment — what reps can still take — reads first.
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCharts import (
    QBarCategoryAxis,
    QBarSet,
    QChart,
    QChartView,
    QHorizontalStackedBarSeries,
    QValueAxis,
)
from PySide6.QtCore import QMargins, Qt
from PySide6.QtGui import QColor, QPainter
from PySide6.QtWidgets import QWidget

from salesdesk.services.lead_table import STATUS_WORDS
from salesdesk.services.stats import PoolStatusRow

STATUS_COLOURS = {
    "pool": QColor(70, 130, 200),
    "current": QColor(80, 170, 100),
    "callback": QColor(150, 110, 200),
    "appointment": QColor(230, 160, 40),
    "dead": QColor(160, 160, 160),
}
DRY_MARK = "  ⚠ running dry"


class PoolStatusChart(QChartView):
    """Stacked horizontal bars: leads by status in each pool."""

    def __init__(self, parent: QWidget | None = None) -> None:
        chart = QChart()
        chart.setTitle("Leads by status per pool")
        chart.legend().setAlignment(Qt.AlignmentFlag.AlignBottom)
        chart.setMargins(QMargins(4, 4, 4, 4))
        chart.setAnimationOptions(QChart.AnimationOption.NoAnimation)
        super().__init__(chart, parent)
        self.setRenderHint(QPainter.RenderHint.Antialiasing)
        self.categories: list[str] = []

    def set_pools(self, pools: Sequence[PoolStatusRow]) -> None:
        chart = self.chart()
        chart.removeAllSeries()
        for axis in chart.axes():
            chart.removeAxis(axis)
        # Bars are drawn bottom-up; reverse so the first pool by name is on top.
        shown = list(reversed(pools))
        self.categories = [
            p.name + (DRY_MARK if p.running_dry else "") + ("" if p.active else " (inactive)")
            for p in shown
        ]
        series = QHorizontalStackedBarSeries()
        series.setBarWidth(0.7)
        for status, words in STATUS_WORDS.items():
            bar = QBarSet(words)
            bar.setColor(STATUS_COLOURS[status])
            bar.setBorderColor(STATUS_COLOURS[status])
            bar.append([float(p.counts.get(status, 0)) for p in shown])
            series.append(bar)
        chart.addSeries(series)
        pools_axis = QBarCategoryAxis()
        pools_axis.append(self.categories or [""])
        counts_axis = QValueAxis()
        counts_axis.setLabelFormat("%d")
        top = max((p.total for p in pools), default=0)
        counts_axis.setRange(0, max(10, top))
        counts_axis.applyNiceNumbers()
        chart.addAxis(pools_axis, Qt.AlignmentFlag.AlignLeft)
        chart.addAxis(counts_axis, Qt.AlignmentFlag.AlignBottom)
        series.attachAxis(pools_axis)
        series.attachAxis(counts_axis)
        dry = [p.name for p in pools if p.running_dry]
        chart.setTitle(
            "Leads by status per pool" + (f" — running dry: {', '.join(dry)}" if dry else "")
        )
        chart.setTitleBrush(QColor(190, 40, 40) if dry else self.palette().text().color())
