"""What a rep does with a lead: the four action buttons, logging a call, notes.

Every action, and a note, takes an optional ``request_id``: the client makes
one per click and sends the same one again when it retries after a lost
connection. If that click already committed, the action answers with the lead
as it is now (a note: with the note saved) and does nothing twice — no second
email, no second event, no second note.

Each function is one transaction that locks the lead, checks the actor may
act on it *now* (it may have been reassigned since the screen showed it),
stamps its date field, moves the lead, writes the event and — where the action
sends mail — the outbox row. Either all of that happens or none of it.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from salesdesk.db import Database
from salesdesk.models import Lead, LeadStatus, Note, Role, User
from salesdesk.services import mail
from salesdesk.services.auth import require
from salesdesk.services.errors import LeadChangedError, NotAllowedError, ValidationError
from salesdesk.services.lifecycle import (
    NOTE_ADDED,
    event_of_request,
    fetch_lead_row,
    forget_leads,
    record_event,
    replayed,
    transition,
)
from salesdesk.services.notifications import notify
from salesdesk.services.records import Actor, LeadRow, NoteRow
from salesdesk.services.rules import load_rules
from salesdesk.services.workdays import floor_time

# A lead the rep is working: in Current, or waiting in Call backs.
WORKABLE = (LeadStatus.CURRENT.value, LeadStatus.CALLBACK.value)
MAX_CALL_BACK_DAYS = 366
MAX_NOTE_LENGTH = 10_000


def _lock_workable_lead(session: Session, actor: Actor, lead_id: int) -> tuple[Lead, User]:
    """Lock the lead and check this actor may work it in its current state."""
    user = require(session, actor)
    lead = session.execute(
        select(Lead).where(Lead.id == lead_id).with_for_update()
    ).scalar_one_or_none()
    if lead is None:
        raise LeadChangedError("This lead no longer exists; a manager may have removed it.")
    is_manager = user.role in (Role.MANAGER.value, Role.ADMIN.value)
    mine_or_nobodys = lead.owner_id in (None, user.id)
    if lead.status not in WORKABLE and (mine_or_nobodys or is_manager):
        raise LeadChangedError(
            f"This lead is already {_status_words(lead.status)}; nothing was changed."
        )
    if lead.owner_id != user.id and not is_manager:
        raise LeadChangedError(
            "This lead is no longer yours: it was reassigned or returned to the pool."
        )
    return lead, user


def _already_done(session: Session, actor: Actor, request_id: str | None) -> bool:
    """True when this click was already done (a retry after a lost connection)."""
    require(session, actor)
    return replayed(session, request_id)[0]


def _status_words(status: str) -> str:
    return {
        "pool": "back in the pool",
        "appointment": "with the admin team (appointment made)",
        "dead": "marked dead",
    }.get(status, status)


def mark_dead(
    db: Database, actor: Actor, lead_id: int, reason: str = "", *, request_id: str | None = None
) -> LeadRow | None:
    """Dead: hidden and tagged, or deleted, as the dead-lead rule says.

    Returns the lead as it is now, or ``None`` when the rule deleted it. A
    deleted lead leaves one ``deleted`` event without any personal data.
    """
    with db.write() as session:
        if _already_done(session, actor, request_id):
            return fetch_lead_row(session, lead_id)
        lead, user = _lock_workable_lead(session, actor, lead_id)
        rules = load_rules(session)
        now = db.now()
        if rules.dead_policy == "delete":
            record_event(
                session,
                lead_id=None,
                actor_id=user.id,
                kind="deleted",
                request_id=request_id,
                at=now,
                from_status=lead.status,
                to_status=None,
                from_owner_id=lead.owner_id,
                details={"reason": "dead"},
            )
            forget_leads(session, [lead.id])
            return None
        lead.dead_at = now
        lead.last_action_at = now
        lead.call_back_at = None
        lead.tags = sorted({*(lead.tags or []), rules.dead_tag})
        details = {"reason": reason.strip()} if reason.strip() else {}
        transition(
            session,
            lead,
            kind="dead",
            request_id=request_id,
            actor_id=user.id,
            at=now,
            status=LeadStatus.DEAD,
            owner_id=None,
            details=details,
        )
        session.flush()
        return fetch_lead_row(session, lead.id)


def schedule_call_back(
    db: Database, actor: Actor, lead_id: int, when: datetime, *, request_id: str | None = None
) -> LeadRow:
    """Call Back: the lead leaves Current and returns on ``when`` (naive UTC)."""
    with db.write() as session:
        if _already_done(session, actor, request_id):
            return _row(session, lead_id)
        now = db.now()
        if when <= now:
            raise ValidationError("Pick a call back time in the future.", field="when")
        if when > now + timedelta(days=MAX_CALL_BACK_DAYS):
            raise ValidationError("A call back can be at most a year ahead.", field="when")
        lead, user = _lock_workable_lead(session, actor, lead_id)
        lead.call_back_at = when
        lead.last_action_at = now
        transition(
            session,
            lead,
            kind="call_back",
            request_id=request_id,
            actor_id=user.id,
            at=now,
            status=LeadStatus.CALLBACK,
            details={"call_back_at": when.isoformat()},
        )
        session.flush()
        return _row(session, lead.id)


def confirm_email(
    db: Database, actor: Actor, lead_id: int, *, request_id: str | None = None
) -> LeadRow:
    """Email Confirmed: the confirmation email goes to the lead; the lead stays Current."""
    with db.write() as session:
        if _already_done(session, actor, request_id):
            return _row(session, lead_id)
        lead, user = _lock_workable_lead(session, actor, lead_id)
        if not lead.email:
            raise ValidationError(
                "This lead has no email address, so no confirmation can be sent.", field="email"
            )
        now = db.now()
        rules = load_rules(session)
        owner = session.get(User, lead.owner_id) if lead.owner_id else user
        mail.enqueue(
            session,
            template="confirmation",
            to=[lead.email],
            now=now,
            lead_id=lead.id,
            context=mail.lead_context(lead, owner, rules.company_name),
        )
        lead.email_confirmed_at = now
        lead.last_action_at = now
        transition(
            session,
            lead,
            kind="email_confirmed",
            request_id=request_id,
            actor_id=user.id,
            at=now,
            status=LeadStatus.CURRENT,
            details={"to": lead.email},
        )
        session.flush()
        return _row(session, lead.id)


def make_appointment(
    db: Database, actor: Actor, lead_id: int, *, request_id: str | None = None
) -> LeadRow:
    """Appointment: the lead goes to the admin team, who are emailed and notified."""
    with db.write() as session:
        if _already_done(session, actor, request_id):
            return _row(session, lead_id)
        lead, user = _lock_workable_lead(session, actor, lead_id)
        now = db.now()
        rules = load_rules(session)
        owner = session.get(User, lead.owner_id) if lead.owner_id else user
        lead.appointment_at = now
        lead.last_action_at = now
        if rules.admin_emails:
            context = mail.lead_context(lead, owner, rules.company_name)
            context["appointment_at"] = floor_time(now, "%Y-%m-%d %H:%M")
            mail.enqueue(
                session,
                template="appointment",
                to=list(rules.admin_emails),
                now=now,
                lead_id=lead.id,
                context=context,
            )
        admins = session.scalars(
            select(User.id).where(User.role == Role.ADMIN.value, User.active.is_(True))
        )
        for admin_id in admins:
            notify(
                session,
                admin_id,
                "appointment",
                now=now,
                lead_id=lead.id,
                message=f"{owner.display_name if owner else user.display_name} made an "
                f"appointment with {lead.first_name} {lead.last_name}".strip(),
            )
        # Cleared only now, beside the status change: the queries above autoflush,
        # and a call back without its date breaks ``callback_has_date``.
        lead.call_back_at = None
        transition(
            session,
            lead,
            kind="appointment",
            request_id=request_id,
            actor_id=user.id,
            at=now,
            status=LeadStatus.APPOINTMENT,
            owner_id=None,
            details={"emailed": list(rules.admin_emails), "made_by": lead.owner_id},
        )
        session.flush()
        return _row(session, lead.id)


def log_contact(
    db: Database, actor: Actor, lead_id: int, *, request_id: str | None = None
) -> LeadRow:
    """The rep called (the phone link was clicked): stamps last contacted."""
    with db.write() as session:
        if _already_done(session, actor, request_id):
            return _row(session, lead_id)
        lead, user = _lock_workable_lead(session, actor, lead_id)
        now = db.now()
        lead.last_contacted_at = now
        lead.last_action_at = now
        transition(  # no move: the event records the call
            session, lead, kind="contacted", actor_id=user.id, at=now, request_id=request_id
        )
        session.flush()
        return _row(session, lead.id)


def add_note(
    db: Database, actor: Actor, lead_id: int, body: str, *, request_id: str | None = None
) -> NoteRow:
    """A note stays with the lead for every later owner to read.

    The owner's note counts as an action on the lead (``last_action_at``); a
    manager's note on someone else's lead does not.

    The note writes a ``note_added`` event carrying the click's ``request_id``
    (and the note's id), so a retry after a lost answer is answered with the
    note already saved instead of saving it twice.
    """
    text = body.strip()
    if not text:
        raise ValidationError("A note cannot be empty.", field="note")
    if len(text) > MAX_NOTE_LENGTH:
        raise ValidationError(
            f"A note can be at most {MAX_NOTE_LENGTH:,} characters.", field="note"
        )
    with db.write() as session:
        user = require(session, actor)
        if request_id:
            saved = _note_saved_by(session, request_id)
            if saved is not None:
                return saved
        lead = session.get(Lead, lead_id)
        if lead is None:
            raise LeadChangedError("This lead no longer exists; a manager may have removed it.")
        is_manager = user.role in (Role.MANAGER.value, Role.ADMIN.value)
        if lead.owner_id != user.id and not is_manager:
            raise NotAllowedError("You can only add notes to your own leads.")
        now = db.now()
        if lead.owner_id == user.id:
            # The owner working the lead (a call from a desk phone, say): that is
            # an action, so the idle limit and the follow-up reminder start again.
            lead.last_action_at = now
        note = Note(lead_id=lead.id, author_id=user.id, at=now, body=text)
        session.add(note)
        session.flush()
        transition(  # no move: the event carries the click's id and the note's
            session,
            lead,
            kind=NOTE_ADDED,
            actor_id=user.id,
            at=now,
            details={"note_id": note.id},
            request_id=request_id,
        )
        return NoteRow(note.id, note.at, user.display_name, note.body)


def _note_saved_by(session: Session, request_id: str) -> NoteRow | None:
    """The note an earlier attempt of this click saved, if it committed."""
    done = event_of_request(session, request_id)
    if done is None or done.kind != NOTE_ADDED:
        return None
    row = session.execute(
        select(Note.id, Note.at, User.display_name, Note.body)
        .outerjoin(User, User.id == Note.author_id)
        .where(Note.id == done.details.get("note_id"))
    ).first()
    if row is None:  # saved, then the lead (and its notes) was deleted
        raise LeadChangedError("This lead no longer exists; a manager may have removed it.")
    return NoteRow(*row)


def _row(session: Session, lead_id: int) -> LeadRow:
    row = fetch_lead_row(session, lead_id)
    assert row is not None  # we hold the row lock in this transaction
    return row
