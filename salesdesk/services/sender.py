"""Delivering the outbox over SMTP: nothing lost, and no second copy that can be avoided.

An action writes its email into ``outbox`` in its own transaction
(:func:`mail.enqueue`); this module is the only thing that talks to the mail
server, and it never runs inside a rep's click. ``salesdesk worker`` calls
:func:`deliver_due` for a team on PostgreSQL; the desktop client calls it on
the embedded default.

The life of an outbox row::

    pending --claim--> in_flight --server says 250--> sent
                           |--- 4xx, or server unreachable --> pending again, after a
                           |    backoff of 1, 2, 4 ... 60 minutes; failed after MAX_ATTEMPTS
                           |--- 5xx (recipient, sender or message refused) --> failed at once
    in_flight whose lease ran out (its sender died) --claim--> in_flight again
    failed --retry_mail (an admin)--> pending
    sent, SENT_MAIL_KEPT ago --purge_sent_mail (the clock jobs)--> deleted

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

The SMTP password is never stored in the database or a file: it lives in the
keychain of the computer that sends (:class:`salesdesk.config.Secrets`) under
:func:`password_account`.
"""

from __future__ import annotations

import binascii
import contextlib
import hashlib
import logging
import smtplib
import socket
import ssl
import threading
import time
import uuid
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.header import Header
from email.utils import format_datetime, formataddr
from functools import lru_cache

from sqlalchemy import (
    DateTime,
    Table,
    Text,
    Update,
    bindparam,
    delete,
    func,
    select,
    text,
    update,
)
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from salesdesk.config import Secrets
from salesdesk.db import Database
from salesdesk.models import OutboxMessage, OutboxStatus
from salesdesk.services.auth import ADMINS, require
from salesdesk.services.errors import DatabaseUnavailableError, SalesDeskError
from salesdesk.services.records import Actor, BulkResult
from salesdesk.services.rules import Rules, get_rules

log = logging.getLogger(__name__)

SMTP_TIMEOUT = 30.0
"""Seconds to wait for the mail server on each step before treating it as unreachable."""
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
SENT_MAIL_KEPT = timedelta(days=30)
"""How long sent mail stays in the outbox, with its rendered bodies, before the clock
jobs delete it: long enough to look into a lead's "did they get our email?" and to
see a partly refused message, short enough that a floor sending thousands of emails
a day does not grow its database without limit (and keeps leads' personal data no
longer than it needs). A constant rather than a rule: SalesDesk shows no sent
mail to anyone (the Mail server tab lists only mail that did not go out, or went
out partly refused), so there is nothing for an admin to weigh."""
PURGE_BATCH = 500
"""Sent messages deleted per transaction: a first purge of a long backlog takes the
write lock in short turns, and reps' clicks queue between them."""
PURGE_MAX_BATCHES = 20
"""Most batches per clock round; a longer backlog is finished by the next rounds."""

_PENDING, _IN_FLIGHT = OutboxStatus.PENDING.value, OutboxStatus.IN_FLIGHT.value
_SENT, _FAILED = OutboxStatus.SENT.value, OutboxStatus.FAILED.value


class MailServerError(SalesDeskError):
    """The mail server could not be reached, refused the sign-in, or is not set up."""


# --- records ---------------------------------------------------------------------------


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


@dataclass(frozen=True, slots=True)
class MailRow:
    """Mail an admin should know about: given up, waiting to retry, or partly refused."""

    id: int
    template: str
    to_address: str
    subject: str
    status: str  # 'failed', 'retrying' or 'partly_sent'
    attempts: int
    last_error: str
    created_at: datetime
    next_attempt_at: datetime | None
    lead_id: int | None

    @property
    def can_retry(self) -> bool:
        return self.status in ("failed", "retrying")


@dataclass(frozen=True, slots=True)
class OutboxSummary:
    waiting: int
    retrying: int
    in_flight: int
    failed: int


