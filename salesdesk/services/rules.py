"""Allocation rules: typed, validated, with a safe default for each.

Rules live in the ``rules`` table as key/value pairs, so a client reads them
fresh inside every transaction that depends on them and a change made in the
settings dialog takes effect for every client on its next click.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from salesdesk.db import Database
from salesdesk.models import Pool, Rule
from salesdesk.services.auth import ADMINS, require
from salesdesk.services.errors import ValidationError
from salesdesk.services.records import Actor

DEAD_POLICIES = ("hide", "delete")
POOL_ORDERS = ("newest_first", "oldest_first")
REMINDER_MODES = ("in_app", "email")
REP_VISIBILITY = ("own", "own_and_pool_counts")
MAIL_SECURITY = ("none", "starttls", "ssl")

_HOST = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$|^\[?[0-9A-Fa-f:.]+\]?$")

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def _rule(default: Any, help_text: str) -> Any:
    """A rule with its default and the sentence the settings dialog shows under it.

    The help is data, not a docstring, so a packaged build (which ships no
    source) shows it too.
    """
    return field(default=default, metadata={"help": help_text})


@dataclass(frozen=True, slots=True)
class Rules:
    """The floor's allocation rules; each one's help is what the settings dialog shows under it."""

    keep_days: int = _rule(
        14, "Days a rep keeps a lead before it returns to the pool (0 = no limit)."
    )
    idle_days: int = _rule(
        3,
        "Days without any action (a call, a note, Call Back, Email Confirmed) before a lead "
        "returns to the pool (0 = never).",
    )
    working_days_only: bool = _rule(
        True,
        "Count only Monday to Friday in the keep period, the days without action and the "
        "follow-up reminders: a weekend does not use up a rep's days.",
    )
    dead_policy: str = _rule(
        "hide", "'hide': dead leads are hidden and tagged; 'delete': removed for good."
    )
    dead_tag: str = "dead"
    one_at_a_time: bool = _rule(
        False, "A rep must action their current lead before taking the next."
    )
    rep_visibility: str = _rule(
        "own", "'own': reps see only their own leads; 'own_and_pool_counts' adds pool sizes."
    )
    cap: int = _rule(25, "Most current leads one rep may hold (a user's own cap overrides it).")
    pool_order: str = "newest_first"
    callback_reminder: str = _rule(
        "in_app", "How a rep is reminded of a call back on its day: 'in_app' or 'email'."
    )
    admin_emails: tuple[str, ...] = _rule((), "Where Appointment notices go.")
    cooldown_hours: int = _rule(
        24, "Hours before a lead that left a rep can be handed back to the same rep."
    )
    company_name: str = _rule(
        "Our company", "Your company's name, as emails to leads sign it ({{ company_name }})."
    )
    follow_up_reminder: str = _rule(
        "in_app",
        "How an owner is reminded of a lead left without contact for the pool's follow-up "
        "days: 'in_app' or 'email'.",
    )
    assignment_digest: bool = _rule(
        True, "Email each person, at most hourly, a digest of leads given to them or taken away."
    )

    # The mail server. The password is never a rule: it lives in the keychain
    # of the computer that sends (see services/mail_server.py).
    mail_host: str = _rule(
        "", "The SMTP server's name, e.g. smtp.example.com. Empty: mail waits in the outbox."
    )
    mail_port: int = _rule(587, "587 for STARTTLS, 465 for SSL, 25 for a plain relay.")
    mail_security: str = _rule(
        "starttls",
        "'starttls' (port 587), 'ssl' (port 465) or 'none' (a relay on a trusted network).",
    )
    mail_user: str = _rule(
        "", "The user name to sign in with; empty for a server that needs no sign-in."
    )
    mail_from_address: str = _rule("", "The address mail comes from, e.g. sales@example.com.")
    mail_from_name: str = _rule("SalesDesk", "The name shown beside the From address.")
    mail_ca_file: str = _rule(
        "",
        "A PEM file of extra certificate authorities to trust (a company's own CA); empty: "
        "the system's list only.",
    )


def rule_help() -> dict[str, str]:
    """Each rule's help, by rule name (rules without one are left out)."""
    return {f.name: f.metadata["help"] for f in fields(Rules) if "help" in f.metadata}


