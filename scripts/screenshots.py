"""Take SalesDesk's screenshots on a demo floor, for the README and for review.

Run under a virtual X server at 1280×800:

    xvfb-run -a -s "-screen 0 1280x800x24" env QT_QPA_PLATFORM=xcb \\
        python scripts/screenshots.py [--out docs/screenshots] [--only NAME ...]

Every screen is built from scratch on a fresh demo floor with a fixed clock,
so the pictures are the same on every run.

Other parts of the app add their own screens without editing this file: a
module ``salesdesk.ui.<part>.screenshots`` (see ``PART_MODULES``) is picked up
when it exists, in either of two shapes:

* ``screens() -> list[Screen]``: each ``Screen`` has a file name and a function
  that gets the :class:`Studio` and returns the QPixmap to save
  (``studio.main_window("manager")`` and ``studio.grab_screen()`` do most of
  the work);
* functions named ``*_screenshots(context, folder) -> list[Path]`` that save
  their own PNGs; each is called with an admin's signed-in context (an admin
  sees everything a manager does, and more) on a fresh demo floor.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from PySide6.QtCore import QEvent, QSettings, Qt  # noqa: E402
from PySide6.QtGui import QGuiApplication, QPixmap  # noqa: E402
from PySide6.QtWidgets import QApplication, QWidget  # noqa: E402

PART_MODULES = ("salesdesk.ui.manager.screenshots", "salesdesk.ui.settings.screenshots")
SIZE = (1280, 800)
# Monday 2 March 2026, 09:30 UTC: the clock of every screenshot.
CLOCK = datetime(2026, 3, 2, 9, 30)


@dataclass(frozen=True)
class Screen:
    name: str  # file name without .png, e.g. "desk_leads"
    take: Callable[[Studio], QPixmap]


class Studio:
    """A demo floor, a task runner and helpers to put windows on screen and grab them."""

    def __init__(self, folder: Path, floor: Path) -> None:
        from salesdesk.config import Secrets
        from salesdesk.db import Database, sqlite_url
        from salesdesk.ui.tasks import TaskRunner

        self.folder = folder
        shutil.copy(floor, folder / "salesdesk.db")
        self.db = Database(sqlite_url(folder / "salesdesk.db"), clock=lambda: CLOCK)
        self.secrets = Secrets()
        self.tasks = TaskRunner()
        self.settings = QSettings(str(folder / "settings.ini"), QSettings.Format.IniFormat)
        self._open: list[QWidget] = []

    # --- people and windows ------------------------------------------------------------------

    def actor(self, username: str) -> Any:
        from salesdesk.services import demo

        return demo.demo_actor(self.db, username)

    def context(self, username: str) -> Any:
        from salesdesk.ui.context import AppContext

        context = AppContext(
            self.db, self.tasks, self.secrets, settings=self.settings, open_url=lambda _u: None
        )
        context.sign_in(self.actor(username))
        return context

    def main_window(self, username: str) -> Any:
        """The signed-in main window at 1280×800, loaded and idle."""
        from salesdesk.ui.main_window import MainWindow

        window = MainWindow(self.context(username))
        self.place(window)
        self.idle()
        return window

    def place(self, widget: QWidget, size: tuple[int, int] | None = SIZE) -> None:
        if size is not None:
            widget.resize(*size)
        widget.move(0, 0)
        widget.show()
        widget.raise_()
        widget.activateWindow()
        self._open.append(widget)
        self.pump()

    def idle(self, timeout: float = 15.0) -> None:
        """Wait until every database call has come back, then let the window paint."""
        end = time.monotonic() + timeout
        while not self.tasks.idle and time.monotonic() < end:
            QApplication.processEvents()
            time.sleep(0.01)
        self.pump()

    def pump(self, seconds: float = 0.3) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            QApplication.processEvents()
            time.sleep(0.01)

    def wait_for(self, condition: Callable[[], Any], timeout: float = 10.0) -> Any:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            QApplication.processEvents()
            found = condition()
            if found:
                return found
            time.sleep(0.01)
        raise TimeoutError("the screen never got ready")

    def grab_screen(self) -> QPixmap:
        """The whole virtual screen: windows and the dialogs over them."""
        self.pump()
        return QGuiApplication.primaryScreen().grabWindow(0, 0, 0, *SIZE)

    def close_all(self) -> None:
        for widget in reversed(self._open):
            widget.close()
        self._open.clear()
        self.idle()

    def shutdown(self) -> None:
        """Close this screen's windows and free them here, on the GUI thread.

        A closed window whose ``deleteLater`` was never reached (no event loop
        runs here) and the reference cycles of its views are freed now, so the
        next screen starts clean instead of inheriting them.
        """
        self.close_all()
        self.tasks.shutdown(wait=True)
        self.db.dispose()
        self._open.clear()
        QApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
        gc.collect()


# --- the desk's screens -------------------------------------------------------------------------


def _alice_on_her_noted_lead(studio: Studio) -> Any:
    """Alice's desk on the first of her current leads with a note (the demo replays her calls)."""
    from salesdesk.services import leads

    window = studio.main_window("alice")
    desk = window.desk
    alice = studio.actor("alice")
    called = [r for r in desk.current_model.rows if r.last_contacted_at is not None]
    noted = next((r for r in called if leads.get_lead(studio.db, alice, r.id).notes), called[0])
    desk.show_lead(noted.id)
    studio.idle()
    return window