@dataclass(frozen=True, slots=True)
class MailServer:
    """The mail-server rules, as the sender uses them."""

    host: str
    port: int
    security: str  # 'none', 'starttls' or 'ssl'
    user: str
    from_address: str
    from_name: str
    ca_file: str = ""

    @property
    def where(self) -> str:
        return f"{self.host}:{self.port}"


def server_settings(rules: Rules) -> MailServer | None:
    """The configured mail server, or ``None`` while mail is not set up."""
    if not rules.mail_host or not rules.mail_from_address:
        return None
    return MailServer(
        host=rules.mail_host,
        port=rules.mail_port,
        security=rules.mail_security,
        user=rules.mail_user,
        from_address=rules.mail_from_address,
        from_name=rules.mail_from_name,
        ca_file=rules.mail_ca_file,
    )


def password_account(user: str, host: str) -> str:
    """The keychain account under which the mail password is kept."""
    return f"mail:{user}@{host}"


# --- delivery --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Claimed:
    id: int
    message_id: str
    to_address: str
    subject: str
    body_text: str
    body_html: str
    created_at: datetime
    attempts: int


@dataclass(frozen=True, slots=True)
class _Outcome:
    id: int
    attempts: int
    sent: bool = False
    permanent: bool = False
    reason: str | None = None


class _Failure(Exception):
    """Why a connection or a message failed, in words for an admin; permanent or passing."""

    def __init__(self, reason: str, permanent: bool) -> None:
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent


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
    on its message (an admin sees it in :func:`list_failed_mail`). Raises only
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

    def tally(self, outcomes: Sequence[_Outcome]) -> None:
        with self.lock:
            for o in outcomes:
                if o.sent:
                    self.sent += 1
                elif o.permanent or o.attempts >= MAX_ATTEMPTS:
                    self.failed += 1
                else:
                    self.retrying += 1

    def down(self, failure: _Failure) -> None:
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
    down: _Failure | None = None  # set once this connection cannot be opened
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
                            conn = _connect(server, secrets, timeout)
                        except _Failure as exc:
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
                        outcome, usable = _send_one(conn, server, row)
                        if not usable:
                            _close(conn)
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
            _close(conn)


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


def _failed(row: _Claimed, failure: _Failure) -> _Outcome:
    return _Outcome(row.id, row.attempts, permanent=failure.permanent, reason=failure.reason)


def _claim(db: Database, count: int) -> list[_Claimed]:
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
    return sorted((_Claimed(**r._mapping) for r in rows), key=lambda r: r.id)


def _record(db: Database, outcomes: Sequence[_Outcome]) -> None:
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


# --- SMTP --------------------------------------------------------------------------------


def _tls_context(server: MailServer) -> ssl.SSLContext:
    try:
        return ssl.create_default_context(cafile=server.ca_file or None)
    except (OSError, ssl.SSLError) as exc:
        raise _Failure(
            f"The certificate file {server.ca_file} cannot be read ({exc}). "
            "Fix the mail server settings, then retry the mail.",
            permanent=True,
        ) from None


