"""What the manager view asks of the services, composed to run on the worker thread.

Plain functions of ``(db, actor, …)`` that call several read services and
return one frozen answer, so one screen refresh is one task (no Qt here: these
run off the main thread).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from salesdesk.db import Database
from salesdesk.services import leads, rules, stats, team
from salesdesk.services.records import Actor, LeadRow, PoolRow, UserRow

CHART_DAYS = 7


@dataclass(frozen=True, slots=True)
class FilterChoices:
    """What the filters and the assign dialog offer."""

    pools: tuple[PoolRow, ...]
    people: tuple[UserRow, ...]
    sources: tuple[str, ...]
    dead_policy: str
    dead_tag: str
    cap: int = 25  # the floor's cap on current leads (a person's own cap overrides it)


@dataclass(frozen=True, slots=True)
class TeamSnapshot:
    """The team panel, the pool chart and the activity chart, read together."""

    reps: tuple[stats.RepActivityRow, ...]
    pools: tuple[stats.PoolStatusRow, ...]
    days: tuple[stats.RepDayRow, ...]
    now: datetime  # when it was read (naive UTC)


def load_choices(db: Database, actor: Actor) -> FilterChoices:
    floor_rules = rules.get_rules(db)
    return FilterChoices(
        pools=tuple(team.list_pools(db, actor)),
        people=tuple(team.list_users(db, actor)),
        sources=tuple(stats.lead_sources(db, actor)),
        dead_policy=floor_rules.dead_policy,
        dead_tag=floor_rules.dead_tag,
        cap=floor_rules.cap,
    )


def load_team(db: Database, actor: Actor, days: int = CHART_DAYS) -> TeamSnapshot:
    return TeamSnapshot(
        reps=tuple(stats.team_activity(db, actor)),
        pools=tuple(stats.pool_status_counts(db, actor)),
        days=tuple(stats.rep_activity_by_day(db, actor, days)),
        now=db.now(),
    )


def load_appointments(db: Database, actor: Actor) -> tuple[LeadRow, ...]:
    return tuple(leads.appointments_queue(db, actor))
