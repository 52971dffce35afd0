"""Delivering the outbox over SMTP: nothing lost, and no second copy that can be avoided.

An action writes its email into ``outbox`` in its own transaction
(:func:`mail.enqueue`); this module is the only thing that delivers it (over
connections that ``mail_server.py`` opens), and it never runs inside a rep's
click. ``salesdesk worker`` calls :func:`deliver_due` for a team on
PostgreSQL; the desktop client calls it on the embedded default.

The life of an outbox row::

    pending --claim--> in_flight --server says 250--> sent
                           |--- 4xx, or server unreachable --> pending again, after a
                           |    backoff of 1, 2, 4 ... 60 minutes; failed after MAX_ATTEMPTS
                           |--- 5xx (recipient, sender or message refused) --> failed at once
    in_flight whose lease ran out (its sender died) --claim--> in_flight again
    failed --retry_mail (an admin)--> pending
    sent, SENT_MAIL_KEPT ago --purge_sent_mail (the clock jobs)--> deleted

What an admin does with the outbox (the failed list, retry) and the purge of
old sent mail are in ``outbox_admin.py``.

Claiming marks a batch ``in_flight`` in its own short transaction and sets
``next_attempt_at`` to the end of a lease (:data:`LEASE`); each message is
marked sent in its own transaction straight after the server's final reply.
On PostgreSQL the claim is ``FOR UPDATE SKIP LOCKED``, so two senders never
take the same row, and a session advisory lock makes a second worker stand by
(it skips its round) while one is delivering. On SQLite the claim runs in a
``BEGIN IMMEDIATE`` write transaction, which admits one claimer at a time.

What a crash does (the delivery guarantee, precisely):

* Before the claim commits: the row is still pending. Nothing lost.
* After the claim, before the server's final ``250`` to DATA: the server has
  not taken responsibility for the message (RFC 5321 §4.1.1.4: a transaction
  that does not complete is discarded). When the lease runs out the row is
  claimed again and sent once. Nothing lost, nothing doubled.
* After the server's ``250``, before "sent" commits (or the ``250`` is lost on a
  broken connection, RFC 1047): the server has the message but the outbox
  cannot know. When the lease runs out it is sent again, **with the same
  Message-ID and Date**. SMTP has no idempotency key, so no client can close
  this window; it is kept to the one message in progress per sender, and the
  copy is recognisably the same message (mail stores such as Gmail drop a
  second copy of a Message-ID they already hold; any reader or filter can).
  This is at-least-once delivery with a deduplication key: "wherever the
  protocol allows, not twice".
* The PostgreSQL server itself crashes: the sender's own claims and marks are
  committed without waiting for the disk (:func:`_no_flush_wait`), so the last
  fraction of a second of them may be lost; those messages go again, with the
  same Message-ID, as above. The messages themselves are never lost: each was
  written by its action's own durable commit.

With :data:`CONNECTIONS` connections and claims of :data:`CLAIM_BATCH`, a
crash leaves at most ``CONNECTIONS`` messages that may arrive twice, and at
most ``CONNECTIONS * CLAIM_BATCH`` that wait for their lease (:data:`LEASE`)
to run out before they are sent.
"""

from __future__ import annotations

import contextlib
import logging
import smtplib
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from functools import lru_cache

from sqlalchemy import DateTime, Table, Text, Update, bindparam, func, select, text, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from salesdesk.config import Secrets
from salesdesk.db import Database
from salesdesk.models import OutboxMessage, OutboxStatus
from salesdesk.services.errors import DatabaseUnavailableError
from salesdesk.services.mail_server import (
    SMTP_TIMEOUT,
    MailServer,
    OutgoingMessage,
    SendError,
    SendOutcome,
    close_quietly,
    connect,
    send_one,
    server_settings,
)
from salesdesk.services.rules import get_rules

log = logging.getLogger(__name__)