def _connect(server: MailServer, secrets: Secrets, timeout: float) -> smtplib.SMTP:
    """An open, signed-in connection, or a :class:`_Failure` saying why not."""
    password = ""
    if server.user:
        account = password_account(server.user, server.host)
        try:
            found = secrets.get(account)
        except Exception as exc:  # noqa: BLE001 - any keychain trouble means "no password"
            log.warning("keychain: %s", exc)
            found = None
        if found is None:
            raise _Failure(
                f"No password for the mail account {server.user} on {server.host} is kept "
                "on this computer. An admin can enter it in the mail server settings.",
                permanent=False,
            )
        password = found
    context = _tls_context(server) if server.security != "none" else None
    local = socket.gethostname() or "localhost"  # not getfqdn(): no DNS wait
    conn: smtplib.SMTP | None = None
    try:
        if server.security == "ssl":
            conn = smtplib.SMTP_SSL(
                server.host, server.port, local_hostname=local, timeout=timeout, context=context
            )
        else:
            conn = smtplib.SMTP(server.host, server.port, local_hostname=local, timeout=timeout)
        if server.security == "starttls":
            conn.starttls(context=context)
            conn.ehlo()
        if server.user:
            conn.login(server.user, password)
        return conn
    except smtplib.SMTPAuthenticationError as exc:
        _close(conn)
        raise _Failure(
            f"The mail server {server.where} refused the user name or password for "
            f"{server.user} ({_said(exc.smtp_code, exc.smtp_error)}). "
            "Correct them in the mail server settings, then retry the mail.",
            permanent=exc.smtp_code >= 500,
        ) from None
    except smtplib.SMTPNotSupportedError as exc:
        _close(conn)
        raise _Failure(
            f"The mail server {server.where} does not offer what the settings ask for ({exc}). "
            "Check the security setting (STARTTLS, SSL or none) and the port.",
            permanent=True,
        ) from None
    except ssl.SSLCertVerificationError as exc:
        _close(conn)
        raise _Failure(
            f"The mail server {server.where} showed a certificate that cannot be trusted "
            f"({exc.verify_message}). Check the server name, or give the company's "
            "certificate file in the mail server settings.",
            permanent=True,
        ) from None
    except smtplib.SMTPResponseException as exc:
        _close(conn)
        raise _Failure(
            f"The mail server {server.where} turned the connection away "
            f"({_said(exc.smtp_code, exc.smtp_error)}).",
            permanent=exc.smtp_code >= 500,
        ) from None
    except ssl.SSLError as exc:
        _close(conn)
        raise _Failure(
            f"A secure connection to the mail server {server.where} failed ({exc.reason}). "
            "Check the security setting and the port (465 is SSL, 587 is STARTTLS).",
            permanent=False,
        ) from None
    except (OSError, smtplib.SMTPException) as exc:
        _close(conn)
        what = "timed out" if isinstance(exc, TimeoutError) else str(exc)
        raise _Failure(
            f"The mail server {server.where} cannot be reached ({what or type(exc).__name__}). "
            "Mail waits and is tried again.",
            permanent=False,
        ) from None


def _send_one(conn: smtplib.SMTP, server: MailServer, row: _Claimed) -> tuple[_Outcome, bool]:
    """Send one message; the outcome, and whether the connection can be used again."""
    recipients = [a.strip() for a in row.to_address.split(",") if a.strip()]
    try:
        message = build_message(row, server)
    except Exception as exc:  # a bug, or a row no mail system can carry: shown, not retried
        log.exception("outbox message %s cannot be built", row.id)
        return _Outcome(
            row.id, row.attempts, permanent=True, reason=f"The message cannot be built: {exc}"
        ), True
    try:
        refused = conn.sendmail(server.from_address, recipients, message)
    except smtplib.SMTPRecipientsRefused as exc:
        codes = [code for code, _ in exc.recipients.values()]
        return _Outcome(
            row.id,
            row.attempts,
            permanent=all(c >= 500 for c in codes),
            reason=_refusals(exc.recipients),
        ), True
    except smtplib.SMTPSenderRefused as exc:
        return _Outcome(
            row.id,
            row.attempts,
            permanent=exc.smtp_code >= 500,
            reason=f"The mail server refused the From address {server.from_address} "
            f"({_said(exc.smtp_code, exc.smtp_error)}).",
        ), True
    except smtplib.SMTPResponseException as exc:  # DATA refused, and the like
        return _Outcome(
            row.id,
            row.attempts,
            permanent=exc.smtp_code >= 500,
            reason=f"The mail server refused the message ({_said(exc.smtp_code, exc.smtp_error)}).",
        ), exc.smtp_code != 421
    except smtplib.SMTPNotSupportedError as exc:
        return _Outcome(
            row.id, row.attempts, permanent=True, reason=f"The mail server cannot take it: {exc}"
        ), True
    except (OSError, smtplib.SMTPException) as exc:
        # Includes a connection lost before the final reply: the server may or
        # may not have the message; it is sent again with the same Message-ID.
        return _Outcome(
            row.id,
            row.attempts,
            reason=f"The connection to the mail server {server.where} broke "
            f"({exc or type(exc).__name__}).",
        ), False
    note = _refusals(refused) if refused else None
    return _Outcome(row.id, row.attempts, sent=True, reason=note), True


