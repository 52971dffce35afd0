"""Screenshots of the manager view, for the README (called by a screenshot script).

Each function takes a signed-in :class:`AppContext` (a manager or an admin on a
demo floor), builds the view at 1280×800, waits until every background call
has come back, and saves PNGs with ``QWidget.grab()``. Run under Xvfb (or
offscreen) with a QApplication already created::

    paths = manager_screenshots(context, Path("docs/screenshots"))
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QCoreApplication, QEventLoop, Qt
from PySide6.QtWidgets import QWidget

from salesdesk.ui.context import AppContext

SIZE = (1280, 800)


def settle(
    context: AppContext, until: Callable[[], bool] = lambda: True, timeout: float = 20.0
) -> None:
    """Process events until the worker is idle and ``until()`` holds (or time runs out)."""
    deadline = time.monotonic() + timeout
    quiet_since: float | None = None
    while time.monotonic() < deadline:
        QCoreApplication.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 50)
        if context.tasks.idle and until():
            quiet_since = quiet_since or time.monotonic()
            if time.monotonic() - quiet_since > 0.4:  # let follow-up requests start
                return
        else:
            quiet_since = None
        time.sleep(0.02)


def grab(widget: QWidget, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    widget.grab().save(str(path))
    return path


def manager_screenshots(context: AppContext, folder: Path) -> list[Path]:
    """``manager_leads.png`` (the pool with a lead's history), ``manager_team.png``
    (the team panel and charts) and, for an admin, ``manager_appointments.png``."""
    from salesdesk.ui.manager.manager_view import ManagerView

    view = ManagerView(context)
    view.resize(*SIZE)
    view.show()
    settle(context, lambda: view.leads.model.rowCount() > 0 and view.team.snapshot is not None)
    table = view.leads.table
    # Most recently contacted first: the leads with a history worth showing.
    table.sortByColumn(6, Qt.SortOrder.DescendingOrder)
    settle(context, lambda: view.leads.model.rowCount() > 0)
    table.selectRow(0)
    settle(context, lambda: view.leads.history.lead_id is not None)
    paths = [grab(view, folder / "manager_leads.png")]

    view.tabs.setCurrentWidget(view.team)
    settle(context)
    paths.append(grab(view, folder / "manager_team.png"))

    if view.appointments is not None:
        view.tabs.setCurrentWidget(view.appointments)
        settle(
            context,
            lambda: view.appointments is not None and view.appointments.model.rowCount() > 0,
        )
        view.appointments.table.selectRow(0)
        settle(context)
        paths.append(grab(view, folder / "manager_appointments.png"))
    view.close()
    view.deleteLater()
    return paths
