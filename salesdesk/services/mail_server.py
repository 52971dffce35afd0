"""Connecting to the configured mail server and handing it one message.

Plain, STARTTLS or SSL, with sign-in; whatever goes wrong is turned into a
sentence an admin understands (:class:`SendError`), permanent or passing. Each
message is built exactly as it goes out (:func:`build_message`), so a resend
is byte for byte the same message. The outbox sender (``sender.py``) opens its
connections here; the admin's own checks (the password, "Test the
connection", "Send test email") go straight to the server through it, not
through the outbox, so the admin sees the server's own answer at once.

The SMTP password is never stored in the database or a file: it lives in the
keychain of the computer that sends (:class:`salesdesk.config.Secrets`) under
:func:`password_account`.
"""

from __future__ import annotations

import binascii
import hashlib
import logging
import smtplib
import socket
import ssl
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.header import Header
from email.utils import format_datetime, formataddr
from typing import Any

from salesdesk.config import Secrets
from salesdesk.db import Database
from salesdesk.services.auth import ADMINS, require
from salesdesk.services.errors import SalesDeskError
from salesdesk.services.records import Actor
from salesdesk.services.rules import Rules, check_combination, get_rules, with_changes

log = logging.getLogger(__name__)

SMTP_TIMEOUT = 30.0
"""Seconds to wait for the mail server on each step before treating it as unreachable."""


class MailServerError(SalesDeskError):
    """The mail server could not be reached, refused the sign-in, or is not set up."""


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


# --- a message and what became of it -------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OutgoingMessage:
    """An outbox row claimed for sending: what goes out, and under which Message-ID."""

    id: int
    message_id: str
    to_address: str
    subject: str
    body_text: str
    body_html: str
    created_at: datetime
    attempts: int


@dataclass(frozen=True, slots=True)
class SendOutcome:
    """What became of one message: sent, or why not and whether to try again."""

    id: int
    attempts: int
    sent: bool = False
    permanent: bool = False
    reason: str | None = None


class SendError(Exception):
    """Why a connection or a message failed, in words for an admin; permanent or passing."""

    def __init__(self, reason: str, permanent: bool) -> None:
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent


# --- SMTP --------------------------------------------------------------------------------


def _tls_context(server: MailServer) -> ssl.SSLContext:
    try:
        return ssl.create_default_context(cafile=server.ca_file or None)
    except (OSError, ssl.SSLError) as exc:
        raise SendError(
            f"The certificate file {server.ca_file} cannot be read ({exc}). "
            "Fix the mail server settings, then retry the mail.",
            permanent=True,
        ) from None