def build_message(row: _Claimed, server: MailServer) -> bytes:
    """The message exactly as it goes out, as bytes with CRLF line ends.

    Its Message-ID and Date were fixed at enqueue time and its MIME boundary is
    derived from the Message-ID, so a resend is byte for byte the same message.
    The shape is always the same (text, or text and HTML as
    multipart/alternative, both UTF-8 quoted-printable), so it is written
    directly: the ``email`` package's generic builder costs ~10x more per
    message, which at hundreds of messages a second is most of the time.
    """
    headers = [
        _header("From", formataddr((server.from_name, server.from_address))),
        _header("To", row.to_address),
        _header("Subject", row.subject),
        _header("Date", format_datetime(row.created_at.replace(tzinfo=UTC))),
        _header("Message-ID", row.message_id),
        # RFC 3834: machine-sent mail; out-of-office replies should not answer it.
        "Auto-Submitted: auto-generated",
        "MIME-Version: 1.0",
    ]
    if not row.body_html:
        headers += _part_headers("plain")
        return _lines(headers) + b"\r\n" + _qp(row.body_text)
    boundary = "=_sd_" + hashlib.sha256(row.message_id.encode()).hexdigest()[:32]
    headers.append(f'Content-Type: multipart/alternative;\r\n boundary="{boundary}"')
    out = [_lines(headers), b"\r\n"]
    for subtype, body in (("plain", row.body_text), ("html", row.body_html)):
        # The CRLF before a boundary belongs to the boundary (RFC 2046 §5.1.1),
        # so each body gets one of its own after its last line.
        out += [
            f"--{boundary}\r\n".encode(),
            _lines(_part_headers(subtype)),
            b"\r\n",
            _qp(body),
            b"\r\n",
        ]
    out.append(f"--{boundary}--\r\n".encode())
    return b"".join(out)


def _header(name: str, value: str) -> str:
    value = " ".join(value.split())  # one line, whatever came in
    if value.isascii() and len(name) + 2 + len(value) <= 78:
        return f"{name}: {value}"
    # RFC 2047 words for non-ASCII, folded to lines of at most 78 characters.
    charset = "us-ascii" if value.isascii() else "utf-8"
    encoded = Header(value, charset, header_name=name).encode(linesep="\r\n")
    return f"{name}: {encoded}"


def _part_headers(subtype: str) -> list[str]:
    return [
        f'Content-Type: text/{subtype}; charset="utf-8"',
        "Content-Transfer-Encoding: quoted-printable",
    ]


def _lines(headers: list[str]) -> bytes:
    return "".join(h + "\r\n" for h in headers).encode("ascii")


def _qp(text: str) -> bytes:
    """UTF-8, quoted-printable (lines of at most 76 characters), CRLF line ends."""
    body = text.replace("\r\n", "\n").replace("\r", "\n")
    if not body.endswith("\n"):
        body += "\n"
    return binascii.b2a_qp(body.encode("utf-8"), istext=True).replace(b"\n", b"\r\n")


def _said(code: int, text: bytes | str) -> str:
    words = text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)
    return f"{code} {' '.join(words.split())}".strip()


def _refusals(refused: dict[str, tuple[int, bytes]]) -> str:
    parts = [f"{addr}: {_said(code, text)}" for addr, (code, text) in sorted(refused.items())]
    return "The mail server refused " + "; ".join(parts)


