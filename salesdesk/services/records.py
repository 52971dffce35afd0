"""Plain, frozen records that services return instead of live ORM objects.

A record can cross threads (the UI gets them through signals) and never
triggers a lazy load. Names end in ``Row`` (one item of a list), ``Detail``
(one item, whole) or ``Summary``/``Result`` (a computed answer).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final, Literal


class _Unchanged(enum.Enum):
    UNCHANGED = "unchanged"


UNCHANGED: Final = _Unchanged.UNCHANGED
"""Default of optional update arguments where ``None`` is a real value (no cap, no owner)."""
Unchanged = Literal[_Unchanged.UNCHANGED]


@dataclass(frozen=True, slots=True)
class Actor:
    """The person making a service call, as established by :func:`auth.login`."""

    id: int
    username: str
    display_name: str
    role: str

    @property
    def is_manager(self) -> bool:
        return self.role in ("manager", "admin")


@dataclass(frozen=True, slots=True)
class UserRow:
    id: int
    username: str
    display_name: str
    email: str | None
    role: str
    active: bool
    cap: int | None


@dataclass(frozen=True, slots=True)
class MemberRow:
    user_id: int
    display_name: str
    weight: int
    active: bool


@dataclass(frozen=True, slots=True)
class PoolRow:
    id: int
    name: str
    active: bool
    routing: str
    follow_up_days: int | None
    members: tuple[MemberRow, ...] = ()


@dataclass(frozen=True, slots=True)
class LeadRow:
    id: int
    first_name: str
    last_name: str
    company: str
    email: str | None
    phone: str | None
    source: str
    score: int
    priority: int
    status: str
    pool_id: int | None
    pool_name: str | None
    owner_id: int | None
    owner_name: str | None
    created_at: datetime
    assigned_at: datetime | None
    last_action_at: datetime | None
    last_contacted_at: datetime | None
    call_back_at: datetime | None
    email_confirmed_at: datetime | None
    appointment_at: datetime | None
    dead_at: datetime | None
    tags: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        """What a person calls this lead: their name, else the company, else the contact."""
        full = f"{self.first_name} {self.last_name}".strip()
        return full or self.company or self.email or self.phone or f"Lead #{self.id}"


@dataclass(frozen=True, slots=True)
class NoteRow:
    id: int
    at: datetime
    author_name: str | None
    body: str


@dataclass(frozen=True, slots=True)
class EventRow:
    id: int
    kind: str
    at: datetime
    actor_name: str | None
    from_status: str | None
    to_status: str | None
    from_owner_name: str | None
    to_owner_name: str | None
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class LeadDetail:
    lead: LeadRow
    custom: dict[str, Any]
    notes: tuple[NoteRow, ...]
    history: tuple[EventRow, ...]
    # When the lead goes back to the pool if nothing more is done, and which
    # limit that is ("keep period" or "no action"); None while no limit applies.
    returns_at: datetime | None = None
    returns_because: str = ""


@dataclass(frozen=True, slots=True)
class ClaimResult:
    """What Next gave: a lead, or ``None`` with a sentence saying why not."""

    lead: LeadRow | None
    message: str
    from_callback: bool = False


@dataclass(frozen=True, slots=True)
class LeadPage:
    rows: tuple[LeadRow, ...]
    total: int
    # Opaque keyset cursor for the page after this one; None on the last page.
    next_cursor: tuple[Any, ...] | None


@dataclass(frozen=True, slots=True)
class BulkResult:
    """A manager operation on many leads: what was done and what was skipped."""

    done: tuple[int, ...]
    skipped: dict[int, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class JobsSummary:
    callbacks_due: int = 0
    expired: int = 0
    idle: int = 0
    routed: int = 0
    follow_ups: int = 0
    digests: int = 0
