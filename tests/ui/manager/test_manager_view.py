"""The manager view against a real database: filters, bulk actions, history, team, appointments."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import pytest
from PySide6.QtCore import QItemSelection, QItemSelectionModel, Qt
from PySide6.QtWidgets import QMessageBox

from salesdesk.services import actions, allocation, leads, notifications, rules
from salesdesk.services.records import Actor
from salesdesk.ui.context import LEADS
from salesdesk.ui.manager.assign_dialog import AssignDialog
from salesdesk.ui.manager.filter_bar import UNASSIGNED
from salesdesk.ui.manager.manager_view import ManagerView
from salesdesk.ui.message_bar import INFO, WARNING
from salesdesk.ui.timefmt import format_datetime
from tests.conftest import Floor
from tests.ui.conftest import wait_idle


@dataclass
class Scene:
    floor: Floor
    view: ManagerView
    alice: Actor
    bob: Actor
    tasks: object
    qtbot: object

    @property
    def tab(self):
        return self.view.leads

    def settle(self) -> None:
        wait_idle(self.qtbot, self.tasks)
        # A refresh may start another call (a page by id, the detail): wait again.
        self.qtbot.wait(50)
        wait_idle(self.qtbot, self.tasks)

    def rows(self) -> list:
        model = self.tab.model
        return [model.lead_at(r) for r in range(model.rowCount())]

    def select(self, lead_ids) -> None:
        model = self.tab.model
        selection = QItemSelection()
        for lead_id in lead_ids:
            row = model.row_of(lead_id)
            selection.select(model.index(row, 0), model.index(row, model.columnCount() - 1))
        self.tab.table.selectionModel().select(
            selection, QItemSelectionModel.SelectionFlag.ClearAndSelect
        )


@pytest.fixture
def scene(qtbot, ui_floor, make_context, tasks, clock):
    alice, bob = ui_floor.rep("alice"), ui_floor.rep("bob")
    inbound = ui_floor.pool("Inbound", members=[alice, bob])
    webinar = ui_floor.pool("Webinar", members=[alice, bob])
    for i in range(12):
        clock.advance(minutes=3)
        ui_floor.leads(inbound if i % 2 else webinar, 1, source="Website" if i < 6 else "Ads")
    for _ in range(3):
        allocation.claim_next_lead(ui_floor.db, alice)
    view = ManagerView(make_context(ui_floor.admin))
    qtbot.addWidget(view)
    view.resize(1280, 800)
    view.show()
    s = Scene(ui_floor, view, alice, bob, tasks, qtbot)
    s.settle()
    return s


def test_the_view_shows_the_whole_pool_the_team_and_the_floor_summary(scene):
    rows = scene.rows()
    assert len(rows) == 12
    assert scene.tab.count_label.text() == "12 leads"
    held = [r for r in rows if r.owner_name == "Alice"]
    assert len(held) == 3
    team = {r.display_name: r for r in scene.view.team.model.rows}
    assert (team["Alice"].current, team["Alice"].claimed_today) == (3, 3)
    assert team["Bob"].idle
    assert "Idle for an hour or more: Bob" in scene.view.summary.text()
    assert scene.view.tabs.count() == 3  # an admin also gets the appointments queue


def test_a_manager_has_no_appointments_tab(qtbot, ui_floor, make_context, tasks):
    view = ManagerView(make_context(ui_floor.manager))
    qtbot.addWidget(view)
    wait_idle(qtbot, tasks)
    assert view.appointments is None
    assert [view.tabs.tabText(i) for i in range(view.tabs.count())] == ["Leads", "Team"]


def test_filters_narrow_the_table_in_the_database(scene):
    bar = scene.tab.filters
    bar.owner.setCurrentIndex(bar.owner.findData(UNASSIGNED))
    scene.settle()
    assert len(scene.rows()) == 9 and all(r.owner_id is None for r in scene.rows())
    bar.owner.setCurrentIndex(bar.owner.findData(scene.alice.id))
    scene.settle()
    assert {r.owner_name for r in scene.rows()} == {"Alice"}
    bar.reset()
    bar.source.setCurrentIndex(bar.source.findText("Ads"))
    bar.pool.setCurrentIndex(bar.pool.findText("Inbound"))
    scene.settle()
    assert {(r.source, r.pool_name) for r in scene.rows()} == {("Ads", "Inbound")}
    assert scene.tab.count_label.text() == "3 leads"
    bar.reset()
    bar.status.setCurrentIndex(bar.status.findText("Current"))
    scene.settle()
    assert len(scene.rows()) == 3
    bar.reset()
    scene.qtbot.keyClicks(bar.search, "lead12")
    scene.qtbot.waitUntil(lambda: scene.tab.model.filters.text == "lead12", timeout=5000)
    scene.settle()
    assert [r.first_name for r in scene.rows()] == ["Lead12"]


def test_a_date_range_filter_counts_whole_local_days(scene):
    bar = scene.tab.filters
    bar.date_field.setCurrentIndex(bar.date_field.findData("assigned"))
    assert bar.date_from.isVisible()
    scene.settle()
    # The test clock is in March 2026: the week before today on this computer holds nothing.
    assert scene.rows() == []
    day = scene.floor.db.now().date()
    bar.date_from.setDate(day)
    bar.date_to.setDate(day)
    scene.settle()
    assert len(scene.rows()) == 3


def _assign_via_dialog(scene, to: Actor) -> None:
    scene.tab.assign_button.click()
    dialog = scene.tab.open_dialog
    assert isinstance(dialog, AssignDialog)
    assert "holds 3 current" in dialog.person.itemText(dialog.person.findData(scene.alice.id))
    dialog.choose(to.id)
    dialog.accept()
    scene.settle()


def test_the_assign_dialog_shows_caps_and_warns_past_one(qtbot):
    from salesdesk.services.records import UserRow

    people = [
        UserRow(1, "dave", "Dave Okafor", None, "rep", True, 1),  # his own cap: 1
        UserRow(2, "carol", "Carol Nguyen", None, "rep", True, None),  # the floor's: 25
        UserRow(3, "morgan", "Morgan Manager", None, "manager", True, None),
    ]
    dialog = AssignDialog(2, people, {1: 0, 2: 4}, floor_cap=25)
    qtbot.addWidget(dialog)
    dialog.show()
    texts = [dialog.person.itemText(i) for i in range(dialog.person.count())]
    assert texts == [
        "Carol Nguyen — holds 4 current of 25",
        "Dave Okafor — holds 0 current of 1",
        "Morgan Manager (manager)",
    ]
    assert not dialog.over_cap.isVisible()
    dialog.choose(1)
    assert dialog.over_cap.isVisible()
    assert "Dave Okafor would hold up to 2 current leads, over their cap of 1" in (
        dialog.over_cap.text()
    )
    dialog.choose(3)  # managers have no cap to pass
    assert not dialog.over_cap.isVisible()


def test_bulk_reassignment_moves_every_lead_and_tells_both_reps(scene):
    alices = [r.id for r in scene.rows() if r.owner_name == "Alice"][:2]
    waiting = [r.id for r in scene.rows() if r.owner_id is None][:2]
    scene.select(alices + waiting)
    assert scene.tab.selection_label.text() == "4 selected"

    with scene.qtbot.waitSignal(scene.view.message_shown, timeout=10_000) as shown:
        _assign_via_dialog(scene, scene.bob)
    assert shown.args == ["Assigned to Bob: 4 leads.", INFO]
    scene.settle()
    by_id = {r.id: r for r in scene.rows()}
    assert {by_id[i].owner_name for i in alices + waiting} == {"Bob"}
    assert {by_id[i].status for i in alices + waiting} == {"current"}
    # Every change is an event, and both reps hear about it.
    history = leads.get_lead(scene.floor.db, scene.floor.admin, alices[0]).history
    assert [e.kind for e in history][-1] == "reassigned"
    assert history[-1].from_owner_name == "Alice" and history[-1].to_owner_name == "Bob"
    assert any(
        "reassigned to Bob" in n.message
        for n in notifications.list_notifications(scene.floor.db, scene.alice)
    )
    assert {r.id for r in leads.my_current_leads(scene.floor.db, scene.bob)} == set(
        alices + waiting
    )
    team = {r.display_name: r for r in scene.view.team.model.rows}
    assert team["Bob"].current == 4


def test_bulk_assignment_says_what_it_skipped_and_why(scene):
    dead = [r.id for r in scene.rows() if r.owner_id is None][0]
    leads.remove_leads(scene.floor.db, scene.floor.admin, [dead])
    other = [r.id for r in scene.rows() if r.owner_id is None and r.id != dead][0]
    scene.select([dead, other])
    with scene.qtbot.waitSignal(scene.view.message_shown, timeout=10_000) as shown:
        _assign_via_dialog(scene, scene.alice)
    assert shown.args == ["Assigned to Alice: 1 lead. Skipped 1: 1 dead.", WARNING]


def test_return_to_pool_and_remove(scene):
    held = [r.id for r in scene.rows() if r.owner_name == "Alice"]
    scene.select(held[:2])
    with scene.qtbot.waitSignal(scene.view.message_shown, timeout=10_000) as shown:
        scene.tab.return_button.click()
    assert shown.args[0] == "Returned to the pool: 2 leads."
    scene.settle()
    by_id = {r.id: r for r in scene.rows()}
    assert [by_id[i].status for i in held[:2]] == ["pool", "pool"]

    scene.select(held[:1])
    scene.tab.remove_button.click()
    box = scene.tab.open_dialog
    assert isinstance(box, QMessageBox)
    assert "marked dead, hidden from reps and tagged 'dead'" in box.text()
    remove = next(b for b in box.buttons() if b.text() == "Remove 1 lead")
    with scene.qtbot.waitSignal(scene.view.message_shown, timeout=10_000):
        remove.click()
    scene.settle()
    assert scene.tab.model.lead_at(scene.tab.model.row_of(held[0])).status == "dead"


def test_returning_a_booked_call_back_asks_first(scene, clock):
    held = [r.id for r in scene.rows() if r.owner_name == "Alice"]
    when = clock.now + timedelta(days=1, hours=1)
    # Booked after the table was read: the question asks the database, not the rows on screen.
    actions.schedule_call_back(scene.floor.db, scene.alice, held[0], when)
    scene.select(held[:2])
    assert scene.tab.model.lead_at(scene.tab.model.row_of(held[0])).status == "current"
    scene.tab.return_button.click()
    scene.settle()
    box = scene.tab.open_dialog
    assert isinstance(box, QMessageBox)
    assert "1 of them has a call back booked (" in box.text()
    assert format_datetime(when) in box.text() and "cancelled" in box.text()
    box.button(QMessageBox.StandardButton.Cancel).click()
    scene.settle()
    assert leads.my_call_backs(scene.floor.db, scene.alice)[0].call_back_at == when  # untouched

    scene.tab.return_button.click()
    scene.settle()
    go = next(b for b in scene.tab.open_dialog.buttons() if b.text() == "Return 2 leads")
    with scene.qtbot.waitSignal(scene.view.message_shown, timeout=10_000) as shown:
        go.click()
    assert shown.args[0] == "Returned to the pool: 2 leads."
    assert leads.my_call_backs(scene.floor.db, scene.alice) == []


def test_remove_by_the_delete_rule_leaves_a_removed_row_in_place(scene):
    rules.update_rules(scene.floor.db, scene.floor.admin, {"dead_policy": "delete"})
    scene.view.refresh_choices()
    scene.settle()
    lead_id = scene.rows()[5].id
    scene.select([lead_id])
    scene.tab.remove_button.click()
    box = scene.tab.open_dialog
    assert "deleted for good" in box.text()
    cancel = box.button(QMessageBox.StandardButton.Cancel)
    cancel.click()
    scene.settle()
    assert scene.rows()[5].id == lead_id  # Cancel changed nothing

    scene.tab.remove_button.click()
    next(b for b in scene.tab.open_dialog.buttons() if b.text().startswith("Remove")).click()
    scene.settle()
    assert scene.tab.model.lead_id(5) == lead_id
    assert scene.tab.model.index(5, 0).data() == "(removed)"


def test_selecting_one_lead_shows_its_whole_history(scene, clock):
    lead_id = next(r.id for r in scene.rows() if r.owner_name == "Alice")
    actions.log_contact(scene.floor.db, scene.alice, lead_id)
    actions.add_note(scene.floor.db, scene.alice, lead_id, "Wants a call on Friday")
    scene.select([lead_id])
    scene.qtbot.waitUntil(lambda: scene.tab.history.lead_id == lead_id, timeout=10_000)
    panel = scene.tab.history
    assert [e.kind for e in panel.events] == ["created", "claimed", "contacted"]
    text = panel.history.toPlainText()
    assert "Called (phone link)" in text
    taken = text.split("Taken with Next\n", 1)[1].splitlines()[0]  # what, then when · who
    assert taken.endswith("· Alice")
    assert "Wants a call on Friday" in panel.notes.toPlainText()
    assert panel.tabs.tabText(1) == "Notes (1)"
    scene.select([lead_id, scene.rows()[-1].id])
    scene.qtbot.waitUntil(lambda: panel.title.text() == "2 leads selected.", timeout=5000)
    assert panel.lead_id is None


def test_a_lead_routed_at_import_says_the_pool_routed_it_not_the_manager(scene):
    from salesdesk.models import Routing
    from salesdesk.services import importing

    floor = scene.floor
    floor.pool("Partners", routing=Routing.WEIGHTED.value, members={scene.bob: 2})
    data = b"Email\r\nnew@example.com\r\n"
    assert importing.import_rows(floor.db, floor.manager, data, "Partners").imported == 1
    scene.tab.model.reload()
    scene.settle()
    lead_id = next(r.id for r in scene.rows() if r.email == "new@example.com")
    scene.select([lead_id])
    scene.qtbot.waitUntil(lambda: scene.tab.history.lead_id == lead_id, timeout=10_000)
    lines = scene.tab.history.history.toPlainText().splitlines()
    # Newest first: the routing (by SalesDesk), then the manager adding the lead.
    assert lines[0] == "Routed to Bob (weighted shares)" and lines[1].endswith("· SalesDesk")
    assert lines[2] == "Added to the pool" and lines[3].endswith("· Manager")


def test_another_clients_change_reaches_the_rows_on_screen(scene):
    lead_id = next(r.id for r in scene.rows() if r.owner_id is None)
    leads.assign_leads(scene.floor.db, scene.floor.admin, [lead_id], scene.bob.id)
    scene.view._context.announce(LEADS)  # what the live watcher does after its poll
    scene.qtbot.waitUntil(
        lambda: (
            scene.tab.model.lead_at(scene.tab.model.row_of(lead_id)) is not None
            and scene.tab.model.lead_at(scene.tab.model.row_of(lead_id)).owner_name == "Bob"
        ),
        timeout=10_000,
    )
    scene.qtbot.waitUntil(
        lambda: any(r.display_name == "Bob" and r.current == 1 for r in scene.view.team.model.rows),
        timeout=10_000,
    )


def test_the_appointments_queue_and_mark_booked(scene):
    lead_id = next(r.id for r in scene.rows() if r.owner_name == "Alice")
    actions.make_appointment(scene.floor.db, scene.alice, lead_id)
    queue = scene.view.appointments
    queue.reload()
    scene.settle()
    assert [r.id for r in queue.model.rows] == [lead_id]
    assert scene.view.tabs.tabText(2) == "Appointments (1)"
    assert not queue.book_button.isEnabled()
    queue.table.selectRow(0)
    with scene.qtbot.waitSignal(scene.view.message_shown, timeout=10_000) as shown:
        queue.book_button.click()
    assert shown.args[0].endswith("appointment marked booked.")
    scene.settle()
    assert queue.model.rows == ()
    history = leads.get_lead(scene.floor.db, scene.floor.admin, lead_id).history
    assert history[-1].kind == "booked"


def test_team_charts_show_pools_and_each_reps_days(scene):
    team = scene.view.team
    assert team.pools.categories[-1].startswith("Inbound")  # first by name, drawn on top
    totals = team.activity.totals
    assert totals["New leads"][-1] == 3 and sum(totals["New leads"]) == 3
    team.table.selectRow(1)  # Bob
    assert team.activity.rep.currentText() == "Bob"
    assert sum(team.activity.totals["New leads"]) == 0


def test_the_delete_key_asks_before_removing(scene):
    scene.select([scene.rows()[0].id])
    scene.tab.table.setFocus()
    scene.qtbot.keyClick(scene.tab.table, Qt.Key.Key_Delete)
    box = scene.tab.open_dialog
    assert isinstance(box, QMessageBox) and box.text().startswith("Remove 1 lead?")
    box.button(QMessageBox.StandardButton.Cancel).click()
    scene.settle()
    assert scene.rows()[0].status == "current"


def test_a_call_back_date_shows_in_its_column(scene, clock):
    lead_id = next(r.id for r in scene.rows() if r.owner_name == "Alice")
    actions.schedule_call_back(scene.floor.db, scene.alice, lead_id, clock.now + timedelta(days=2))
    scene.view.leads.model.refresh_leads([lead_id])
    scene.settle()
    row = scene.tab.model.row_of(lead_id)
    assert scene.tab.model.index(row, 3).data() == "Call back"
    assert scene.tab.model.index(row, 7).data() != "—"


def test_the_main_window_opens_the_real_manager_view_beside_the_desk(qtbot, scene, make_context):
    from salesdesk.ui.main_window import MainWindow

    window = MainWindow(make_context(scene.floor.manager))
    qtbot.addWidget(window)
    window.show()
    assert isinstance(window.manager_view, ManagerView)
    window.show_desk()  # the desk's one-letter keys join the window's menu
    window.tabs.setCurrentIndex(0)
    floor = window.manager_view.leads
    qtbot.waitUntil(lambda: floor.model.rowCount() == 12, timeout=10_000)
    wait_idle(qtbot, scene.tasks)
    floor.table.setFocus()
    floor.table.selectRow(0)
    qtbot.keyClick(floor.table, Qt.Key.Key_Delete)  # no ambiguous-shortcut warning
    assert isinstance(floor.open_dialog, QMessageBox)
    floor.open_dialog.button(QMessageBox.StandardButton.Cancel).click()
    wait_idle(qtbot, scene.tasks)


def test_the_floor_summary_says_nothing_false_about_pushed_pools():
    """A round-robin pool never has leads waiting (each is handed out on arrival), so
    the all-clear line must not claim that every pool has leads waiting."""
    from salesdesk.services.stats import PoolStatusRow, RepActivityRow
    from salesdesk.ui.manager.manager_work import TeamSnapshot
    from salesdesk.ui.manager.team_tab import floor_summary

    now = datetime(2026, 3, 4, 10, 0)
    rep = RepActivityRow(1, "Alice", 2, 0, 2, 5, now - timedelta(minutes=5), idle=False)
    pushed = PoolStatusRow(1, "Partners", True, {"pool": 0, "current": 2}, 1, running_dry=False)
    text, needs_eye = floor_summary(TeamSnapshot((rep,), (pushed,), (), now))
    assert (text, needs_eye) == (
        "The one rep active in the last hour; no pool is running dry.",
        False,
    )


def test_the_floor_summary_says_so_when_nobody_is_at_work():
    """Before the shift, at night and at weekends nobody is called idle: the line
    must not claim instead that everyone is working."""
    from salesdesk.services.stats import RepActivityRow
    from salesdesk.ui.manager.manager_work import TeamSnapshot
    from salesdesk.ui.manager.team_tab import floor_summary

    friday = datetime(2026, 3, 6, 17, 30)
    reps = (
        RepActivityRow(1, "Alice", 2, 0, 0, 0, friday, idle=False),
        RepActivityRow(2, "Bob", 1, 0, 0, 0, friday - timedelta(hours=2), idle=False),
    )
    monday = datetime(2026, 3, 9, 7, 0)
    text, needs_eye = floor_summary(TeamSnapshot(reps, (), (), monday))
    assert text == f"No rep has worked since {format_datetime(friday)}; no pool is running dry."
    assert not needs_eye
    fresh = tuple(
        RepActivityRow(r.user_id, r.display_name, 0, 0, 0, 0, None, idle=False) for r in reps
    )
    assert floor_summary(TeamSnapshot(fresh, (), (), monday))[0].startswith(
        "No rep has worked a lead yet"
    )


def test_the_manager_view_fits_a_1024_pixel_screen(scene):
    """A manager on a small laptop screen must see the whole window, lead pane included."""
    scene.view.resize(1000, 700)
    scene.settle()
    assert scene.view.minimumSizeHint().width() <= 1000
    assert scene.view.width() == 1000


def test_select_all_offers_every_matching_lead_not_only_the_rows_loaded(
    qtbot, ui_floor, make_context, tasks, monkeypatch
):
    """Ctrl+A selects the rows fetched so far (a page of 200); a bulk action on
    them alone, while the count says 450, would quietly leave the rest."""
    from salesdesk.ui.manager import leads_tab

    pool = ui_floor.pool("Inbound")
    ui_floor.leads(pool, 450)
    view = ManagerView(make_context(ui_floor.manager))
    qtbot.addWidget(view)
    view.resize(1280, 800)
    view.show()
    wait_idle(qtbot, tasks)
    tab = view.leads
    qtbot.waitUntil(lambda: tab.count_label.text() == "450 leads", timeout=10_000)
    tab.table.selectAll()
    assert tab.selection_label.text() == "200 selected"
    assert tab.select_all_link.isVisible()
    assert tab.select_all_link.text().startswith("of 450 leads · <a href")

    monkeypatch.setattr(leads_tab, "MAX_BULK", 300)
    shown = []
    tab.message.connect(lambda text, level: shown.append((text, level)))
    tab.select_all_matching()
    assert shown == [
        (
            "450 leads match; bulk actions take at most 300 at a time. Narrow the filters "
            "(a pool, an owner, a date) and select again.",
            WARNING,
        )
    ]
    monkeypatch.setattr(leads_tab, "MAX_BULK", 5_000)
    tab.select_all_matching()
    qtbot.waitUntil(lambda: tab.selection_label.text() == "450 selected", timeout=10_000)
    assert not tab.select_all_link.isVisible()
    assert len(tab.selected_ids()) == 450