def _close(conn: smtplib.SMTP | None) -> None:
    if conn is None:
        return
    try:
        conn.quit()
    except (OSError, smtplib.SMTPException):
        conn.close()


# --- for admins ----------------------------------------------------------------------------


def store_mail_password(
    db: Database, actor: Actor, password: str, secrets: Secrets | None = None
) -> bool:
    """Keep the mail password in this computer's keychain (admins only).

    Returns False when there is no keychain and the password is kept for this
    session only (``Secrets.keychain_message`` says so in words).
    """
    with db.read() as session:
        require(session, actor, ADMINS)
    rules = get_rules(db)
    if not rules.mail_host or not rules.mail_user:
        raise MailServerError("Enter the mail server and user name first, then the password.")
    if not password:
        raise MailServerError("Enter the mail password.")
    return (secrets or Secrets()).set(password_account(rules.mail_user, rules.mail_host), password)


def check_mail_server(
    db: Database, actor: Actor, secrets: Secrets | None = None, *, timeout: float = 10.0
) -> str:
    """Connect and sign in with the saved settings (admins only): a sentence, or an error."""
    with db.read() as session:
        require(session, actor, ADMINS)
    server = server_settings(get_rules(db))
    if server is None:
        raise MailServerError("No mail server is set up yet.")
    try:
        _close(_connect(server, secrets or Secrets(), timeout))
    except _Failure as exc:
        raise MailServerError(exc.reason) from None
    how = {"none": "without encryption", "starttls": "with STARTTLS", "ssl": "over SSL"}
    signed = f" and signed in as {server.user}" if server.user else ""
    return f"Connected to {server.where} {how[server.security]}{signed}."


def send_test_email(
    db: Database, actor: Actor, secrets: Secrets | None = None, *, timeout: float = 10.0
) -> str:
    """Send a short email to the admin's own address with the saved settings.

    Goes straight to the server (not through the outbox), so the admin sees the
    server's own answer at once: a sentence on success, a ``MailServerError``
    with the server's words otherwise.
    """
    with db.read() as session:
        admin = require(session, actor, ADMINS)
        to, name = admin.email, admin.display_name
    if not to:
        raise MailServerError(
            "Your account has no email address to send the test to; add one under Users."
        )
    server = server_settings(get_rules(db))
    if server is None:
        raise MailServerError("No mail server is set up yet.")
    domain = server.from_address.rpartition("@")[2] or "salesdesk"
    row = _Claimed(
        id=0,
        message_id=f"<test-{uuid.uuid4().hex}@{domain}>",
        to_address=to,
        subject="SalesDesk test email",
        body_text=f"Hello {name},\n\nthis test email from SalesDesk went out through "
        f"{server.where}. Mail to your leads and your team will go the same way.\n",
        body_html="",
        created_at=db.now(),
        attempts=0,
    )
    conn: smtplib.SMTP | None = None
    try:
        conn = _connect(server, secrets or Secrets(), timeout)
        outcome, _ = _send_one(conn, server, row)
    except _Failure as exc:
        raise MailServerError(exc.reason) from None
    finally:
        _close(conn)
    if not outcome.sent:
        raise MailServerError(outcome.reason or "The mail server did not take the test email.")
    return f"Test email sent to {to} through {server.where}."