LEASE = timedelta(minutes=5)
"""How long a claimed message belongs to its sender; after that it is presumed dead."""
CLAIM_BATCH = 10
"""Messages one connection claims per transaction: small, so a dead sender strands few
at a time and the connections share the work evenly."""
CONNECTIONS = 3
"""SMTP connections side by side (Microsoft 365 allows three per account)."""
DEFAULT_LIMIT = 1000
"""Most messages one call of :func:`deliver_due` sends."""
BACKOFF_FIRST = timedelta(minutes=1)
BACKOFF_MAX = timedelta(hours=1)
MAX_ATTEMPTS = 30
"""Attempts before a message that keeps failing for passing reasons is given up: with
the backoff above, about a day of trying (an admin can retry it after that)."""
# Any fixed 64-bit number; names the "outbox sender" advisory lock on PostgreSQL.
SENDER_LOCK_KEY = 0x5A1E5DE5E4D1

_PENDING, _IN_FLIGHT = OutboxStatus.PENDING.value, OutboxStatus.IN_FLIGHT.value
_SENT, _FAILED = OutboxStatus.SENT.value, OutboxStatus.FAILED.value


@dataclass(frozen=True, slots=True)
class DeliverySummary:
    """One round of delivery.

    ``skipped`` says why nothing was tried, if so; ``problem`` why the mail
    server could not be used this round (the messages say it too).
    """

    sent: int = 0
    retrying: int = 0
    failed: int = 0
    skipped: str = ""
    problem: str = ""