def connect(server: MailServer, secrets: Secrets, timeout: float) -> smtplib.SMTP:
    """An open, signed-in connection, or a :class:`SendError` saying why not."""
    password = ""
    if server.user:
        account = password_account(server.user, server.host)
        try:
            found = secrets.get(account)
        except Exception as exc:  # noqa: BLE001 - any keychain trouble means "no password"
            log.warning("keychain: %s", exc)
            found = None
        if found is None:
            raise SendError(
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
    except (OSError, smtplib.SMTPException) as exc:
        close_quietly(conn)
        raise _not_connected(server, exc) from None


def _not_connected(server: MailServer, exc: OSError | smtplib.SMTPException) -> SendError:
    """Why a connection could not be opened, in words an admin can act on.

    Most specific first: an authentication error is also a response, and a
    certificate error is also an SSL error.
    """
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return SendError(
            f"The mail server {server.where} refused the user name or password for "
            f"{server.user} ({_said(exc.smtp_code, exc.smtp_error)}). "
            "Correct them in the mail server settings, then retry the mail.",
            permanent=exc.smtp_code >= 500,
        )
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        return SendError(
            f"The mail server {server.where} does not offer what the settings ask for ({exc}). "
            "Check the security setting (STARTTLS, SSL or none) and the port.",
            permanent=True,
        )
    if isinstance(exc, ssl.SSLCertVerificationError):
        return SendError(
            f"The mail server {server.where} showed a certificate that cannot be trusted "
            f"({exc.verify_message}). Check the server name, or give the company's "
            "certificate file in the mail server settings.",
            permanent=True,
        )
    if isinstance(exc, smtplib.SMTPResponseException):
        return SendError(
            f"The mail server {server.where} turned the connection away "
            f"({_said(exc.smtp_code, exc.smtp_error)}).",
            permanent=exc.smtp_code >= 500,
        )
    if isinstance(exc, ssl.SSLError):
        return SendError(
            f"A secure connection to the mail server {server.where} failed ({exc.reason}). "
            "Check the security setting and the port (465 is SSL, 587 is STARTTLS).",
            permanent=False,
        )
    what = "timed out" if isinstance(exc, TimeoutError) else str(exc)
    return SendError(
        f"The mail server {server.where} cannot be reached ({what or type(exc).__name__}). "
        "Mail waits and is tried again.",
        permanent=False,
    )


def send_one(
    conn: smtplib.SMTP, server: MailServer, row: OutgoingMessage
) -> tuple[SendOutcome, bool]:
    """Send one message; the outcome, and whether the connection can be used again."""
    recipients = [a.strip() for a in row.to_address.split(",") if a.strip()]
    try:
        message = build_message(row, server)
    except Exception as exc:  # a bug, or a row no mail system can carry: shown, not retried
        log.exception("outbox message %s cannot be built", row.id)
        return SendOutcome(
            row.id, row.attempts, permanent=True, reason=f"The message cannot be built: {exc}"
        ), True
    try:
        refused = conn.sendmail(server.from_address, recipients, message)
    except smtplib.SMTPRecipientsRefused as exc:
        codes = [code for code, _ in exc.recipients.values()]
        return SendOutcome(
            row.id,
            row.attempts,
            permanent=all(c >= 500 for c in codes),
            reason=_refusals(exc.recipients),
        ), True
    except smtplib.SMTPSenderRefused as exc:
        return SendOutcome(
            row.id,
            row.attempts,
            permanent=exc.smtp_code >= 500,
            reason=f"The mail server refused the From address {server.from_address} "
            f"({_said(exc.smtp_code, exc.smtp_error)}).",
        ), True
    except smtplib.SMTPResponseException as exc:  # DATA refused, and the like
        return SendOutcome(
            row.id,
            row.attempts,
            permanent=exc.smtp_code >= 500,
            reason=f"The mail server refused the message ({_said(exc.smtp_code, exc.smtp_error)}).",
        ), exc.smtp_code != 421
    except smtplib.SMTPNotSupportedError as exc:
        return SendOutcome(
            row.id, row.attempts, permanent=True, reason=f"The mail server cannot take it: {exc}"
        ), True
    except (OSError, smtplib.SMTPException) as exc:
        # Includes a connection lost before the final reply: the server may or
        # may not have the message; it is sent again with the same Message-ID.
        return SendOutcome(
            row.id,
            row.attempts,
            reason=f"The connection to the mail server {server.where} broke "
            f"({exc or type(exc).__name__}).",
        ), False
    note = _refusals(refused) if refused else None
    return SendOutcome(row.id, row.attempts, sent=True, reason=note), True


def build_message(row: OutgoingMessage, server: MailServer) -> bytes:
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


def close_quietly(conn: smtplib.SMTP | None) -> None:
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


class _TypedPassword(Secrets):
    """The keychain, except for a password typed in the settings and not saved yet."""

    def __init__(self, secrets: Secrets, password: str) -> None:
        super().__init__()
        self._secrets = secrets
        self._password = password

    def get(self, account: str) -> str | None:
        return self._password or self._secrets.get(account)


def _server_to_test(db: Database, changes: Mapping[str, Any] | None) -> MailServer:
    """The saved mail settings with the admin's unsaved ``changes`` on top (checked)."""
    current = with_changes(get_rules(db), changes or {})
    if changes:
        check_combination(current)
    server = server_settings(current)
    if server is None:
        raise MailServerError("Enter the mail server and the From address first.")
    return server


def check_mail_server(
    db: Database, actor: Actor, secrets: Secrets | None = None, *, timeout: float = 10.0
) -> str:
    """Connect and sign in with the saved settings (admins only): a sentence, or an error."""
    with db.read() as session:
        require(session, actor, ADMINS)
    server = _server_to_test(db, None)
    try:
        close_quietly(connect(server, secrets or Secrets(), timeout))
    except SendError as exc:
        raise MailServerError(exc.reason) from None
    how = {"none": "without encryption", "starttls": "with STARTTLS", "ssl": "over SSL"}
    signed = f" and signed in as {server.user}" if server.user else ""
    return f"Connected to {server.where} {how[server.security]}{signed}."


def send_test_email(
    db: Database,
    actor: Actor,
    secrets: Secrets | None = None,
    *,
    changes: Mapping[str, Any] | None = None,
    password: str = "",
    timeout: float = 10.0,
) -> str:
    """Send a short email to the admin's own address.

    With the saved settings, or with ``changes`` and a typed ``password`` not
    saved yet, so an admin can try a server before saving it (nothing is kept).

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
    server = _server_to_test(db, changes)
    domain = server.from_address.rpartition("@")[2] or "salesdesk"
    row = OutgoingMessage(
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
        conn = connect(server, _TypedPassword(secrets or Secrets(), password), timeout)
        outcome, _ = send_one(conn, server, row)
    except SendError as exc:
        raise MailServerError(exc.reason) from None
    finally:
        close_quietly(conn)
    if not outcome.sent:
        raise MailServerError(outcome.reason or "The mail server did not take the test email.")
    return f"Test email sent to {to} through {server.where}."


__all__ = [
    "SMTP_TIMEOUT",
    "MailServer",
    "MailServerError",
    "OutgoingMessage",
    "SendError",
    "SendOutcome",
    "build_message",
    "check_mail_server",
    "close_quietly",
    "connect",
    "password_account",
    "send_one",
    "send_test_email",
    "server_settings",
    "store_mail_password",
]