def _whole(low: int, high: int, label: str) -> Callable[[Any], Any]:
    def check(value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            try:
                value = int(str(value).strip())
            except ValueError:
                raise ValueError(
                    f"{label} must be a whole number (you entered {value!r})."
                ) from None
        if not low <= value <= high:
            raise ValueError(f"{label} must be from {low} to {high} (you entered {value}).")
        return int(value)

    return check


def _choice(options: tuple[str, ...], label: str) -> Callable[[Any], Any]:
    def check(value: Any) -> str:
        if value not in options:
            listed = ", ".join(f"'{o}'" for o in options)
            raise ValueError(f"{label} must be one of {listed} (you entered {value!r}).")
        return str(value)

    return check


def _flag(label: str) -> Callable[[Any], Any]:
    def check(value: Any) -> bool:
        if not isinstance(value, bool):
            raise ValueError(f"{label} must be on or off.")
        return value

    return check


def _tag(value: Any) -> str:
    tag = str(value).strip().lower()
    if not tag or len(tag) > 40 or "," in tag:
        raise ValueError("The dead-lead tag must be 1 to 40 characters, without commas.")
    return tag


def _emails(value: Any) -> tuple[str, ...]:
    items = value.split(",") if isinstance(value, str) else list(value)
    emails = tuple(str(e).strip() for e in items if str(e).strip())
    bad = [e for e in emails if not _EMAIL.match(e)]
    if bad:
        raise ValueError(f"Not an email address: {bad[0]}")
    return emails


def _company(value: Any) -> str:
    name = " ".join(str(value).split())
    if not name or len(name) > 120:
        raise ValueError("The company name must be 1 to 120 characters.")
    return name


def _host(value: Any) -> str:
    host = str(value).strip()
    if host and (len(host) > 253 or not _HOST.match(host)):
        raise ValueError(
            f"The mail server must be a host name such as smtp.example.com (you entered {host!r})."
        )
    return host


def _one_line(label: str, longest: int) -> Callable[[Any], str]:
    def check(value: Any) -> str:
        text = str(value).strip()
        # A line break here would let the value write its own mail headers.
        if any(c in text for c in "\r\n\0"):
            raise ValueError(f"{label} must be on one line.")
        if len(text) > longest:
            raise ValueError(f"{label} can be at most {longest} characters.")
        return text

    return check


def _mail_user(value: Any) -> str:
    user = _one_line("The mail user name", 254)(value)
    if any(c.isspace() for c in user):
        raise ValueError("The mail user name must not contain spaces.")
    return user


def _from_address(value: Any) -> str:
    address = str(value).strip()
    if address and not _EMAIL.match(address):
        raise ValueError(f"The From address is not an email address: {address}")
    return address


def _ca_file(value: Any) -> str:
    path = _one_line("The certificate file", 4096)(value)
    if path and not (path.startswith("/") or re.match(r"^[A-Za-z]:[\\/]", path)):
        raise ValueError("The certificate file must be a full path, e.g. /etc/ssl/company-ca.pem.")
    return path


VALIDATORS: dict[str, Callable[[Any], Any]] = {
    "keep_days": _whole(0, 365, "Keep period (days)"),
    "idle_days": _whole(0, 365, "Days without action before reallocation"),
    "working_days_only": _flag("Count working days only"),
    "dead_policy": _choice(DEAD_POLICIES, "Dead-lead policy"),
    "dead_tag": _tag,
    "one_at_a_time": _flag("One lead at a time"),
    "rep_visibility": _choice(REP_VISIBILITY, "What reps may see"),
    "cap": _whole(1, 1000, "Cap on current leads"),
    "pool_order": _choice(POOL_ORDERS, "Order of the pool"),
    "callback_reminder": _choice(REMINDER_MODES, "Call back reminder"),
    "admin_emails": _emails,
    "cooldown_hours": _whole(0, 24 * 90, "Cooldown before a lead returns to the same rep (hours)"),
    "company_name": _company,
    "follow_up_reminder": _choice(REMINDER_MODES, "Follow-up reminder"),
    "assignment_digest": _flag("Hourly email digest of assignments"),
    "mail_host": _host,
    "mail_port": _whole(1, 65535, "Mail server port"),
    "mail_security": _choice(MAIL_SECURITY, "Mail server security"),
    "mail_user": _mail_user,
    "mail_from_address": _from_address,
    "mail_from_name": _one_line("The From name", 120),
    "mail_ca_file": _ca_file,
}


def check_combination(rules: Rules) -> None:
    """Refuse settings that are each valid but wrong together (checked on save)."""
    if rules.mail_host and not rules.mail_from_address:
        raise ValidationError(
            "Enter the From address that mail is sent from.", field="mail_from_address"
        )
    if rules.mail_user and rules.mail_security == "none":
        raise ValidationError(
            "Signing in without encryption would send the mail password in the clear: "
            "choose STARTTLS or SSL, or clear the user name.",
            field="mail_security",
        )


def _days(n: int) -> str:
    return f"{n} day" if n == 1 else f"{n} days"


def follow_up_problem(days: int | None, idle_days: int, keep_days: int) -> str:
    """Why a pool's follow-up after ``days`` could never remind anyone, or "".

    The reminder fires once a lead has been left alone for ``days``; the idle
    limit and the keep period take a lead back to the pool sooner than that
    (from the same or an earlier mark), so a follow-up of at least either
    limit never fires — the lead has gone back first. Said in the words of the
    Pools tab, whose follow-up field the admin would change.
    """
    if not days:
        return ""
    if idle_days > 0 and days >= idle_days and (keep_days <= 0 or idle_days <= keep_days):
        fix = f"Choose fewer than {_days(idle_days)}" if idle_days > 1 else "Turn it off"
        return (
            f"Follow-up after {_days(days)} can never happen: leads go back to the pool after "
            f"{_days(idle_days)} without action. {fix}, or allow more days without action "
            "in Rules."
        )
    if keep_days > 0 and days >= keep_days:
        fix = f"Choose fewer than {_days(keep_days)}" if keep_days > 1 else "Turn it off"
        return (
            f"Follow-up after {_days(days)} can never happen: a rep keeps a lead for at most "
            f"{_days(keep_days)} (the keep period). {fix}, or lengthen the keep period in Rules."
        )
    return ""


# PostgreSQL advisory lock key for changes to settings that are checked against
# each other (any number would do; this one is "SDRULES" in letters' places).
_SETTINGS_LOCK_KEY = 0x5344_5255_4C45_53


def lock_settings(session: Session) -> None:
    """Take turns, floor-wide, with any other change to the rules or a pool's follow-up.

    The idle limit and keep period are checked against every pool's follow-up,
    and a follow-up against them. On PostgreSQL two admins saving one of each
    at the same moment would each check against the other's old value and
    both save, leaving a follow-up that can never fire; this lock, held until
    the transaction ends, makes the second one wait and then check against the
    first one's change. (On SQLite a write transaction already has the
    database to itself.) Call it before reading what will be checked.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _SETTINGS_LOCK_KEY})


def check_follow_ups(session: Session, rules: Rules, changed: Iterable[str]) -> None:
    """Refuse an idle limit or keep period that leaves a pool's follow-up unable to fire.

    Checked only for the limits being changed, so a floor whose pools were set
    before this check can still save its other rules.
    """
    limits = (
        ("idle_days", rules.idle_days, "Leads would go back to the pool after {} without action"),
        ("keep_days", rules.keep_days, "A rep would keep a lead for at most {}"),
    )
    for key, limit, said in limits:
        if key not in changed or limit <= 0:
            continue
        clash = session.execute(
            select(Pool.name, Pool.follow_up_days)
            .where(Pool.follow_up_days >= limit)
            .order_by(Pool.follow_up_days.desc(), Pool.name)
            .limit(1)
        ).first()
        if clash is not None:
            name, days = clash[0], clash[1] or 0
            off = "Never" if key == "idle_days" else "No limit"
            raise ValidationError(
                f"{said.format(_days(limit))}, so the {name} pool's follow-up after "
                f"{_days(days)} could never happen. Choose more than {_days(days)} (or {off}), "
                "or shorten that pool's follow-up in Pools first.",
                field=key,
            )


def validate(changes: Mapping[str, Any]) -> dict[str, Any]:
    """Check each changed rule; refuse the first bad one with a sentence a manager understands."""
    clean: dict[str, Any] = {}
    for key, value in changes.items():
        if key not in VALIDATORS:
            raise ValidationError(f"There is no rule called '{key}'.", field=key)
        try:
            clean[key] = VALIDATORS[key](value)
        except ValueError as exc:
            raise ValidationError(str(exc), field=key) from None
    return clean


def load_rules(session: Session) -> Rules:
    """The rules as stored, inside the caller's transaction; unknown keys are ignored."""
    return rules_from_stored({r.key: r.value for r in session.scalars(select(Rule))})


def rules_from_stored(stored: Mapping[str, Any]) -> Rules:
    """Rules from the stored ``key -> value`` pairs (for a caller that read them itself)."""
    values: dict[str, Any] = {}
    for f in dataclasses.fields(Rules):
        if f.name in stored:
            value = stored[f.name]
            values[f.name] = tuple(value) if isinstance(value, list) else value
    return Rules(**values)


def with_changes(rules: Rules, changes: Mapping[str, Any]) -> Rules:
    """``rules`` with ``changes`` on top, each checked as Save checks it; nothing is saved.

    For what an admin wants to try first: a mail server, or how many leads a
    shorter keep period would send back.
    """
    return dataclasses.replace(rules, **validate(changes)) if changes else rules


def get_rules(db: Database) -> Rules:
    with db.read() as session:
        return load_rules(session)


def update_rules(db: Database, actor: Actor, changes: Mapping[str, Any]) -> Rules:
    """Validate and save changed rules (admins only); all or nothing."""
    clean = validate(changes)
    with db.write() as session:
        require(session, actor, ADMINS)
        lock_settings(session)
        now = db.now()
        for key, value in clean.items():
            stored = list(value) if isinstance(value, tuple) else value
            row = session.get(Rule, key)
            if row is None:
                session.add(Rule(key=key, value=stored, updated_at=now, updated_by=actor.id))
            else:
                row.value = stored
                row.updated_at = now
                row.updated_by = actor.id
        session.flush()
        rules = load_rules(session)
        check_combination(rules)  # raising here rolls the whole save back
        check_follow_ups(session, rules, clean)
        return rules
