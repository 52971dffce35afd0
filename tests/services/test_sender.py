"""Delivering the outbox to a real SMTP server (aiosmtpd on 127.0.0.1), on both engines."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from salesdesk.db import Database, utcnow
from salesdesk.services import actions, allocation, outbox_admin, sender
from tests.services._outbox import confirmations, outbox
from tests.services._smtp import SmtpServer, running_server, use_mail_server

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    yield from running_server()


def test_delivers_each_message_once_and_marks_it_sent(db, floor, clock, smtp):
    use_mail_server(db, floor.admin, smtp.port)
    confirmations(db, floor, 3)

    summary = sender.deliver_due(db)

    assert summary == sender.DeliverySummary(sent=3)
    rows = outbox(db)
    assert [r.status for r in rows] == ["sent"] * 3
    assert all(r.sent_at == clock.now and r.attempts == 1 and r.last_error is None for r in rows)
    assert sorted(smtp.inbox.message_ids()) == sorted(r.message_id for r in rows)
    assert [r.rcpt_tos for r in smtp.inbox.received] == [[r.to_address] for r in rows]
    assert all(r.mail_from == "sales@example.com" for r in smtp.inbox.received)
    assert sender.deliver_due(db) == sender.DeliverySummary()  # nothing twice


def test_without_a_mail_server_mail_waits_untouched(db, floor):
    confirmations(db, floor, 2)

    summary = sender.deliver_due(db)

    assert summary.sent == 0 and "No mail server is set up" in summary.skipped
    assert [(r.status, r.attempts) for r in outbox(db)] == [("pending", 0)] * 2


def test_server_down_queues_mail_then_delivers_each_exactly_once(db, floor, clock):
    server = SmtpServer()  # its port is chosen, nothing listens there yet
    use_mail_server(db, floor.admin, server.port)

    confirmations(db, floor, 4)  # the clicks succeed with the server down
    down = sender.deliver_due(db)

    assert down.retrying == 4 and down.sent == 0
    assert "cannot be reached" in down.problem
    rows = outbox(db)
    assert {r.status for r in rows} == {"pending"}
    assert {r.next_attempt_at for r in rows} == {clock.now + timedelta(minutes=1)}
    waiting = outbox_admin.list_failed_mail(db, floor.admin)
    assert {m.status for m in waiting} == {"retrying"}
    assert "127.0.0.1" in waiting[0].last_error and "cannot be reached" in waiting[0].last_error
    assert outbox_admin.outbox_summary(db, floor.admin) == outbox_admin.OutboxSummary(0, 4, 0, 0)

    clock.advance(seconds=30)  # not yet due: nothing is tried
    assert sender.deliver_due(db) == sender.DeliverySummary()

    server.start()
    try:
        clock.advance(seconds=31)
        back = sender.deliver_due(db)
        again = sender.deliver_due(db)
    finally:
        server.stop()

    assert back == sender.DeliverySummary(sent=4)
    assert again == sender.DeliverySummary()
    ids = server.inbox.message_ids()
    assert sorted(ids) == sorted(r.message_id for r in outbox(db))
    assert len(set(ids)) == len(ids) == 4
    assert all(r.status == "sent" and r.last_error is None for r in outbox(db))
    assert outbox_admin.list_failed_mail(db, floor.admin) == []


def test_backoff_doubles_then_gives_up_with_the_servers_reason(db, floor, clock, smtp, monkeypatch):
    monkeypatch.setattr(sender, "MAX_ATTEMPTS", 4)
    smtp.inbox.data_reply = "451 4.3.0 Mailbox temporarily unavailable"
    use_mail_server(db, floor.admin, smtp.port)
    confirmations(db, floor, 1)

    waits = []
    for _ in range(3):
        assert sender.deliver_due(db) == sender.DeliverySummary(retrying=1)
        (row,) = outbox(db)
        waits.append(row.next_attempt_at - clock.now)
        clock.now = row.next_attempt_at
    final = sender.deliver_due(db)

    assert waits == [timedelta(minutes=1), timedelta(minutes=2), timedelta(minutes=4)]
    assert final == sender.DeliverySummary(failed=1)
    (row,) = outbox(db)
    assert row.status == "failed" and row.attempts == 4
    assert "451 4.3.0 Mailbox temporarily unavailable" in row.last_error
    assert sender.backoff(10) == sender.BACKOFF_MAX


def test_permanent_refusal_fails_at_once_and_others_still_go(db, floor, smtp):
    smtp.inbox.refuse_rcpt["lead2@example.com"] = "550 5.1.1 No such user here"
    use_mail_server(db, floor.admin, smtp.port)
    confirmations(db, floor, 3)

    summary = sender.deliver_due(db)

    assert summary == sender.DeliverySummary(sent=2, failed=1)
    (failed,) = outbox_admin.list_failed_mail(db, floor.admin)
    assert failed.status == "failed" and failed.to_address == "lead2@example.com"
    assert failed.attempts == 1 and failed.can_retry
    assert "lead2@example.com: 550 5.1.1 No such user here" in failed.last_error
    assert len(smtp.inbox.received) == 2


def test_partly_refused_mail_is_sent_and_shown_to_admins(db, floor, smtp):
    smtp.inbox.refuse_rcpt["gone@example.com"] = "550 5.1.1 No such user here"
    use_mail_server(db, floor.admin, smtp.port, admin_emails="desk@example.com, gone@example.com")
    alice = floor.rep("alice")
    pool = floor.pool(members=[alice])
    floor.leads(pool, 1)
    lead = allocation.claim_next_lead(db, alice).lead
    actions.make_appointment(db, alice, lead.id)

    assert sender.deliver_due(db) == sender.DeliverySummary(sent=1)

    (received,) = smtp.inbox.received
    assert received.rcpt_tos == ["desk@example.com"]
    (row,) = outbox_admin.list_failed_mail(db, floor.admin)
    assert row.status == "partly_sent" and not row.can_retry
    assert "gone@example.com: 550" in row.last_error


def test_crash_after_data_before_marked_sent_resends_only_that_one_same_id(
    db, floor, clock, smtp, monkeypatch
):
    use_mail_server(db, floor.admin, smtp.port)
    confirmations(db, floor, 6)
    real_record = sender._record
    sent_so_far = 0

    def record_then_crash(database, outcomes):
        nonlocal sent_so_far
        sent_so_far += sum(o.sent for o in outcomes)
        if sent_so_far == 3:  # the 3rd message is with the server; the process "dies"
            raise KeyboardInterrupt
        real_record(database, outcomes)

    monkeypatch.setattr(sender, "_record", record_then_crash)
    with pytest.raises(KeyboardInterrupt):
        sender.deliver_due(db)
    monkeypatch.setattr(sender, "_record", real_record)

    rows = outbox(db)
    assert [r.status for r in rows] == ["sent", "sent", "in_flight"] + ["pending"] * 3
    assert [r.attempts for r in rows] == [1, 1, 1, 0, 0, 0]  # the untried were given back

    assert sender.deliver_due(db) == sender.DeliverySummary(sent=3)  # the untried, at once
    clock.advance(seconds=sender.LEASE.total_seconds() + 1)  # the lease of the lost one ends
    assert sender.deliver_due(db) == sender.DeliverySummary(sent=1)

    ids = smtp.inbox.message_ids()
    assert sorted(set(ids)) == sorted(r.message_id for r in rows)
    doubled = [i for i in set(ids) if ids.count(i) > 1]
    assert doubled == [rows[2].message_id] and ids.count(rows[2].message_id) == 2
    copies = [r.message for r in smtp.inbox.received if r.message_id == rows[2].message_id]
    assert copies[0].as_bytes() == copies[1].as_bytes()  # the same message, byte for byte
    assert {r.status for r in outbox(db)} == {"sent"}


def test_sender_killed_mid_batch_loses_nothing(db, floor, clock, smtp):
    """A real ``kill -9`` of a sending process while the server holds a message."""
    use_mail_server(db, floor.admin, smtp.port)
    clock.now = utcnow() - timedelta(minutes=1)  # the child process runs on the real clock
    confirmations(db, floor, 6)
    third_arrived = threading.Event()

    async def stall_on_third(count: int) -> None:
        if count == 3:
            third_arrived.set()
            await asyncio.sleep(5)  # the 250 comes too late: the sender is gone

    smtp.inbox.on_data = stall_on_third
    url = db.url.render_as_string(hide_password=False)
    child = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys; from salesdesk.db import Database; from salesdesk.services import sender;"
            " sender.deliver_due(Database(sys.argv[1]))",
            url,
        ],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    try:
        assert third_arrived.wait(30), "the child never sent its third message"
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(10)
    smtp.inbox.on_data = None

    rows = outbox(db)
    assert [r.status for r in rows] == ["sent", "sent"] + ["in_flight"] * 4
    assert sender.deliver_due(db) == sender.DeliverySummary()  # leases still running
    clock.now = utcnow() + sender.LEASE + timedelta(seconds=1)
    assert sender.deliver_due(db) == sender.DeliverySummary(sent=4)

    ids = smtp.inbox.message_ids()
    assert sorted(set(ids)) == sorted(r.message_id for r in rows)  # nothing lost
    assert ids.count(rows[2].message_id) == 2  # the one the server had: again, same id
    assert all(ids.count(r.message_id) == 1 for r in rows if r.id != rows[2].id)
    assert {r.status for r in outbox(db)} == {"sent"}


def test_two_senders_at_once_send_each_message_once(db, floor, smtp):
    use_mail_server(db, floor.admin, smtp.port)
    confirmations(db, floor, 40)
    errors: list[BaseException] = []

    def run() -> None:
        second = Database(db.url.render_as_string(hide_password=False), clock=db.clock)
        try:
            while sender.deliver_due(second, limit=5) != sender.DeliverySummary():
                pass
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            second.dispose()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)

    assert errors == []
    ids = smtp.inbox.message_ids()
    assert len(ids) == len(set(ids)) == 40
    assert {r.status for r in outbox(db)} == {"sent"}


def test_claims_never_overlap(db, floor):
    confirmations(db, floor, 60)
    claimed: list[list[int]] = [[], []]

    def claim(slot: int) -> None:
        other = Database(db.url.render_as_string(hide_password=False), clock=db.clock)
        try:
            while batch := sender._claim(other, 3):
                claimed[slot].extend(r.id for r in batch)
        finally:
            other.dispose()

    threads = [threading.Thread(target=claim, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)

    every = claimed[0] + claimed[1]
    assert len(every) == len(set(every)) == 60


def test_a_second_worker_stands_by_while_one_delivers(db, floor, smtp):
    use_mail_server(db, floor.admin, smtp.port)
    confirmations(db, floor, 1)
    with sender._sender_lock(db) as mine:
        assert mine
        other = sender.deliver_due(db)
    if db.dialect == "postgresql":
        assert other.skipped == "Another sender is delivering mail right now."
        assert sender.deliver_due(db) == sender.DeliverySummary(sent=1)
    else:  # SQLite: the write lock on each claim is what keeps senders apart
        assert other == sender.DeliverySummary(sent=1)


def test_the_worker_command_delivers_the_outbox(db, floor, clock, smtp, capsys):
    from salesdesk import cli

    use_mail_server(db, floor.admin, smtp.port)
    clock.now = utcnow() - timedelta(minutes=1)  # the command runs on the real clock
    confirmations(db, floor, 2)

    code = cli.main(["worker", "--once", "--db", db.url.render_as_string(hide_password=False)])

    assert code == 0
    assert capsys.readouterr().out.strip().endswith("mail: 2 sent")
    assert len(smtp.inbox.received) == 2
