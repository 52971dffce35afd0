"""Each default template as the recipient gets it: through the real flow to a real SMTP server."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC
from email.utils import parsedate_to_datetime

import pytest
from sqlalchemy import select

from salesdesk.models import EmailTemplate, OutboxMessage
from salesdesk.services import actions, allocation, jobs, leads, mail, rules, sender, team
from salesdesk.services.errors import NotAllowedError, ValidationError
from tests.services._smtp import Received, SmtpServer, running_server, use_mail_server

JANE = {
    "first_name": "Jane",
    "last_name": "Doe",
    "company": "Acme & Sons <Ltd>",
    "email": "jane@example.com",
    "phone": "+44 20 7946 0000",
    "source": "Trade fair",
}


@pytest.fixture(autouse=True)
def utc_floor(floor_zone):
    """Emails give times on the floor's clock: UTC here unless a test says otherwise."""
    floor_zone("UTC")


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    yield from running_server()


@pytest.fixture
def desk(db, floor, smtp):
    """Alice holds Jane; the mail rules point at the test server."""
    use_mail_server(db, floor.admin, smtp.port, admin_emails="desk@example.com, boss@example.com")
    alice = floor.person("alice", email="alice@example.com")
    pool = floor.pool(members=[alice])
    floor.leads(pool, 1, **JANE)
    lead = allocation.claim_next_lead(db, alice).lead
    return alice, pool, lead


def deliver_one(db, smtp, template: str) -> tuple[Received, OutboxMessage]:
    assert sender.deliver_due(db).sent >= 1
    with db.read() as session:
        row = session.scalars(select(OutboxMessage).where(OutboxMessage.template == template)).one()
    assert row.status == "sent"
    (received,) = [r for r in smtp.inbox.received if r.message_id == row.message_id]
    return received, row


def assert_well_formed(received: Received, row: OutboxMessage, clock) -> tuple[str, str]:
    """Headers every message carries; returns (text, html)."""
    msg = received.message
    assert msg["From"] == "Example Sales <sales@example.com>"
    assert msg["Message-ID"] == row.message_id
    assert row.message_id.startswith("<") and row.message_id.endswith("@example.com>")
    assert parsedate_to_datetime(msg["Date"]) == row.created_at.replace(tzinfo=UTC)
    assert msg["Auto-Submitted"] == "auto-generated"
    assert msg.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in msg.iter_parts()] == ["text/plain", "text/html"]
    text, html = received.part("plain"), received.part("html")
    for body in (text, html, msg["Subject"]):
        assert "{{" not in body and "{%" not in body
    assert html.lstrip().startswith("<!DOCTYPE html>")
    return text, html


def test_confirmation_to_the_lead(db, floor, clock, smtp, desk):
    alice, _, lead = desk
    actions.confirm_email(db, alice, lead.id)

    received, row = deliver_one(db, smtp, "confirmation")
    text, html = assert_well_formed(received, row, clock)

    assert received.rcpt_tos == ["jane@example.com"]
    assert received.message["To"] == "jane@example.com"
    assert received.message["Subject"] == "Example Ltd: confirming your details, Jane"
    for words in ("Dear Jane,", "thank you for speaking with Alice today", "+44 20 7946 0000"):
        assert words in text and words in html
    assert "for Acme & Sons <Ltd>," in text
    assert "<b>Acme &amp; Sons &lt;Ltd&gt;</b>" in html  # merge fields are escaped in HTML
    assert "<Ltd>" not in html
    assert text.rstrip().endswith("Alice\nExample Ltd\nalice@example.com")
    assert 'href="mailto:alice@example.com"' in html


def test_appointment_notice_to_the_admin_team(db, floor, clock, smtp, desk):
    alice, _, lead = desk
    actions.make_appointment(db, alice, lead.id)

    received, row = deliver_one(db, smtp, "appointment")
    text, html = assert_well_formed(received, row, clock)

    assert received.rcpt_tos == ["desk@example.com", "boss@example.com"]
    assert received.message["To"] == "desk@example.com, boss@example.com"
    assert received.message["Subject"] == "Appointment made: Jane Doe (Acme & Sons <Ltd>)"
    assert "Alice made an appointment with this lead on 2026-03-02 09:00 UTC." in text
    for line in ("Phone:   +44 20 7946 0000", "Email:   jane@example.com", "Source:  Trade fair"):
        assert line in text
    assert '<a href="tel:+44 20 7946 0000"' in html and "Trade fair" in html
    assert "SalesDesk for Example Ltd" in text and "SalesDesk for Example Ltd" in html