def desk_leads(studio: Studio) -> QPixmap:
    """A rep's working desk: her Current list and a lead with a note and its history."""
    window = _alice_on_her_noted_lead(studio)
    return window.grab()


def desk_call_backs(studio: Studio) -> QPixmap:
    """The Call backs list, soonest first."""
    from salesdesk.services import actions

    alice = studio.actor("alice")
    window = studio.main_window("alice")
    desk = window.desk
    rows = desk.current_model.rows
    for lead, hours in zip(rows[-2:], (26, 74), strict=False):
        actions.schedule_call_back(studio.db, alice, lead.id, CLOCK + timedelta(hours=hours))
    desk.refresh()
    studio.idle()
    desk.commands.show_call_backs.trigger()
    studio.idle()
    return window.grab()


def desk_empty_pool(studio: Studio) -> QPixmap:
    """A rep whose pool has nothing waiting presses Next."""
    from salesdesk.services import team

    erin = team.add_user(
        studio.db, None, "erin", "Erin Park", "demo1234", "rep", "erin@example.com"
    )
    pool = team.add_pool(studio.db, None, "Trade show leads", "next")
    team.set_members(studio.db, None, pool.id, {erin.id: 1})
    window = studio.main_window("erin")
    window.desk.take_next()
    studio.idle()
    return window.grab()


def desk_call_back(studio: Studio) -> QPixmap:
    """The Call Back dialog: calendar, quick picks and the time."""
    from salesdesk.ui.desk.call_back_dialog import CallBackDialog

    window = _alice_on_her_noted_lead(studio)
    window.desk.commands.call_back.trigger()
    dialog = studio.wait_for(lambda: window.desk.findChild(CallBackDialog))
    studio.pump()
    dialog.quick_buttons["Tomorrow 10:00"].click()
    studio.pump()
    return studio.grab_screen()


def desk_dead(studio: Studio) -> QPixmap:
    """Dead asks first."""
    from salesdesk.ui.desk.dead_dialog import DeadDialog

    window = _alice_on_her_noted_lead(studio)
    window.desk.commands.dead.trigger()
    dialog = studio.wait_for(lambda: window.desk.findChild(DeadDialog))
    dialog.reason_edit.setText("Not the decision maker")
    return studio.grab_screen()


def desk_appointment(studio: Studio) -> QPixmap:
    """Appointment asks first: it emails the admin team and the lead leaves the rep."""
    from salesdesk.ui.desk.appointment_dialog import AppointmentDialog

    window = _alice_on_her_noted_lead(studio)
    window.desk.commands.appointment.trigger()
    studio.wait_for(lambda: window.desk.findChild(AppointmentDialog))
    return studio.grab_screen()


def desk_refusal(studio: Studio) -> QPixmap:
    """A refusal in plain words: the rep holds as many leads as the cap allows."""
    from salesdesk.services import leads, team

    admin = studio.actor("admin")
    bob = studio.actor("bob")
    held = len(leads.my_current_leads(studio.db, bob))
    team.update_user(studio.db, admin, bob.id, cap=held)
    window = studio.main_window("bob")
    window.desk.take_next()
    studio.idle()
    return window.grab()


