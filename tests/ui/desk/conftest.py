"""A rep's desk on a small real floor: alice in the Inbound pool."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from salesdesk.services import allocation
from salesdesk.services.records import Actor, PoolRow
from salesdesk.ui.context import AppContext
from salesdesk.ui.desk.desk_view import DeskView
from tests.conftest import Floor
from tests.ui.conftest import wait_idle


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