def purge_sent_mail(db: Database) -> int:
    """Delete sent mail older than :data:`SENT_MAIL_KEPT`; returns how many were deleted.

    Only ``sent`` rows: failed, waiting and in-flight mail stays until it is
    sent (an admin sees and retries failures). Each batch of
    :data:`PURGE_BATCH` is its own short transaction, up to
    :data:`PURGE_MAX_BATCHES` per call. Run by ``jobs.run_due_jobs``.
    """
    cutoff = db.now() - SENT_MAIL_KEPT
    old = (
        select(OutboxMessage.id)
        .where(
            OutboxMessage.status == _SENT,
            # A sent row's next_attempt_at is the end of its last lease, minutes
            # after it was claimed: the (status, next_attempt_at) index finds old
            # sent mail without an index of its own; sent_at decides.
            OutboxMessage.next_attempt_at < cutoff,
            OutboxMessage.sent_at < cutoff,
        )
        .limit(PURGE_BATCH)
    )
    with db.read() as session:  # most rounds: nothing to do, and no write lock taken
        if session.scalar(old.limit(1)) is None:
            return 0
    purged = 0
    for _ in range(PURGE_MAX_BATCHES):
        with db.write() as session:
            deleted = (
                session.connection()
                .execute(delete(OutboxMessage).where(OutboxMessage.id.in_(old)))
                .rowcount
            )
        purged += deleted
        if deleted < PURGE_BATCH:
            break
    return purged


def list_failed_mail(db: Database, actor: Actor, limit: int = 500) -> list[MailRow]:
    """Mail that needs an admin's eye, newest first, with the server's own reason.

    ``failed``: given up; ``retrying``: failed at least once and waiting for its
    next try; ``partly_sent``: delivered, but some recipients were refused.
    """
    with db.read() as session:
        require(session, actor, ADMINS)
        rows = session.scalars(
            select(OutboxMessage)
            .where(
                (OutboxMessage.status == _FAILED)
                | (
                    OutboxMessage.status.in_((_PENDING, _SENT))
                    & OutboxMessage.last_error.is_not(None)
                )
            )
            .order_by(OutboxMessage.id.desc())
            .limit(limit)
        )
        return [_mail_row(m) for m in rows]


def _mail_row(m: OutboxMessage) -> MailRow:
    status = {_FAILED: "failed", _PENDING: "retrying", _SENT: "partly_sent"}[m.status]
    return MailRow(
        id=m.id,
        template=m.template,
        to_address=m.to_address,
        subject=m.subject,
        status=status,
        attempts=m.attempts,
        last_error=m.last_error or "",
        created_at=m.created_at,
        next_attempt_at=m.next_attempt_at if status == "retrying" else None,
        lead_id=m.lead_id,
    )


def retry_mail(db: Database, actor: Actor, ids: Iterable[int]) -> BulkResult:
    """Send failed (or waiting) mail again at the next delivery round (admins only)."""
    wanted = sorted(set(ids))
    with db.write() as session:
        require(session, actor, ADMINS)
        now = db.now()
        rows = {
            m.id: m
            for m in session.scalars(
                select(OutboxMessage).where(OutboxMessage.id.in_(wanted)).with_for_update()
            )
        }
        done: list[int] = []
        skipped: dict[int, str] = {}
        for mail_id in wanted:
            m = rows.get(mail_id)
            if m is None:
                skipped[mail_id] = "no longer exists"
            elif m.status == _SENT:
                skipped[mail_id] = "was already sent"
            elif m.status == _IN_FLIGHT:
                skipped[mail_id] = "is being sent right now"
            elif m.status == _PENDING and m.last_error is None:
                skipped[mail_id] = "is already waiting to be sent"
            else:
                m.status, m.attempts, m.next_attempt_at = _PENDING, 0, now
                m.last_error = None
                done.append(mail_id)
        return BulkResult(done=tuple(done), skipped=skipped)


def outbox_summary(db: Database, actor: Actor) -> OutboxSummary:
    """How much mail is waiting, retrying, being sent and failed (for a status line)."""
    with db.read() as session:
        require(session, actor, ADMINS)
        counts = dict.fromkeys(("waiting", "retrying", "in_flight", "failed"), 0)
        retrying = OutboxMessage.last_error.is_not(None)
        for status, has_error, n in session.execute(
            select(OutboxMessage.status, retrying, func.count())
            .where(OutboxMessage.status != _SENT)
            .group_by(OutboxMessage.status, retrying)
        ):
            if status == _PENDING:
                counts["retrying" if has_error else "waiting"] += n
            else:
                counts[status] += n
        return OutboxSummary(**counts)
