"""Connecting to the mail server (TLS, sign-in, the kept password), the message as it goes
out, and the admin's test email, against a real SMTP server (aiosmtpd on 127.0.0.1), on
both engines.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import func, select

from salesdesk.models import OutboxMessage, Rule
from salesdesk.services import mail_server, outbox_admin, rules, sender
from salesdesk.services.errors import ValidationError
from tests.services._outbox import confirmations, outbox
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


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    yield from running_server()


@pytest.fixture
def keychain() -> Iterator[MemoryKeyring]:
    yield from memory_keychain()


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    return make_certificates(tmp_path_factory.mktemp("tls"))


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
        assert mail_server.store_mail_password(db, floor.admin, "s3cret!") is True
        confirmations(db, floor, 2)

        check = mail_server.check_mail_server(db, floor.admin)
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
        mail_server.store_mail_password(db, floor.admin, "wrong")
        confirmations(db, floor, 2)

        summary = sender.deliver_due(db)
        failed = outbox_admin.list_failed_mail(db, floor.admin)
        with pytest.raises(mail_server.MailServerError, match="refused the user name or password"):
            mail_server.check_mail_server(db, floor.admin)

        mail_server.store_mail_password(db, floor.admin, "right")
        outbox_admin.retry_mail(db, floor.admin, [m.id for m in failed])
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
    (row,) = outbox_admin.list_failed_mail(db, floor.admin)
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
        mail_server.store_mail_password(db, floor.admin, "wrong")
        with pytest.raises(mail_server.MailServerError, match="refused the user name or password"):
            mail_server.send_test_email(db, floor.admin)
        mail_server.store_mail_password(db, floor.admin, "right")
        said = mail_server.send_test_email(db, floor.admin)
    finally:
        server.stop()
    assert said == f"Test email sent to admin@example.com through 127.0.0.1:{server.port}."
    [received] = server.inbox.received
    assert received.rcpt_tos == ["admin@example.com"]
    assert "went out through" in received.part("plain")
    with db.read() as session:
        assert session.scalar(select(func.count()).select_from(OutboxMessage)) == 0


def test_a_server_is_tried_before_it_is_saved(db, floor, certificates, keychain):
    """The admin's unsaved settings and typed password are what the test uses; nothing is kept."""
    server = SmtpServer(
        mode="starttls", certificates=certificates, users={"mailer": "right"}
    ).start()
    try:
        use_mail_server(db, floor.admin, free_port())  # saved: a port where nothing listens
        typed = {
            "mail_port": server.port,
            "mail_security": "starttls",
            "mail_user": "mailer",
            "mail_ca_file": str(certificates.ca_file),
        }
        with pytest.raises(mail_server.MailServerError, match="refused the user name or password"):
            mail_server.send_test_email(db, floor.admin, changes=typed, password="wrong")
        said = mail_server.send_test_email(db, floor.admin, changes=typed, password="right")
        with pytest.raises(ValidationError, match="from 1 to 65535"):
            mail_server.send_test_email(db, floor.admin, changes={"mail_port": 0})
    finally:
        server.stop()
    assert said == f"Test email sent to admin@example.com through 127.0.0.1:{server.port}."
    assert rules.get_rules(db).mail_user == ""  # only tried, not saved
    assert keychain.passwords == {}  # and the typed password was not stored


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


# --- the message as it goes out ----------------------------------------------------------------


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
    claimed = mail_server.OutgoingMessage(
        row.id,
        row.message_id,
        row.to_address,
        row.subject,
        row.body_text,
        row.body_html,
        row.created_at,
        1,
    )
    raw = mail_server.build_message(claimed, mail_server.server_settings(rules.get_rules(db)))
    assert max(len(line) for line in raw.split(b"\r\n")) <= 78  # folded and soft-broken
    assert raw.isascii()
