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


# A trade show's export as a manager gets it: its own column names, one bad
# email, one visitor who came twice, one lead the floor already has ({known})
# and one with no way to reach them.
TRADE_SHOW_CSV = """First Name,Last Name,Company,Email Address,Mobile,Job Title,Badge scanned by
Priya,Shah,Northwind Traders,priya.shah@northwind.example,+44 7700 900101,Head of IT,Sam
Tom,Berg,Fabrikam,tom.berg@fabrikam.example,+44 7700 900102,Buyer,Sam
Lena,Vogel,Contoso Ltd,lena.vogel@contoso,+49 151 2345 6789,CFO,Jo
Marc,Petit,Litware,marc.petit@litware.example,+33 6 12 34 56 78,Operations,Jo
Priya,Shah,Northwind Traders,priya.shah@northwind.example,,Head of IT,Jo
Ines,Costa,Proseware,ines.costa@proseware.example,+351 912 345 678,Owner,Sam
Known,Lead,,{known},,,Sam
Ravi,Nair,Tailspin Toys,,,Intern,Jo
Owen,Hale,Coho Winery,owen.hale@coho.example,+44 7700 900108,Sales lead,Jo
"""


def import_screenshots(context: AppContext, folder: Path) -> list[Path]:
    """``manager_import.png`` (a file's columns before importing) and
    ``manager_import_report.png`` (what went in, and each row that did not)."""
    import tempfile

    from salesdesk.services import lead_table
    from salesdesk.ui.manager.manager_view import ManagerView

    view = ManagerView(context)
    view.resize(*SIZE)
    view.show()
    settle(context, lambda: view.leads.model.rowCount() > 0)
    known = lead_table.list_leads(context.db, context.actor, limit=1).rows[0].email
    downloads = Path(tempfile.mkdtemp(prefix="salesdesk-example-")) / "Downloads"
    downloads.mkdir()
    path = downloads / "trade-show-march.csv"
    path.write_text(TRADE_SHOW_CSV.format(known=known), encoding="utf-8")

    dialog = view.leads.import_leads()
    dialog.open_file(path)
    settle(context, lambda: dialog.columns.rowCount() > 0)
    dialog.set_field("Badge scanned by", "ignore")
    dialog.pool.setCurrentIndex(max(0, dialog.pool.findText("Inbound")))
    dialog.source.setText("Trade show March")
    settle(context)
    paths = [grab(dialog, folder / "manager_import.png")]
    dialog.import_button.click()
    settle(context, lambda: dialog.summary is not None)
    paths.append(grab(dialog, folder / "manager_import_report.png"))
    dialog.close()
    view.close()
    view.deleteLater()
    return paths


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