def deliver_due(
    db: Database,
    secrets: Secrets | None = None,
    *,
    limit: int = DEFAULT_LIMIT,
    timeout: float = SMTP_TIMEOUT,
    connections: int = CONNECTIONS,
) -> DeliverySummary:
    """Send what is due in the outbox: one round, up to ``limit`` messages.

    Up to ``connections`` SMTP connections work side by side, each claiming its
    own small batches: a real server takes tens to hundreds of milliseconds to
    accept a message, so one connection alone would cap delivery at a few
    messages a second.

    Never raises for anything the mail server does: every failure is recorded
    on its message (an admin sees it in ``outbox_admin.list_failed_mail``). Raises only
    :class:`DatabaseUnavailableError` when the database itself is gone.
    """
    server = server_settings(get_rules(db))
    if server is None:
        return DeliverySummary(skipped="No mail server is set up; mail waits in the outbox.")
    due = _count_due(db, limit=connections * CLAIM_BATCH)
    if due == 0:
        return DeliverySummary()  # nothing to do: no lock, no write, no connection
    with _sender_lock(db) as mine:
        if not mine:
            return DeliverySummary(skipped="Another sender is delivering mail right now.")
        workers = max(1, min(connections, -(-due // CLAIM_BATCH)))
        state = _Round(limit)
        if workers == 1:
            _work(db, server, secrets or Secrets(), timeout, state)
        else:
            _run_parallel(db, server, secrets or Secrets(), timeout, state, workers)
    if state.problem:
        log.warning("mail server %s: %s", server.where, state.problem)
    return DeliverySummary(
        sent=state.sent, retrying=state.retrying, failed=state.failed, problem=state.problem
    )


@dataclass
class _Round:
    """What the connections of one round share: the limit and the tally."""

    limit: int
    reserved: int = 0
    sent: int = 0
    retrying: int = 0
    failed: int = 0
    problem: str = ""
    lock: threading.Lock = field(default_factory=threading.Lock)

    def reserve(self) -> int:
        with self.lock:
            n = max(0, min(CLAIM_BATCH, self.limit - self.reserved))
            self.reserved += n
            return n

    def unreserve(self, n: int) -> None:
        with self.lock:
            self.reserved -= n

    def tally(self, outcomes: Sequence[SendOutcome]) -> None:
        with self.lock:
            for o in outcomes:
                if o.sent:
                    self.sent += 1
                elif o.permanent or o.attempts >= MAX_ATTEMPTS:
                    self.failed += 1
                else:
                    self.retrying += 1

    def down(self, failure: SendError) -> None:
        with self.lock:
            self.problem = self.problem or failure.reason


def _run_parallel(
    db: Database,
    server: MailServer,
    secrets: Secrets,
    timeout: float,
    state: _Round,
    workers: int,
) -> None:
    errors: list[BaseException] = []

    def run() -> None:
        try:
            _work(db, server, secrets, timeout, state)
        except BaseException as exc:  # noqa: BLE001 - handed to the calling thread below
            errors.append(exc)

    threads = [
        threading.Thread(target=run, name=f"mail-sender-{i}", daemon=True) for i in range(workers)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]


def _work(
    db: Database, server: MailServer, secrets: Secrets, timeout: float, state: _Round
) -> None:
    """One connection's share of a round: claim a small batch, send it, until done."""
    conn: smtplib.SMTP | None = None
    down: SendError | None = None  # set once this connection cannot be opened
    try:
        while down is None:
            wanted = state.reserve()
            if not wanted:
                break
            batch = _claim(db, wanted)
            state.unreserve(wanted - len(batch))
            if not batch:
                break
            started = time.monotonic()
            untried = list(batch)
            try:
                while untried:
                    if time.monotonic() - started > LEASE.total_seconds() / 2:
                        break  # give the rest back before the lease could run out
                    row = untried[0]
                    if conn is None:
                        try:
                            conn = connect(server, secrets, timeout)
                        except SendError as exc:
                            down = exc
                            state.down(exc)
                    if down is not None:
                        outcomes = [_failed(r, down) for r in untried]
                        untried.clear()
                    else:
                        assert conn is not None
                        # Out of "untried" before the first byte goes out: from
                        # here on only the lease may give it back (it may be sent).
                        untried.pop(0)
                        outcome, usable = send_one(conn, server, row)
                        if not usable:
                            close_quietly(conn)
                            conn = None
                        outcomes = [outcome]
                    _record(db, outcomes)
                    state.tally(outcomes)
            finally:
                # Messages this round never tried go back at once, without the
                # attempt counting (best effort: after a crash the lease does it).
                if untried:
                    with contextlib.suppress(Exception):
                        _release(db, [r.id for r in untried])
            if untried:
                break
    finally:
        if conn is not None:
            close_quietly(conn)


def _count_due(db: Database, limit: int) -> int:
    """How many messages are due, up to ``limit`` (a cheap read; no lock taken)."""
    with db.read() as session:
        now = db.now()
        due = (
            select(OutboxMessage.id)
            .where(
                OutboxMessage.status.in_((_PENDING, _IN_FLIGHT)),
                OutboxMessage.next_attempt_at <= now,
            )
            .limit(limit)
            .subquery()
        )
        return int(session.scalar(select(func.count()).select_from(due)) or 0)


def _failed(row: OutgoingMessage, failure: SendError) -> SendOutcome:
    return SendOutcome(row.id, row.attempts, permanent=failure.permanent, reason=failure.reason)


def _claim(db: Database, count: int) -> list[OutgoingMessage]:
    """Mark up to ``count`` due messages in flight (one short transaction) and return them.

    Due: pending with ``next_attempt_at`` reached, or in flight with the lease
    run out. The claim counts an attempt, so a message that kills its sender
    every time is still given up after :data:`MAX_ATTEMPTS`.
    """
    with db.write() as session:
        _no_flush_wait(db, session)
        now = db.now()
        due = (
            select(OutboxMessage.id)
            .where(
                OutboxMessage.status.in_((_PENDING, _IN_FLIGHT)),
                OutboxMessage.next_attempt_at <= now,
            )
            .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
            .limit(count)
            .with_for_update(skip_locked=True)
        )
        rows = session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id.in_(due))
            .values(
                status=_IN_FLIGHT,
                attempts=OutboxMessage.attempts + 1,
                next_attempt_at=now + LEASE,
            )
            .returning(
                OutboxMessage.id,
                OutboxMessage.message_id,
                OutboxMessage.to_address,
                OutboxMessage.subject,
                OutboxMessage.body_text,
                OutboxMessage.body_html,
                OutboxMessage.created_at,
                OutboxMessage.attempts,
            ),
            execution_options={"synchronize_session": False},
        ).all()
    return sorted((OutgoingMessage(**r._mapping) for r in rows), key=lambda r: r.id)


def _record(db: Database, outcomes: Sequence[SendOutcome]) -> None:
    """Write what happened to each message (one transaction).

    This runs once per message sent, so it uses one prepared Core statement
    with bound values: building an ORM update each time cost more than the
    write itself.
    """
    with db.write() as session:
        _no_flush_wait(db, session)
        now = db.now()
        params = []
        for o in outcomes:
            if o.sent:
                status, at, sent_at = _SENT, None, now
            elif o.permanent or o.attempts >= MAX_ATTEMPTS:
                status, at, sent_at = _FAILED, now, None
            else:
                status, at, sent_at = _PENDING, now + backoff(o.attempts), None
            params.append(
                {"row_id": o.id, "new_status": status, "at": at, "sent": sent_at, "why": o.reason}
            )
        session.connection().execute(_record_statement(), params)


@lru_cache(maxsize=1)
def _record_statement() -> Update:
    """``UPDATE outbox`` for one outcome; ``at`` NULL keeps ``next_attempt_at`` as it is."""
    table = OutboxMessage.__table__
    assert isinstance(table, Table)
    c = table.c
    return (
        update(table)
        .where(c.id == bindparam("row_id"), c.status == _IN_FLIGHT)
        .values(
            status=bindparam("new_status"),
            next_attempt_at=func.coalesce(bindparam("at", type_=DateTime), c.next_attempt_at),
            sent_at=bindparam("sent", type_=DateTime),
            last_error=bindparam("why", type_=Text),
        )
    )


def _no_flush_wait(db: Database, session: Session) -> None:
    """On PostgreSQL, commit the sender's own bookkeeping without waiting for the disk.

    Safe for this state and only this state: if the database server itself
    crashes, the last fraction of a second of claims and "sent" marks may be
    lost, which only puts those messages back to where a crashed sender leaves
    them — sent again, with the same Message-ID. Nothing is lost: the message
    itself was written by the action's own, fully durable, commit. Without
    this, every message waits for a WAL flush, and on a busy disk that, not
    SMTP, sets the delivery rate.
    """
    if db.dialect == "postgresql":
        session.execute(text("SET LOCAL synchronous_commit = off"))


def _release(db: Database, ids: list[int]) -> None:
    with db.write() as session:
        _no_flush_wait(db, session)
        session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id.in_(ids), OutboxMessage.status == _IN_FLIGHT)
            .values(
                status=_PENDING,
                attempts=OutboxMessage.attempts - 1,
                next_attempt_at=db.now(),
            )
        )


