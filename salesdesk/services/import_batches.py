"""Storing an import's checked rows, one batch per write transaction.

:mod:`salesdesk.services.importing` reads and checks a file's rows and decides
how big each batch is; this module writes a batch: it skips the rows whose
email or phone the database or an earlier batch already holds (one query,
answered from the ``email_key`` / ``phone_key`` indexes alone), hands the
rest to :func:`leads.write_lead_values`, the writer behind every new lead, and
routes them as every new lead is (:func:`routing.route_new_leads`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Final

from sqlalchemy import func, literal, select, union_all
from sqlalchemy.orm import Session

from salesdesk.db import Database
from salesdesk.models import Lead, Pool
from salesdesk.services.auth import MANAGERS, require
from salesdesk.services.errors import NotFoundError
from salesdesk.services.leads import LeadValues, write_lead_values
from salesdesk.services.records import Actor
from salesdesk.services.routing import route_new_leads
from salesdesk.services.rules import load_rules
from salesdesk.services.sql_lists import among

# Names the "import" advisory lock on PostgreSQL: two imports running at once
# take turns per batch, so each batch's duplicate check sees the other's rows.
IMPORT_LOCK_KEY = 0x5A1E5DE51A7C


@dataclass
class Seen:
    """Keys of the leads this import added, each with its line, so later rows are checked too."""

    emails: dict[str, int] = field(default_factory=dict)
    phones: dict[str, int] = field(default_factory=dict)


# Why a row was skipped as a duplicate: (line, reason).
Duplicate = tuple[int, str]
IN_SALESDESK = "{} already in SalesDesk"
EARLIER_LINE = "same {} as line {}"


def find_pool(db: Database, actor: Actor | None, pool: str | int) -> int:
    with db.read() as session:
        if actor is not None:
            require(session, actor, MANAGERS)
        name = str(pool).strip()
        pool_id = session.scalar(select(Pool.id).where(func.lower(Pool.name) == name.lower()))
        if pool_id is None and name.isdigit():
            pool_id = session.scalar(select(Pool.id).where(Pool.id == int(name)))
        if pool_id is None:
            raise NotFoundError(f"There is no pool called '{name}'.")
        return int(pool_id)


def store_batch(
    db: Database,
    actor: Actor | None,
    pool_id: int,
    batch: list[LeadValues],
    lines: list[int],
    seen: Seen,
) -> tuple[int, list[Duplicate], int]:
    """Insert the batch's new leads in one transaction.

    ``lines`` are the rows' lines in the file. Returns how many leads were
    added; for each row skipped, its line and why (``email already in
    SalesDesk``, ``same phone as line 12``); and how many of the new leads a
    round-robin or weighted pool handed to its members at once.
    """
    with db.write() as session, _page_cache_for_batch(session):
        if actor is not None:
            require(session, actor, MANAGERS)
        if db.dialect == "postgresql":
            session.execute(select(func.pg_advisory_xact_lock(IMPORT_LOCK_KEY)))
        if session.get(Pool, pool_id) is None:
            raise NotFoundError("The pool was deleted during the import; the rest was not added.")
        known_emails, known_phones = _known_keys(session, batch, seen)
        emails, phones = seen.emails, seen.phones
        fresh: list[LeadValues] = []
        skipped: list[Duplicate] = []
        for row, line in zip(batch, lines, strict=True):
            email, phone = row[_EMAIL_KEY], row[_PHONE_KEY]
            if (email and (email in emails or email in known_emails)) or (
                phone and (phone in phones or phone in known_phones)
            ):
                skipped.append((line, _why_duplicate(email, phone, seen, known_emails)))
                continue
            fresh.append(row)
            if email:
                emails[email] = line
            if phone:
                phones[phone] = line
        routed = 0
        if fresh:
            actor_id, now = (actor.id if actor is not None else None), db.now()
            ids = write_lead_values(session, fresh, pool_id, now, actor_id)
            routed = route_new_leads(session, {pool_id: ids}, now, load_rules(session), actor_id)
        return len(fresh), skipped, routed


def _why_duplicate(email: str | None, phone: str | None, seen: Seen, known_emails: set[str]) -> str:
    """The email is named first when both match; an earlier line of the file before the database."""
    if email and email in seen.emails:
        return EARLIER_LINE.format("email", seen.emails[email])
    if email and email in known_emails:
        return IN_SALESDESK.format("email")
    if phone and phone in seen.phones:
        return EARLIER_LINE.format("phone", seen.phones[phone])
    return IN_SALESDESK.format("phone")


_EMAIL_KEY: Final = 5  # positions in LeadValues
_PHONE_KEY: Final = 6

# SQLite's page cache for an import batch's own transaction, in KiB. Each row adds
# an entry at its own place in each of the ~17 ``leads`` indexes; with the
# connection's default 2 MB cache a batch evicts, re-reads and spills pages it
# comes back to a moment later.
IMPORT_CACHE_KIB = 64 * 1024


@contextlib.contextmanager
def _page_cache_for_batch(session: Session) -> Iterator[None]:
    """A larger SQLite page cache for this transaction; the connection's own after it.

    Connections are pooled, so the setting is put back before the connection
    is: inside the transaction, which then frees the extra pages at its commit.
    Keeping the cache between batches would not help a real floor anyway: any
    other client's commit in between makes SQLite drop it.
    """
    connection = session.connection()
    if connection.dialect.name != "sqlite":
        yield
        return
    before = int(connection.exec_driver_sql("PRAGMA cache_size").scalar_one())
    connection.exec_driver_sql(f"PRAGMA cache_size = {-IMPORT_CACHE_KIB}")
    try:
        yield
    finally:
        with contextlib.suppress(Exception):  # a broken connection is discarded anyway
            connection.exec_driver_sql(f"PRAGMA cache_size = {before}")


def _known_keys(session: Session, batch: list[LeadValues], seen: Seen) -> tuple[set[str], set[str]]:
    """Which of the batch's emails and phones the database already holds: one query."""
    # Filtered row by row: ``set - seen.emails.keys()`` walks every key seen so far
    # (Python iterates the right-hand side when it is not a set), once a batch.
    emails = {key for row in batch if (key := row[_EMAIL_KEY]) and key not in seen.emails}
    phones = {key for row in batch if (key := row[_PHONE_KEY]) and key not in seen.phones}
    if not (emails or phones):
        return set(), set()
    # One statement, each half answered from its own index alone (no table rows read).
    dialect = session.get_bind().dialect.name
    halves = [
        select(literal(kind), column).where(among(column, keys, dialect))
        for kind, column, keys in (("e", Lead.email_key, emails), ("p", Lead.phone_key, phones))
        if keys
    ]
    query = halves[0] if len(halves) == 1 else union_all(*halves)
    known: dict[str, set[str]] = {"e": set(), "p": set()}
    for kind, key in session.execute(query).all():
        if key is not None:
            known[kind].add(key)
    return known["e"], known["p"]
