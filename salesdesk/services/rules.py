"""Allocation rules: typed, validated, with a safe default for each.

Rules live in the ``rules`` table as key/value pairs, so a client reads them
fresh inside every transaction that depends on them and a change made in the
settings dialog takes effect for every client on its next click.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from salesdesk.db import Database
from salesdesk.models import Rule
from salesdesk.services.auth import ADMINS, require
from salesdesk.services.errors import ValidationError
from salesdesk.services.records import Actor

DEAD_POLICIES = ("hide", "delete")
POOL_ORDERS = ("newest_first", "oldest_first")
REMINDER_MODES = ("in_app", "email")
REP_VISIBILITY = ("own", "own_and_pool_counts")

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


@dataclass(frozen=True, slots=True)
class Rules:
    """The floor's allocation rules. Field docs are what the settings dialog shows."""

    keep_days: int = 14
    """Days a rep keeps a lead before it returns to the pool (0 = no limit)."""
    idle_days: int = 3
    """Days without any action before a lead returns to the pool (0 = never)."""
    dead_policy: str = "hide"
    """'hide': dead leads are hidden and tagged; 'delete': removed for good."""
    dead_tag: str = "dead"
    one_at_a_time: bool = False
    """A rep must action their current lead before taking the next."""
    rep_visibility: str = "own"
    """'own': reps see only their own leads; 'own_and_pool_counts' adds pool sizes."""
    cap: int = 25
    """Most current leads one rep may hold (a user's own cap overrides it)."""
    pool_order: str = "newest_first"
    callback_reminder: str = "in_app"
    """How a rep is reminded of a call back on its day: 'in_app' or 'email'."""
    admin_emails: tuple[str, ...] = ()
    """Where Appointment notices go."""
    cooldown_hours: int = 24
    """Hours before a lead that left a rep can be handed back to the same rep."""
    company_name: str = "Our company"
    """Your company's name, as emails to leads sign it ({{ company_name }})."""


def _whole(low: int, high: int, label: str) -> Callable[[Any], Any]:
    def check(value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            try:
                value = int(str(value).strip())
            except ValueError:
                raise ValueError(f"{label} must be a whole number (you entered {value!r}).")
        if not low <= value <= high:
            raise ValueError(f"{label} must be from {low} to {high} (you entered {value}).")
        return value

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


VALIDATORS: dict[str, Callable[[Any], Any]] = {
    "keep_days": _whole(0, 365, "Keep period (days)"),
    "idle_days": _whole(0, 365, "Days without action before reallocation"),
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
}


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
    stored = {r.key: r.value for r in session.scalars(select(Rule))}
    values: dict[str, Any] = {}
    for f in dataclasses.fields(Rules):
        if f.name in stored:
            value = stored[f.name]
            values[f.name] = tuple(value) if isinstance(value, list) else value
    return Rules(**values)


def get_rules(db: Database) -> Rules:
    with db.read() as session:
        return load_rules(session)


def update_rules(db: Database, actor: Actor, changes: Mapping[str, Any]) -> Rules:
    """Validate and save changed rules (admins only); all or nothing."""
    clean = validate(changes)
    with db.write() as session:
        require(session, actor, ADMINS)
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
        return load_rules(session)