def backoff(attempts: int) -> timedelta:
    """Wait after the ``attempts``-th failed try: 1, 2, 4 … minutes, at most an hour."""
    step = BACKOFF_FIRST * (1 << max(0, min(attempts - 1, 16)))
    return min(step, BACKOFF_MAX)


@contextlib.contextmanager
def _sender_lock(db: Database) -> Iterator[bool]:
    """On PostgreSQL, a session advisory lock held for the round; elsewhere always granted.

    The lock lives on a connection of its own, committed straight away, so the
    round holds no open transaction (no snapshot that stalls vacuum). If the
    process dies the server drops the connection and the lock with it.
    """
    if db.dialect != "postgresql":
        yield True
        return
    try:
        conn = db.engine.connect()
        got = bool(conn.scalar(select(func.pg_try_advisory_lock(SENDER_LOCK_KEY))))
        conn.commit()
    except DBAPIError as exc:
        raise DatabaseUnavailableError(str(exc.orig).strip().splitlines()[0]) from exc
    try:
        yield got
    finally:
        try:
            if got:
                conn.scalar(select(func.pg_advisory_unlock(SENDER_LOCK_KEY)))
                conn.commit()
        except DBAPIError:
            conn.invalidate()  # closing the connection releases the lock
        finally:
            conn.close()


__all__ = [
    "BACKOFF_FIRST",
    "BACKOFF_MAX",
    "CLAIM_BATCH",
    "CONNECTIONS",
    "DEFAULT_LIMIT",
    "LEASE",
    "MAX_ATTEMPTS",
    "SENDER_LOCK_KEY",
    "DeliverySummary",
    "backoff",
    "deliver_due",
]
