"""An admin retrying failed mail, and the clock jobs purging old sent mail, on both engines."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest

from salesdesk.models import OutboxMessage
from salesdesk.services import outbox_admin, rules, sender
from salesdesk.services.errors import NotAllowedError
from tests.services._outbox import confirmations, outbox
from tests.services._smtp import SmtpServer, running_server, use_mail_server


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    yield from running_server()


def test_admin_retries_failed_mail(db, floor, clock, smtp):
    smtp.inbox.refuse_rcpt["lead1@example.com"] = "550 5.1.1 No such user here"
    use_mail_server(db, floor.admin, smtp.port)
    confirmations(db, floor, 2)
    sender.deliver_due(db)
    failed_id = outbox_admin.list_failed_mail(db, floor.admin)[0].id
    sent_id = next(r.id for r in outbox(db) if r.status == "sent")

    with pytest.raises(NotAllowedError):
        outbox_admin.list_failed_mail(db, floor.rep("bob"))
    with pytest.raises(NotAllowedError):
        outbox_admin.retry_mail(db, floor.manager, [failed_id])

    del smtp.inbox.refuse_rcpt["lead1@example.com"]  # the address was fixed at their end
    result = outbox_admin.retry_mail(db, floor.admin, [failed_id, sent_id, 999])

    assert result.done == (failed_id,)
    assert result.skipped == {sent_id: "was already sent", 999: "no longer exists"}
    assert outbox_admin.list_failed_mail(db, floor.admin) == []
    assert sender.deliver_due(db) == sender.DeliverySummary(sent=1)
    assert len(smtp.inbox.received) == 2
    assert {r.status for r in outbox(db)} == {"sent"}


# --- purging sent mail ------------------------------------------------------------------


def test_the_clock_jobs_purge_sent_mail_after_30_days_and_keep_failed_and_waiting_mail(
    db, floor, clock, smtp
):
    from salesdesk.services import jobs

    smtp.inbox.refuse_rcpt["lead2@example.com"] = "550 5.1.1 No such user here"
    use_mail_server(db, floor.admin, smtp.port)
    rules.update_rules(db, floor.admin, {"idle_days": 0, "keep_days": 0})  # no other mail
    confirmations(db, floor, 3)
    assert sender.deliver_due(db) == sender.DeliverySummary(sent=2, failed=1)
    _outbox_row(db, "retrying@example.com", "pending", clock.now, last_error="451 try later")
    clock.advance(days=20)
    _outbox_row(db, "recent@example.com", "sent", clock.now)

    clock.advance(days=9, hours=23)  # 29 days and 23 hours after the first two went out
    jobs.run_due_jobs(db)
    assert len(outbox(db)) == 5
    clock.advance(hours=1, minutes=6)  # 30 days after, and past their lease's end too
    jobs.run_due_jobs(db)

    left = {r.to_address: r.status for r in outbox(db)}
    assert left == {
        "lead2@example.com": "failed",  # an admin still sees it and can retry it
        "retrying@example.com": "pending",
        "recent@example.com": "sent",
    }
    shown = {m.to_address: m.status for m in outbox_admin.list_failed_mail(db, floor.admin)}
    assert shown == {"lead2@example.com": "failed", "retrying@example.com": "retrying"}
    clock.advance(days=20)  # 30 days and an hour after the recent one went out
    jobs.run_due_jobs(db)
    assert {r.to_address for r in outbox(db)} == {"lead2@example.com", "retrying@example.com"}


def _outbox_row(db, to: str, status: str, at, last_error: str | None = None) -> None:
    """A message written straight into the outbox, as the sender leaves it."""
    with db.write() as session:
        session.add(
            OutboxMessage(
                message_id=f"<{to}>",
                template="confirmation",
                to_address=to,
                subject="Thanks",
                body_text="x" * 2000,
                status=status,
                attempts=1,
                created_at=at,
                next_attempt_at=at + (sender.LEASE if status == "sent" else timedelta(days=90)),
                sent_at=at if status == "sent" else None,
                last_error=last_error,
            )
        )


def _sent_rows(db, clock, count: int) -> None:
    """``count`` messages sent 31 days ago."""
    for i in range(count):
        _outbox_row(db, f"lead{i}@example.com", "sent", clock.now - timedelta(days=31))


def test_a_long_backlog_is_purged_in_short_transactions_over_several_rounds(db, clock, monkeypatch):
    monkeypatch.setattr(outbox_admin, "PURGE_BATCH", 10)
    monkeypatch.setattr(outbox_admin, "PURGE_MAX_BATCHES", 3)
    _sent_rows(db, clock, 45)
    transactions = []
    real_write = db.write

    def counted_write():
        transactions.append(1)
        return real_write()

    monkeypatch.setattr(db, "write", counted_write)

    assert outbox_admin.purge_sent_mail(db) == 30  # three batches of ten, then the round ends
    assert len(transactions) == 3
    assert len(outbox(db)) == 15
    transactions.clear()
    assert outbox_admin.purge_sent_mail(db) == 15
    assert len(transactions) == 2  # 10, then 5: a short batch means nothing is left
    assert outbox(db) == []
    transactions.clear()
    assert outbox_admin.purge_sent_mail(db) == 0
    assert transactions == []  # nothing to purge: no write transaction at all
