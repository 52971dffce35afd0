"""Every Qt model of the desk passes pytest-qt's model tester."""

from __future__ import annotations

from datetime import datetime, timedelta

from PySide6.QtCore import Qt

from salesdesk.services.notifications import NotificationRow
from salesdesk.services.records import EventRow, LeadRow
from salesdesk.ui.desk.history_model import HistoryModel, describe_actor, describe_event
from salesdesk.ui.desk.lead_list_model import CALL_BACKS, CURRENT, OVERDUE_ROLE, LeadListModel
from salesdesk.ui.notification_model import LEAD_ID_ROLE, NotificationModel

NOW = datetime(2026, 3, 2, 9, 0)


def lead(i: int, call_back_at: datetime | None = None, status: str = "current") -> LeadRow:
    return LeadRow(
        id=i,
        first_name=f"First{i}",
        last_name="Last",
        company="Contoso" if i % 2 else "",
        email=f"l{i}@example.com",
        phone="+1 555 000 0000" if i % 3 else None,
        source="Website",
        score=i,
        priority=0,
        status=status,
        pool_id=1,
        pool_name="Inbound",
        owner_id=7,
        owner_name="Alice",
        created_at=NOW - timedelta(days=3),
        assigned_at=NOW - timedelta(hours=i),
        last_action_at=None,
        last_contacted_at=None,
        call_back_at=call_back_at,
        email_confirmed_at=None,
        appointment_at=None,
        dead_at=None,
    )


def test_current_list_model(qtmodeltester):
    model = LeadListModel(CURRENT, lambda: NOW)
    model.set_rows([lead(i) for i in range(1, 6)])
    qtmodeltester.check(model)
    assert model.headerData(0, Qt.Orientation.Horizontal) == "Name"
    assert model.data(model.index(0, 0)) == "First1 Last"
    assert model.data(model.index(0, 1)) == "Contoso"
    model.set_rows([])
    qtmodeltester.check(model)


def test_a_call_back_that_came_due_is_marked_in_current_until_it_is_made():
    from dataclasses import replace

    model = LeadListModel(CURRENT, lambda: NOW)
    due = lead(1, NOW - timedelta(minutes=30))  # back in Current from Call backs
    called = replace(lead(2, NOW - timedelta(hours=2)), last_contacted_at=NOW - timedelta(hours=1))
    model.set_rows([due, called, lead(3)])
    assert model.data(model.index(0, 0)) == "☎ First1 Last"
    assert model.data(model.index(0, 0), Qt.ItemDataRole.ForegroundRole) is not None
    assert "Call back was due" in model.data(model.index(0, 0), Qt.ItemDataRole.ToolTipRole)
    assert model.data(model.index(1, 0)) == "First2 Last"  # called since: nothing to flag
    assert model.data(model.index(2, 0)) == "First3 Last"
    assert model.data(model.index(2, 0), Qt.ItemDataRole.ForegroundRole) is None


def test_call_back_list_model_marks_overdue(qtmodeltester):
    model = LeadListModel(CALL_BACKS, lambda: NOW)
    rows = [
        lead(1, NOW - timedelta(hours=1), "callback"),
        lead(2, NOW + timedelta(days=1), "callback"),
    ]
    model.set_rows(rows)
    qtmodeltester.check(model)
    assert model.data(model.index(0, 0), OVERDUE_ROLE) is True
    assert model.data(model.index(1, 0), OVERDUE_ROLE) is False
    assert model.data(model.index(0, 0), Qt.ItemDataRole.ForegroundRole) is not None
    assert "was due" in model.data(model.index(0, 1), Qt.ItemDataRole.ToolTipRole)


def test_set_rows_leaves_the_view_alone_when_nothing_changed(qtbot):
    model = LeadListModel(CURRENT, lambda: NOW)
    model.set_rows([lead(1)])
    with qtbot.assertNotEmitted(model.modelReset):
        assert model.set_rows([lead(1)]) is False
    with qtbot.waitSignal(model.modelReset, timeout=1000):
        assert model.set_rows([lead(1), lead(2)]) is True


def _event(i: int, kind: str, **details) -> EventRow:
    return EventRow(
        id=i,
        kind=kind,
        at=NOW + timedelta(minutes=i),
        actor_name="Morgan Manager" if i % 2 else None,
        from_status="pool",
        to_status="current",
        from_owner_name="Bob",
        to_owner_name="Alice",
        details=details,
    )


def test_history_model(qtmodeltester):
    model = HistoryModel()
    model.set_events(
        [
            _event(1, "created"),
            _event(2, "claimed"),
            _event(3, "reassigned"),
            _event(4, "call_back", call_back_at="2026-03-03T10:00:00"),
            _event(5, "dead", reason="wrong number"),
            _event(6, "something_new"),
        ]
    )
    qtmodeltester.check(model)
    # Newest first: row 0 is the last event.
    assert model.data(model.index(0, 2)) == "Something new"
    assert model.data(model.index(4, 1)) == "SalesDesk"  # a clock job or routing
    assert model.data(model.index(3, 2)) == "Reassigned from Bob to Alice"
    assert [e.kind for e in model.events][0] == "created"  # the service's order is kept


def test_routing_is_described_as_the_pools_doing_even_in_old_events():
    routed = _event(1, "routed", pool_id=3, routing="round_robin")
    assert routed.actor_name == "Morgan Manager"  # as routing at import once recorded it
    assert describe_event(routed) == "Routed to Alice (round robin)"
    assert describe_actor(routed) == "SalesDesk"
    weighted = _event(2, "routed", routing="weighted")
    assert describe_event(weighted) == "Routed to Alice (weighted shares)"
    assert describe_event(_event(3, "routed")) == "Routed to Alice"
    assert describe_actor(_event(3, "assigned")) == "Morgan Manager"


def test_the_period_a_clock_job_counted_is_named():
    assert describe_event(_event(1, "expired", days=14, working=True)) == (
        "Back to the pool: Bob's keep period of 14 working days ended"
    )
    assert describe_event(_event(2, "idle", days=1, working=False)) == (
        "Back to the pool: no action by Bob for 1 day"
    )
    assert describe_event(_event(3, "follow_up_reminder", days=3, working=True)) == (
        "Follow-up reminder: no contact for 3 working days"
    )
    assert describe_event(_event(4, "expired")) == "Back to the pool: Bob's keep period ended"


def test_every_event_kind_the_services_write_has_words():
    kinds = [
        "created",
        "claimed",
        "assigned",
        "routed",
        "reassigned",
        "call_back",
        "call_back_due",
        "email_confirmed",
        "appointment",
        "booked",
        "dead",
        "removed",
        "contacted",
        "returned",
        "expired",
        "idle",
        "owner_left",
        "follow_up_reminder",
    ]
    for kind in kinds:
        text = describe_event(_event(1, kind))
        assert text and text != kind.replace("_", " ").capitalize(), kind


def test_notification_model(qtmodeltester):
    model = NotificationModel(lambda: NOW)
    model.set_rows(
        [
            NotificationRow(2, "assigned", 11, "Ada was assigned to you", NOW, False),
            NotificationRow(
                1, "call_back_due", None, "Call back due", NOW - timedelta(hours=3), True
            ),
        ]
    )
    qtmodeltester.check(model)
    assert model.data(model.index(0, 0)).startswith("Ada was assigned to you\n")
    assert model.data(model.index(0, 0), LEAD_ID_ROLE) == 11
    assert model.data(model.index(0, 0), Qt.ItemDataRole.FontRole).bold()
    assert model.data(model.index(1, 0), Qt.ItemDataRole.FontRole) is None