def test_call_back_reminder_to_the_rep(db, floor, clock, smtp, desk, floor_zone):
    floor_zone("America/New_York")  # the worker runs in the floor's zone: 14:30 UTC is 09:30 EST
    alice, _, lead = desk
    rules.update_rules(db, floor.admin, {"callback_reminder": "email"})
    actions.schedule_call_back(db, alice, lead.id, clock.now.replace(hour=14, minute=30))
    clock.advance(hours=6)
    assert jobs.run_due_jobs(db).callbacks_due == 1

    received, row = deliver_one(db, smtp, "call_back_reminder")
    text, html = assert_well_formed(received, row, clock)

    assert received.rcpt_tos == ["alice@example.com"]
    assert received.message["Subject"] == "Call back due: Jane Doe (Acme & Sons <Ltd>)"
    assert "Hello Alice," in text and "is due at 09:30 EST." in text
    assert "is due at <b>09:30 EST</b>" in html
    assert "+44 20 7946 0000" in text and "back in your Current list" in text


def test_follow_up_reminder_to_the_rep(db, floor, clock, smtp, desk):
    _, pool, lead = desk
    team.update_pool(db, floor.admin, pool.id, follow_up_days=2)  # idle release is at 3
    rules.update_rules(db, floor.admin, {"follow_up_reminder": "email"})
    clock.advance(days=2, minutes=1)
    assert jobs.run_due_jobs(db).follow_ups == 1

    received, row = deliver_one(db, smtp, "follow_up_reminder")
    text, html = assert_well_formed(received, row, clock)

    assert received.rcpt_tos == ["alice@example.com"]
    assert received.message["Subject"] == (
        "Follow up: Jane Doe (Acme & Sons <Ltd>) — no contact for 2 working days"
    )
    assert "for 2 working days (last contact: none since it was assigned on 2026-03-02)" in text
    assert "for <b>2 working days</b>" in html
    assert row.lead_id == lead.id


def test_assigned_notice_when_one_lead_is_the_only_news(db, floor, clock, smtp):
    use_mail_server(db, floor.admin, smtp.port)
    bob = floor.person("bob", email="bob@example.com")
    pool = floor.pool("Inbound", members=[bob])
    (lead_id,) = floor.leads(pool, 1, **JANE)
    leads.assign_leads(db, floor.manager, [lead_id], bob.id)
    clock.advance(minutes=6)
    assert jobs.run_due_jobs(db).digests == 1

    received, row = deliver_one(db, smtp, "assigned")
    text, html = assert_well_formed(received, row, clock)

    assert received.rcpt_tos == ["bob@example.com"]
    assert received.message["Subject"] == "New lead for you: Jane Doe (Acme & Sons <Ltd>)"
    assert "Hello Bob," in text
    assert "Jane Doe (Acme & Sons <Ltd>) is now yours in SalesDesk (pool: Inbound)." in text
    assert "(pool: Inbound)" in html and "&lt;Ltd&gt;" in html


def test_digest_lists_leads_given_and_taken(db, floor, clock, smtp):
    use_mail_server(db, floor.admin, smtp.port)
    alice = floor.person("alice", email="alice@example.com")
    bob = floor.person("bob", email="bob@example.com")
    pool = floor.pool(members=[alice, bob])
    ids = floor.leads(pool, 1, **JANE) + floor.leads(pool, 1, first_name="Tom", last_name="Roe")
    leads.assign_leads(db, floor.manager, ids, alice.id)
    clock.advance(minutes=2)
    leads.assign_leads(db, floor.manager, ids[:1], bob.id)
    clock.advance(minutes=6)
    assert jobs.run_due_jobs(db).digests == 2
    assert sender.deliver_due(db).sent == 2

    to_alice = next(r for r in smtp.inbox.received if r.rcpt_tos == ["alice@example.com"])
    with db.read() as session:
        row = session.scalars(
            select(OutboxMessage).where(OutboxMessage.message_id == to_alice.message_id)
        ).one()
    text, html = assert_well_formed(to_alice, row, clock)
    assert to_alice.message["Subject"] == "SalesDesk: 3 lead changes for you"
    assert "Hello Alice," in text
    assert "  09:00 UTC  Jane Doe was assigned to you by Manager\n" in text
    assert "  09:00 UTC  Tom Roe was assigned to you by Manager\n" in text
    assert "  09:02 UTC  Jane Doe was reassigned to Bob by Manager\n" in text
    assert "at most once an hour" in text
    assert html.count('<td class="label">') == 3  # one row per change
    assert "Jane Doe was reassigned to Bob by Manager</td>" in html

    to_bob = next(r for r in smtp.inbox.received if r.rcpt_tos == ["bob@example.com"])
    assert to_bob.message["Subject"] == "New lead for you: Jane Doe (Acme & Sons <Ltd>)"


