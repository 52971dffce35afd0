"""What the desk asks the worker thread to do: service calls, composed, never Qt.

Each function here runs on the task runner's one worker. An action is one
service call (one transaction, done or not done); the reload that follows is
a second, read-only one, so the window shows the result of the click in the
same round trip instead of waiting for a second request.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from salesdesk.db import Database
from salesdesk.services import actions, allocation
from salesdesk.services.desk import DeskSnapshot, load_desk
from salesdesk.services.records import Actor, ClaimResult


@dataclass(frozen=True, slots=True)
class ActionOutcome:
    """An action's own result and the desk as it is right after it."""

    result: Any
    snapshot: DeskSnapshot


def claim_and_load(
    db: Database, actor: Actor, request_id: str | None = None
) -> tuple[ClaimResult, DeskSnapshot]:
    """Next: claim a lead, then the desk with that lead open (search cleared).

    ``request_id`` names the click, as for the actions: a retry after a lost
    answer gets the lead the first attempt gave, not a second one.
    """
    claim = allocation.claim_next_lead(db, actor, request_id=request_id)
    lead_id = claim.lead.id if claim.lead else None
    return claim, load_desk(db, actor, "", lead_id)


def act_and_load(
    db: Database,
    actor: Actor,
    action: Callable[..., Any],
    lead_id: int,
    args: tuple[Any, ...],
    search: str,
    then_open: int | None,
    request_id: str | None = None,
) -> ActionOutcome:
    """Run one of the four actions, then load the desk with ``then_open`` on screen.

    ``request_id`` names the click: a retry of the same click is answered with
    its first outcome rather than done twice.

    When ``then_open`` has meanwhile left the rep's Current list, the first
    Current lead is opened instead, so the rep always lands on work.
    """
    result = action(db, actor, lead_id, *args, request_id=request_id)
    snapshot = load_desk(db, actor, search, then_open)
    if snapshot.detail is None and snapshot.current:
        snapshot = load_desk(db, actor, search, snapshot.current[0].id)
    return ActionOutcome(result, snapshot)


def contact_and_load(db: Database, actor: Actor, lead_id: int, search: str) -> ActionOutcome:
    """The phone link was clicked: stamp last contacted and show it."""
    row = actions.log_contact(db, actor, lead_id)
    return ActionOutcome(row, load_desk(db, actor, search, lead_id))


def note_and_load(
    db: Database,
    actor: Actor,
    lead_id: int,
    text: str,
    search: str,
    request_id: str | None = None,
) -> ActionOutcome:
    """Add note, then the desk with the lead (and its new note) on screen.

    ``request_id`` names the click, as for the actions: a retry after a lost
    answer is answered with the note the first attempt saved, not a copy.
    """
    note = actions.add_note(db, actor, lead_id, text, request_id=request_id)
    return ActionOutcome(note, load_desk(db, actor, search, lead_id))