def desk_toast(studio: Studio) -> QPixmap:
    """A manager gives Alice a lead while she works: the toast, and the bell's count."""
    from salesdesk.services import lead_table, leads
    from salesdesk.services.lead_table import LeadFilter
    from salesdesk.ui.live import LiveWatcher
    from salesdesk.ui.main_window import MainWindow

    context = studio.context("alice")
    window = MainWindow(context)
    studio.place(window)
    studio.idle()
    desk = window.desk
    noted = next(r for r in desk.current_model.rows if r.last_contacted_at is not None)
    desk.show_lead(noted.id)
    studio.idle()
    watcher = LiveWatcher(context, poll_ms=3_600_000, jobs_ms=0)  # rounds run by hand here
    watcher.start()
    studio.idle()
    manager = studio.actor("manager")
    waiting = lead_table.list_leads(studio.db, manager, LeadFilter(statuses=("pool",)), limit=1)
    leads.assign_leads(studio.db, manager, [waiting.rows[0].id], context.actor.id)
    watcher.poll()
    studio.idle()
    studio.wait_for(window.toast.isVisible)
    studio.pump()
    pixmap = window.grab()
    watcher.stop()
    return pixmap


def login(studio: Studio) -> QPixmap:
    """Signing in on the demo floor, with the hint a newcomer needs."""
    from salesdesk.ui.app import DEMO_HINT
    from salesdesk.ui.login_dialog import LAST_USER_KEY, LoginDialog

    studio.settings.setValue(LAST_USER_KEY, "alice")
    dialog = LoginDialog(studio.tasks, studio.settings, embedded=True)
    dialog.set_ready(studio.db, "Sign in to the floor on this computer.", DEMO_HINT)
    dialog.password_edit.setText("demo1234")
    studio.place(dialog, size=None)
    return dialog.grab()


DESK_SCREENS = [
    Screen("desk_leads", desk_leads),
    Screen("desk_call_backs", desk_call_backs),
    Screen("desk_empty_pool", desk_empty_pool),
    Screen("desk_call_back", desk_call_back),
    Screen("desk_dead", desk_dead),
    Screen("desk_appointment", desk_appointment),
    Screen("desk_refusal", desk_refusal),
    Screen("desk_toast", desk_toast),
    Screen("desk_login", login),
]


def build_floor(folder: Path) -> Path:
    """The demo floor once, as a file every screen starts from a copy of."""
    from salesdesk import migrations
    from salesdesk.db import Database, sqlite_url
    from salesdesk.services import demo

    path = folder / "floor.db"
    db = Database(sqlite_url(path), clock=lambda: CLOCK)
    migrations.upgrade(db)
    demo.build_demo_floor(db)
    with db.engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    db.dispose()
    return path


@dataclass(frozen=True)
class PartShots:
    """A part's own ``*_screenshots(context, folder)`` function, which saves its PNGs."""

    name: str
    take: Callable[[Any, Path], list[Path]]


def all_screens() -> list[Screen | PartShots]:
    """The desk's screens, then those of every part that provides a screenshots module."""
    screens: list[Screen | PartShots] = list(DESK_SCREENS)
    for name in PART_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name and name.startswith(exc.name):
                continue
            raise
        if hasattr(module, "screens"):
            screens.extend(module.screens())
            continue
        for attr in sorted(vars(module)):
            if attr.endswith("_screenshots") and callable(getattr(module, attr)):
                screens.append(PartShots(attr, getattr(module, attr)))
    return screens


def take(screen: Screen | PartShots, studio: Studio, out: Path) -> list[tuple[Path, str]]:
    """Run one screen; the files it wrote, each with its size."""
    if isinstance(screen, PartShots):
        paths = screen.take(studio.context("admin"), out)
        studio.idle()
        return [(Path(p), _size(QPixmap(str(p)))) for p in paths]
    pixmap = screen.take(studio)
    path = out / f"{screen.name}.png"
    if not pixmap.save(str(path)):
        raise RuntimeError(f"could not write {path}")
    return [(path, _size(pixmap))]


def _size(pixmap: QPixmap) -> str:
    return f"{pixmap.width()}×{pixmap.height()}"


def _shown(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(ROOT))
    except ValueError:
        return str(path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    parser.add_argument("--only", nargs="*", help="names of the screens to take")
    args = parser.parse_args(argv)
    if os.environ.get("QT_QPA_PLATFORM") not in (None, "xcb"):
        print("note: QT_QPA_PLATFORM is not xcb; dialogs over windows need a real X server")
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("SalesDesk")
    app.setAttribute(Qt.ApplicationAttribute.AA_DontUseNativeDialogs)
    args.out.mkdir(parents=True, exist_ok=True)
    screens = [s for s in all_screens() if not args.only or s.name in args.only]
    with tempfile.TemporaryDirectory(prefix="salesdesk-shots-") as workdir:
        floor = build_floor(Path(workdir))
        for screen in screens:
            folder = Path(workdir) / screen.name
            folder.mkdir()
            studio = Studio(folder, floor)
            try:
                for path, size in take(screen, studio, args.out):
                    print(f"{_shown(path)}  {size}")
            finally:
                studio.shutdown()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
