"""What the rep's desk reads: its whole screen in one snapshot, and a cheap "anything new?".

:func:`load_desk` answers one refresh of the desk — both lists, the lead on
screen and the unread count — from one read transaction, so the lists and the
panel never disagree about where a lead is.

:func:`changes_since` is the live-view probe a client polls every few seconds.
It works the same on both engines: the newest ``lead_events.id`` is a
primary-key lookup, and only when it moved does it look at the events written
since, by primary-key range, to see whether any of them touched this person's
leads. A quiet floor therefore costs one index probe per client per poll, and
a busy one a short range scan — never a scan of the whole history.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from salesdesk.db import Database
from salesdesk.models import Lead, LeadEvent, LeadStatus, Note, Notification
from salesdesk.services.auth import require
from salesdesk.services.leads import text_filter
from salesdesk.services.lifecycle import (
    fetch_lead_row,
    lead_detail,
    lead_rows,
    status_is,
    to_lead_row,
)
from salesdesk.services.mail_server import server_settings
from salesdesk.services.records import Actor, LeadDetail, LeadRow
from salesdesk.services.rules import load_rules


@dataclass(frozen=True, slots=True)
class DeskSnapshot:
    """One consistent picture of a rep's desk.

    Attributes:
        current: the rep's Current leads, oldest assignment first.
        call_backs: the rep's Call backs, soonest due first.
        detail: the lead asked for, whole — or None when it is not (or no longer)
            the rep's.
        unread: unread in-app notifications.
        marker: the newest lead event at the time of the snapshot (for
            :func:`changes_since`).
        mail_server_set: a mail server is configured, so mail an action writes
            goes out; else it waits in the outbox (the desk says which).
    """

    current: tuple[LeadRow, ...]
    call_backs: tuple[LeadRow, ...]
    detail: LeadDetail | None
    unread: int
    marker: int
    mail_server_set: bool = True


@dataclass(frozen=True, slots=True)
class DeskChanges:
    """What changed since the last probe.

    Attributes:
        marker: pass this to the next :func:`changes_since` call.
        floor_changed: any lead on the floor changed (a manager view reloads).
        mine_changed: a lead this person holds, or held, changed (the desk reloads).
        unread: unread in-app notifications now.
        latest_note: the newest note id (a note by someone else on one's lead).
    """

    marker: int
    floor_changed: bool
    mine_changed: bool
    unread: int
    latest_note: int


def load_desk(
    db: Database, actor: Actor, search: str = "", lead_id: int | None = None
) -> DeskSnapshot:
    """Both lists, the chosen lead whole, and the unread count, in one transaction."""
    with db.read() as session:
        require(session, actor)
        marker = _latest_event(session)
        text = text_filter(search, db.dialect)
        lists = []
        for status, order in (
            (LeadStatus.CURRENT, (Lead.assigned_at, Lead.id)),
            (LeadStatus.CALLBACK, (Lead.call_back_at, Lead.id)),
        ):
            query = lead_rows().where(Lead.owner_id == actor.id, status_is(status)).order_by(*order)
            if text is not None:
                query = query.where(text)
            lists.append(tuple(to_lead_row(r) for r in session.execute(query).mappings()))
        detail = None
        if lead_id is not None:
            row = fetch_lead_row(session, lead_id)
            if row is not None and row.owner_id == actor.id:
                detail = lead_detail(session, row)
        return DeskSnapshot(
            current=lists[0],
            call_backs=lists[1],
            detail=detail,
            unread=_unread(session, actor.id),
            marker=marker,
            mail_server_set=server_settings(load_rules(session)) is not None,
        )


def changes_since(
    db: Database, actor: Actor, marker: int | None, latest_note: int = 0
) -> DeskChanges:
    """The live probe: has anything moved since ``marker`` (``None``: first call)?"""
    with db.read() as session:
        newest = _latest_event(session)
        note = session.scalar(select(func.max(Note.id))) or 0
        unread = _unread(session, actor.id)
        if marker is None:
            return DeskChanges(newest, False, False, unread, note)
        mine = newest > marker and (
            session.scalar(
                select(LeadEvent.id)
                .where(
                    LeadEvent.id > marker,
                    LeadEvent.id <= newest,
                    or_(LeadEvent.from_owner_id == actor.id, LeadEvent.to_owner_id == actor.id),
                )
                .limit(1)
            )
            is not None
        )
        if not mine and note > latest_note:
            # A note by someone else (a manager) on a lead this person holds.
            mine = (
                session.scalar(
                    select(Note.id)
                    .join(Lead, Lead.id == Note.lead_id)
                    .where(Note.id > latest_note, Lead.owner_id == actor.id)
                    .limit(1)
                )
                is not None
            )
        return DeskChanges(newest, newest != marker, mine, unread, note)


def _latest_event(session: Session) -> int:
    return session.scalar(select(func.max(LeadEvent.id))) or 0


def _unread(session: Session, user_id: int) -> int:
    return (
        session.scalar(
            select(func.count()).where(
                Notification.user_id == user_id, Notification.read_at.is_(None)
            )
        )
        or 0
    )


def ping(db: Database) -> None:
    """Reach the database once (the reconnect probe); raises when it cannot."""
    with db.read() as session:
        session.execute(select(1))
