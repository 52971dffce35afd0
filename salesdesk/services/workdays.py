"""Counting days the way a sales floor does: Monday to Friday.

The keep period, "reallocate after N days without action" and a pool's
follow-up reminder are counted in days. With the ``working_days_only`` rule
on (the default), a weekend does not use any of them up: a lead claimed on
Friday at 15:00 with "reallocate after 3 days without action" stays with its
rep until Wednesday at 15:00, not Monday at 15:00.

Saturday and Sunday are the local days of the computer that runs the clock
jobs: the desktop client itself on the embedded SQLite default, and
``salesdesk worker`` for a team, so start the worker in the floor's time zone
(``TZ=Europe/London salesdesk worker``). Times in the database stay UTC.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any

SATURDAY = 5  # date.weekday(): Monday is 0


def days_before(
    now: datetime, days: int, *, working_days_only: bool, tz: tzinfo | None = None
) -> datetime:
    """The moment ``days`` days before ``now``; both naive UTC.

    With ``working_days_only``, only the hours of Mondays to Fridays count, so
    the result moves back over every weekend in between. ``tz`` is the floor's
    time zone; ``None`` means this computer's (the operating system's rules,
    daylight saving included).
    """
    if not working_days_only:
        return now - timedelta(days=days)
    left = timedelta(days=days)
    end = now
    day = local_date(now, tz)
    while True:
        start = local_midnight(day, tz)
        if day.weekday() < SATURDAY:
            if end - start >= left:
                return end - left
            left -= end - start
        end = start
        day -= timedelta(days=1)


def days_after(
    start: datetime, days: int, *, working_days_only: bool, tz: tzinfo | None = None
) -> datetime:
    """The moment ``days`` days after ``start`` (naive UTC): :func:`days_before` the other way.

    With ``working_days_only`` only Mondays to Fridays count, so a start on a
    weekend counts from Monday's first moment.
    """
    if not working_days_only:
        return start + timedelta(days=days)
    left = timedelta(days=days)
    point = start
    day = local_date(start, tz)
    while True:
        end = local_midnight(day + timedelta(days=1), tz)
        if day.weekday() < SATURDAY:
            if end - point >= left:
                return point + left
            left -= end - point
        point = end
        day += timedelta(days=1)


def working_day_after(day: date, count: int) -> date:
    """The ``count``-th Monday-to-Friday date after ``day``."""
    while count:
        day += timedelta(days=1)
        if day.weekday() < SATURDAY:
            count -= 1
    return day


def floor_time(utc: datetime, fmt: str = "%H:%M", tz: tzinfo | None = None) -> str:
    """A naive UTC instant on the floor's clock, zone named: ``"14:30 CET"``.

    For what the clock jobs write for people to read (reminder emails, the
    digest): the floor's zone is the computer's running them, as for weekends.
    """
    local = _local(utc, tz)
    return f"{local.strftime(fmt)} {local.tzname()}"


def local_date(utc: datetime, tz: tzinfo | None = None) -> date:
    """The local date at a naive UTC instant; ``tz=None`` is this computer's zone."""
    return _local(utc, tz).date()


def _local(utc: datetime, tz: tzinfo | None) -> datetime:
    aware = utc.replace(tzinfo=UTC)
    return aware.astimezone(tz) if tz is not None else aware.astimezone()


def local_midnight(day: date, tz: tzinfo | None = None) -> datetime:
    """The instant a local day starts, as naive UTC."""
    midnight = datetime.combine(day, time())
    # A naive local time's astimezone() asks the operating system, which knows its DST rules.
    local = midnight.replace(tzinfo=tz) if tz is not None else midnight.astimezone()
    return local.astimezone(UTC).replace(tzinfo=None)


def days_text(days: int, working: bool) -> str:
    """``"1 day"``, ``"3 days"``, ``"3 working days"``."""
    unit = "working day" if working else "day"
    return f"{days} {unit}" if days == 1 else f"{days} {unit}s"


def period_in(details: Mapping[str, Any], before: str = "", unknown: str = "a while") -> str:
    """The period an ``idle``, ``expired`` or follow-up event's details name.

    ``"3 working days"``, after ``before`` (``" of "``: ``" of 3 working days"``);
    ``unknown`` when the details name none.
    """
    days = details.get("days")
    if not isinstance(days, int):
        return unknown
    return before + days_text(days, details.get("working") is True)
