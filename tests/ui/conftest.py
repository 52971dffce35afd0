"""Fixtures for UI tests: a real SQLite file database, a task runner, a signed-in context.

Qt runs offscreen (set in ``tests/conftest.py``). The database is real and is
changed only through the real services; "another client" in a test is simply
a service call made from the test itself.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings, QUrl

from salesdesk.config import Secrets
from salesdesk.db import Database
from salesdesk.services import allocation
from salesdesk.services.records import Actor, PoolRow
from salesdesk.ui.context import AppContext
from salesdesk.ui.desk.desk_view import DeskView
from salesdesk.ui.tasks import TaskRunner
from tests.conftest import Floor


@pytest.fixture
def ui_floor(sqlite_db: Database) -> Floor:
    """People, pools and leads on a SQLite file database (services are tested on both)."""
    return Floor(sqlite_db)


@pytest.fixture
def settings(tmp_path: Path) -> QSettings:
    return QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)


@pytest.fixture
def tasks(qtbot) -> Iterator[TaskRunner]:
    runner = TaskRunner()
    yield runner
    runner.shutdown(wait=True)
    qtbot.waitUntil(lambda: runner.idle, timeout=10_000)


@pytest.fixture
def opened_urls() -> list[QUrl]:
    """What the app handed to the operating system (tel: and mailto: links)."""
    return []


@pytest.fixture
def make_context(
    sqlite_db: Database, tasks: TaskRunner, settings: QSettings, opened_urls: list[QUrl]
) -> Callable[[Actor], AppContext]:
    contexts: list[AppContext] = []

    def build(actor: Actor, embedded: bool = True) -> AppContext:
        context = AppContext(
            sqlite_db,
            tasks,
            Secrets(),
            settings=settings,
            embedded=embedded,
            open_url=opened_urls.append,
        )
        context.sign_in(actor)
        contexts.append(context)
        return context

    return build


def wait_idle(qtbot, tasks: TaskRunner, timeout: int = 10_000) -> None:
    """Wait until every submitted call has come back and been handled."""
    qtbot.waitUntil(lambda: tasks.idle, timeout=timeout)


# --- a rep's desk on a small real floor: alice in the Inbound pool -----------------


@dataclass
class Desk:
    view: DeskView
    context: AppContext
    rep: Actor
    pool: PoolRow
    floor: Floor
    qtbot: object

    @property
    def db(self):
        return self.floor.db

    def wait(self) -> None:
        wait_idle(self.qtbot, self.context.tasks)

    def claim(self, count: int = 1) -> list[int]:
        """The rep takes leads directly through the service (as another window would)."""
        ids = []
        for _ in range(count):
            result = allocation.claim_next_lead(self.db, self.rep)
            assert result.lead is not None, result.message
            ids.append(result.lead.id)
        return ids

    def reload(self) -> None:
        self.view.refresh()
        self.wait()


@pytest.fixture
def desk(qtbot, ui_floor: Floor, make_context) -> Desk:
    alice = ui_floor.rep("alice")
    pool = ui_floor.pool("Inbound", members=[alice])
    context = make_context(alice)
    view = DeskView(context)
    qtbot.addWidget(view)
    view.resize(1280, 760)
    with qtbot.waitExposed(view):
        view.show()
    harness = Desk(view, context, alice, pool, ui_floor, qtbot)
    harness.reload()
    return harness
