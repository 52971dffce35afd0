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
from sqlalchemy import func, select

from salesdesk.db import Database, utcnow
from salesdesk.models import OutboxMessage, Rule
from salesdesk.services import actions, allocation, rules, sender
from salesdesk.services.errors import NotAllowedError, ValidationError
from tests.services._smtp import (
    Certificates,
    MemoryKeyring,
    SmtpServer,
    free_port,
    make_certificates,
    memory_keychain,
    running_server,
    use_mail_server,
)

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    yield from running_server()


@pytest.fixture
def keychain() -> Iterator[MemoryKeyring]:
    yield from memory_keychain()


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    return make_certificates(tmp_path_factory.mktemp("tls"))


def confirmations(db, floor, count: int, **lead_fields) -> list[int]:
    """``count`` Email Confirmed clicks by one rep: ``count`` outbox rows. Returns lead ids."""
    alice = floor.person("alice", cap=1000, email="alice@example.com")
    pool = floor.pool(members=[alice])
    floor.leads(pool, count, **lead_fields)
    ids = []
    for _ in range(count):
        lead = allocation.claim_next_lead(db, alice).lead
        actions.confirm_email(db, alice, lead.id)
        ids.append(lead.id)
    return ids


def outbox(db) -> list[OutboxMessage]:
    with db.read() as session:
        return list(session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


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
    waiting = sender.list_failed_mail(db, floor.admin)
    assert {m.status for m in waiting} == {"retrying"}
    assert "127.0.0.1" in waiting[0].last_error and "cannot be reached" in waiting[0].last_error
    assert sender.outbox_summary(db, floor.admin) == sender.OutboxSummary(0, 4, 0, 0)

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
    assert sender.list_failed_mail(db, floor.admin) == []


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
    (failed,) = sender.list_failed_mail(db, floor.admin)
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
    (row,) = sender.list_failed_mail(db, floor.admin)
    assert row.status == "partly_sent" and not row.can_retry
    assert "gone@example.com: 550" in row.last_error


def test_admin_retries_failed_mail(db, floor, clock, smtp):
    smtp.inbox.refuse_rcpt["lead1@example.com"] = "550 5.1.1 No such user here"
    use_mail_server(db, floor.admin, smtp.port)
    confirmations(db, floor, 2)
    sender.deliver_due(db)
    failed_id = sender.list_failed_mail(db, floor.admin)[0].id
    sent_id = next(r.id for r in outbox(db) if r.status == "sent")

    with pytest.raises(NotAllowedError):
        sender.list_failed_mail(db, floor.rep("bob"))
    with pytest.raises(NotAllowedError):
        sender.retry_mail(db, floor.manager, [failed_id])

    del smtp.inbox.refuse_rcpt["lead1@example.com"]  # the address was fixed at their end
    result = sender.retry_mail(db, floor.admin, [failed_id, sent_id, 999])

    assert result.done == (failed_id,)
    assert result.skipped == {sent_id: "was already sent", 999: "no longer exists"}
    assert sender.list_failed_mail(db, floor.admin) == []
    assert sender.deliver_due(db) == sender.DeliverySummary(sent=1)
    assert len(smtp.inbox.received) == 2
    assert {r.status for r in outbox(db)} == {"sent"}


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


# --- TLS and sign-in ---------------------------------------------------------------------------


def test_starttls_with_sign_in_delivers_and_keeps_the_password_out_of_the_database(
    db, floor, certificates, keychain
):
    server = SmtpServer(mode="starttls", certificates=certificates, users={"mailer": "s3cret!"})
    server.start()
    try:
        use_mail_server(
            db,
            floor.admin,
            server.port,
            mail_security="starttls",
            mail_user="mailer",
            mail_ca_file=str(certificates.ca_file),
        )
        assert sender.store_mail_password(db, floor.admin, "s3cret!") is True
        confirmations(db, floor, 2)

        check = sender.check_mail_server(db, floor.admin)
        summary = sender.deliver_due(db)
    finally:
        server.stop()

    assert check == f"Connected to 127.0.0.1:{server.port} with STARTTLS and signed in as mailer."
    assert summary == sender.DeliverySummary(sent=2)
    assert len(server.inbox.received) == 2
    assert keychain.passwords == {("salesdesk", "mail:mailer@127.0.0.1"): "s3cret!"}
    with db.read() as session:
        stored = [str(r.value) for r in session.scalars(select(Rule))]
    assert not any("s3cret" in value for value in stored)


def test_ssl_mode_delivers(db, floor, certificates):
    server = SmtpServer(mode="ssl", certificates=certificates).start()
    try:
        use_mail_server(
            db,
            floor.admin,
            server.port,
            mail_security="ssl",
            mail_ca_file=str(certificates.ca_file),
        )
        confirmations(db, floor, 1)
        summary = sender.deliver_due(db)
    finally:
        server.stop()
    assert summary == sender.DeliverySummary(sent=1)
    assert len(server.inbox.received) == 1


def test_bad_password_is_a_clear_error_in_the_admins_list(db, floor, clock, certificates, keychain):
    server = SmtpServer(mode="starttls", certificates=certificates, users={"mailer": "right"})
    server.start()
    try:
        use_mail_server(
            db,
            floor.admin,
            server.port,
            mail_security="starttls",
            mail_user="mailer",
            mail_ca_file=str(certificates.ca_file),
        )
        sender.store_mail_password(db, floor.admin, "wrong")
        confirmations(db, floor, 2)

        summary = sender.deliver_due(db)
        failed = sender.list_failed_mail(db, floor.admin)
        with pytest.raises(sender.MailServerError, match="refused the user name or password"):
            sender.check_mail_server(db, floor.admin)

        sender.store_mail_password(db, floor.admin, "right")
        sender.retry_mail(db, floor.admin, [m.id for m in failed])
        fixed = sender.deliver_due(db)
    finally:
        server.stop()

    assert summary == sender.DeliverySummary(failed=2, problem=failed[0].last_error)
    assert [m.status for m in failed] == ["failed", "failed"]
    assert failed[0].last_error == (
        f"The mail server 127.0.0.1:{server.port} refused the user name or password for "
        "mailer (535 5.7.8 Authentication credentials invalid). Correct them in the mail "
        "server settings, then retry the mail."
    )
    assert fixed == sender.DeliverySummary(sent=2)


def test_no_password_on_this_computer_keeps_mail_waiting(db, floor, certificates, keychain):
    use_mail_server(
        db,
        floor.admin,
        free_port(),
        mail_security="starttls",
        mail_user="mailer",
        mail_ca_file=str(certificates.ca_file),
    )
    confirmations(db, floor, 1)

    summary = sender.deliver_due(db)

    assert summary.retrying == 1
    assert "No password for the mail account mailer on 127.0.0.1" in summary.problem
    (row,) = sender.list_failed_mail(db, floor.admin)
    assert row.status == "retrying"


def test_an_untrusted_certificate_is_refused_in_words(db, floor, certificates):
    server = SmtpServer(mode="starttls", certificates=certificates).start()
    try:
        use_mail_server(db, floor.admin, server.port, mail_security="starttls")  # no CA file
        confirmations(db, floor, 1)
        summary = sender.deliver_due(db)
    finally:
        server.stop()
    assert summary.failed == 1
    assert "certificate that cannot be trusted" in summary.problem
    assert server.inbox.received == []


# --- mail server rules -------------------------------------------------------------------------


def test_mail_server_rules_are_checked_with_plain_messages(db, floor):
    admin = floor.admin
    cases = {
        "mail_host": ("smtp example.com", "host name such as smtp.example.com"),
        "mail_port": (70000, "Mail server port must be from 1 to 65535"),
        "mail_security": ("tls", "'none', 'starttls', 'ssl'"),
        "mail_from_address": ("sales", "not an email address"),
        "mail_from_name": ("Sales\nBcc: x@evil.example", "must be on one line"),
        "mail_ca_file": ("ca.pem", "must be a full path"),
    }
    for key, (value, words) in cases.items():
        with pytest.raises(ValidationError, match=words) as caught:
            rules.update_rules(db, admin, {key: value})
        assert caught.value.field == key

    with pytest.raises(ValidationError, match="Enter the From address"):
        rules.update_rules(db, admin, {"mail_host": "smtp.example.com"})
    with pytest.raises(ValidationError, match="send the mail password in the clear"):
        rules.update_rules(
            db,
            admin,
            {
                "mail_host": "smtp.example.com",
                "mail_from_address": "sales@example.com",
                "mail_security": "none",
                "mail_user": "mailer",
            },
        )
    assert rules.get_rules(db).mail_host == ""  # a refused save changes nothing

    saved = rules.update_rules(
        db,
        admin,
        {
            "mail_host": "smtp.example.com",
            "mail_port": "465",
            "mail_security": "ssl",
            "mail_from_address": "sales@example.com",
        },
    )
    assert (saved.mail_host, saved.mail_port, saved.mail_security) == (
        "smtp.example.com",
        465,
        "ssl",
    )


def test_unicode_long_lines_and_dots_arrive_intact(db, floor, smtp):
    from salesdesk.services import mail

    use_mail_server(db, floor.admin, smtp.port, mail_from_name="Vertrieb Müller & Söhne")
    long_line = "Zoë — " + "ünïcode wörds " * 30
    text = "{{ first_name }} 漢字\n.a line that starts with a dot\ntrailing spaces   \n" + long_line
    html = "<p>{{ first_name }} 漢字</p>\n<p>" + long_line + "</p>"
    mail.save_template(db, floor.admin, "confirmation", "Grüße, {{ first_name }} — ✓", text, html)
    confirmations(db, floor, 1, first_name="Zoë")

    assert sender.deliver_due(db) == sender.DeliverySummary(sent=1)

    (received,) = smtp.inbox.received
    (row,) = outbox(db)
    assert received.message["From"] == "Vertrieb Müller & Söhne <sales@example.com>"
    assert received.message["Subject"] == "Grüße, Zoë — ✓"
    assert received.part("plain") == row.body_text + "\n"
    assert received.part("html") == row.body_html + "\n"
    assert ".a line that starts with a dot\ntrailing spaces   \n" in received.part("plain")
    claimed = sender._Claimed(
        row.id,
        row.message_id,
        row.to_address,
        row.subject,
        row.body_text,
        row.body_html,
        row.created_at,
        1,
    )
    raw = sender.build_message(claimed, sender.server_settings(rules.get_rules(db)))
    assert max(len(line) for line in raw.split(b"\r\n")) <= 78  # folded and soft-broken
    assert raw.isascii()


def test_the_worker_command_delivers_the_outbox(db, floor, clock, smtp, capsys):
    from salesdesk import cli

    use_mail_server(db, floor.admin, smtp.port)
    clock.now = utcnow() - timedelta(minutes=1)  # the command runs on the real clock
    confirmations(db, floor, 2)

    code = cli.main(["worker", "--once", "--db", db.url.render_as_string(hide_password=False)])

    assert code == 0
    assert "mail: DeliverySummary(sent=2" in capsys.readouterr().out
    assert len(smtp.inbox.received) == 2


def test_send_test_email_reaches_the_admin_or_says_why_not(db, floor, certificates, keychain):
    server = SmtpServer(
        mode="starttls", certificates=certificates, users={"mailer": "right"}
    ).start()
    try:
        use_mail_server(
            db,
            floor.admin,
            server.port,
            mail_security="starttls",
            mail_user="mailer",
            mail_ca_file=str(certificates.ca_file),
        )
        sender.store_mail_password(db, floor.admin, "wrong")
        with pytest.raises(sender.MailServerError, match="refused the user name or password"):
            sender.send_test_email(db, floor.admin)
        sender.store_mail_password(db, floor.admin, "right")
        said = sender.send_test_email(db, floor.admin)
    finally:
        server.stop()
    assert said == f"Test email sent to admin@example.com through 127.0.0.1:{server.port}."
    [received] = server.inbox.received
    assert received.rcpt_tos == ["admin@example.com"]
    assert "went out through" in received.part("plain")
    with db.read() as session:
        assert session.scalar(select(func.count()).select_from(OutboxMessage)) == 0


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
    shown = {m.to_address: m.status for m in sender.list_failed_mail(db, floor.admin)}
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
    monkeypatch.setattr(sender, "PURGE_BATCH", 10)
    monkeypatch.setattr(sender, "PURGE_MAX_BATCHES", 3)
    _sent_rows(db, clock, 45)
    transactions = []
    real_write = db.write

    def counted_write():
        transactions.append(1)
        return real_write()

    monkeypatch.setattr(db, "write", counted_write)

    assert sender.purge_sent_mail(db) == 30  # three batches of ten, then the round ends
    assert len(transactions) == 3
    assert len(outbox(db)) == 15
    transactions.clear()
    assert sender.purge_sent_mail(db) == 15
    assert len(transactions) == 2  # 10, then 5: a short batch means nothing is left
    assert outbox(db) == []
    transactions.clear()
    assert sender.purge_sent_mail(db) == 0
    assert transactions == []  # nothing to purge: no write transaction at all
