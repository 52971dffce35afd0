"""Times as people read them: stored as naive UTC, shown and picked in local time.

Every timestamp in the database is naive UTC (see ``models.py``); a rep thinks
in their own clock. These helpers are the one place that converts, so a call
back picked for "tomorrow 10:00" is 10:00 where the rep sits.
"""

from __future__ import annotations

from datetime import UTC, datetime

EMPTY = "—"


def to_local(utc: datetime) -> datetime:
    """Naive UTC to an aware datetime in the system's local zone."""
    return utc.replace(tzinfo=UTC).astimezone()


def local_now(utc_now: datetime) -> datetime:
    """The local wall-clock time (naive) for a naive-UTC "now"."""
    return to_local(utc_now).replace(tzinfo=None)


def local_to_utc(local: datetime) -> datetime:
    """A naive local wall-clock time to naive UTC (what services take)."""
    return local.astimezone(UTC).replace(tzinfo=None)


def format_datetime(utc: datetime | None) -> str:
    """``Tue 3 Mar 2026, 10:00`` in local time, or a dash."""
    if utc is None:
        return EMPTY
    local = to_local(utc)
    return f"{local:%a} {local.day} {local:%b %Y, %H:%M}"


def format_short(utc: datetime | None, now_utc: datetime) -> str:
    """Compact for lists: ``10:00`` today, ``Tue 3 Mar 10:00`` this year, else with the year."""
    if utc is None:
        return EMPTY
    local, now = to_local(utc), to_local(now_utc)
    if local.date() == now.date():
        return f"today {local:%H:%M}"
    if local.year == now.year:
        return f"{local:%a} {local.day} {local:%b %H:%M}"
    return f"{local.day} {local:%b %Y %H:%M}"


def describe_delta(utc: datetime, now_utc: datetime) -> str:
    """``in 2 days``, ``in 3 hours``, ``5 minutes ago`` — how far a moment is from now."""
    seconds = (utc - now_utc).total_seconds()
    future = seconds >= 0
    seconds = abs(seconds)
    size, unit = next(
        (
            (size, unit)
            for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60))
            if seconds >= size
        ),
        (0, ""),
    )
    if not size:
        return "now"
    count = int(seconds // size)
    words = f"{count} {unit}{'s' if count != 1 else ''}"
    return f"in {words}" if future else f"{words} ago"


def format_compact(utc: datetime | None) -> str:
    """``3 Mar 2026 10:00`` in local time: for tables where width is scarce."""
    if utc is None:
        return EMPTY
    local = to_local(utc)
    return f"{local.day} {local:%b %Y %H:%M}"