# --- templates: checked when saved or loaded, never when a rep clicks ---------------------------


def test_every_shipped_template_passes_its_own_check():
    for name in mail.TEMPLATE_FIELDS:
        detail = mail.default_template(name)
        mail.check_template(name, detail.subject, detail.body_text, detail.body_html)
        rendered = mail.render(detail, mail.sample_context(name))
        assert rendered.body_text.strip() and rendered.body_html.strip()
        assert "\n" not in rendered.subject


def test_saving_a_template_with_an_unknown_field_is_refused_in_words(db, floor):
    with pytest.raises(ValidationError) as caught:
        mail.save_template(
            db, floor.admin, "confirmation", "Hi {{ first_name }}", "{{ shoe_size }}", ""
        )
    assert str(caught.value).startswith("The text body uses an unknown field {{ shoe_size }}.")
    assert "{{ first_name }}" in str(caught.value)

    with pytest.raises(ValidationError, match="cannot be filled in with sample values"):
        mail.save_template(db, floor.admin, "digest", "{{ count // 0 }}", "x", "")
    with pytest.raises(NotAllowedError):
        mail.save_template(db, floor.manager, "confirmation", "Hi", "Body", "")


def test_a_saved_template_is_what_goes_out(db, floor, clock, smtp, desk):
    alice, _, lead = desk
    mail.save_template(
        db,
        floor.admin,
        "confirmation",
        "Thanks, {{ first_name }}!",
        "Hi {{ first_name }}, {{ rep_name }} here.",
        "<p>Hi {{ first_name }}, {{ rep_name }} here.</p>",
    )
    actions.confirm_email(db, alice, lead.id)

    received, _ = deliver_one(db, smtp, "confirmation")

    assert received.message["Subject"] == "Thanks, Jane!"
    assert received.part("plain").strip() == "Hi Jane, Alice here."
    assert received.part("html").strip() == "<p>Hi Jane, Alice here.</p>"


def test_a_broken_saved_template_never_fails_the_click(db, floor, clock, desk):
    alice, _, lead = desk
    with db.write() as session:  # as an older version might have left it
        session.add(
            EmailTemplate(
                name="confirmation",
                subject="Hi {{ shoe_size }}",
                body_text="x",
                body_html="",
                updated_at=clock.now,
            )
        )

    actions.confirm_email(db, alice, lead.id)  # does not raise

    with db.read() as session:
        row = session.scalars(select(OutboxMessage)).one()
    assert row.subject == "Example Ltd: confirming your details, Jane"  # the shipped default


def test_message_id_uses_the_from_domain_or_a_reserved_one(db, floor, clock, desk):
    alice, _, lead = desk
    actions.confirm_email(db, alice, lead.id)
    rules.update_rules(db, floor.admin, {"mail_host": "", "mail_from_address": ""})
    clock.advance(minutes=1)
    actions.confirm_email(db, alice, lead.id)
    with db.read() as session:
        ids = list(session.scalars(select(OutboxMessage.message_id).order_by(OutboxMessage.id)))
    assert ids[0].endswith("@example.com>")
    assert ids[1].endswith("@salesdesk.invalid>")
    assert len(set(ids)) == 2


def test_plain_text_only_template_sends_a_single_part(db, floor, clock, smtp, desk):
    alice, _, lead = desk
    mail.save_template(db, floor.admin, "confirmation", "Hello", "Just text, {{ first_name }}.", "")
    actions.confirm_email(db, alice, lead.id)
    received, _ = deliver_one(db, smtp, "confirmation")
    assert received.message.get_content_type() == "text/plain"
    assert received.message.get_content().strip() == "Just text, Jane."
