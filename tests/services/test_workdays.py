"""Working days: weekends do not use up the keep period, idle limit or follow-up days."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from salesdesk.services.workdays import days_after, days_before, days_text, period_in

FRIDAY_3PM = datetime(2026, 3, 6, 15, 0)
LONDON = ZoneInfo("Europe/London")


def test_a_friday_afternoon_lead_keeps_its_three_days_until_wednesday():
    wednesday_3pm = FRIDAY_3PM + timedelta(days=5)
    assert days_before(wednesday_3pm, 3, working_days_only=True, tz=UTC) == FRIDAY_3PM
    # Counting calendar days, a lead taken on Sunday afternoon would be as old.
    sunday_3pm = datetime(2026, 3, 8, 15, 0)
    assert days_before(wednesday_3pm, 3, working_days_only=False, tz=UTC) == sunday_3pm


def test_on_a_weekend_the_count_starts_from_friday_night():
    saturday = datetime(2026, 3, 7, 10, 30)
    assert days_before(saturday, 1, working_days_only=True, tz=UTC) == datetime(2026, 3, 6)
    sunday_night = datetime(2026, 3, 8, 23, 59)
    assert days_before(sunday_night, 2, working_days_only=True, tz=UTC) == datetime(2026, 3, 5)


def test_the_weekend_is_the_floors_own_local_weekend():
    # Monday 09:00 in London just after the clocks went forward (29 March 2026):
    # one working day back is Friday 09:00 London time, which was 09:00 UTC.
    monday_9am_bst = datetime(2026, 3, 30, 8, 0)  # UTC
    assert days_before(monday_9am_bst, 1, working_days_only=True, tz=LONDON) == datetime(
        2026, 3, 27, 9, 0
    )
    # New York is five hours behind: Monday 03:00 UTC is still Sunday there.
    new_york = ZoneInfo("America/New_York")
    monday_3am_utc = datetime(2026, 3, 2, 3, 0)
    assert days_before(monday_3am_utc, 1, working_days_only=True, tz=new_york) == datetime(
        2026, 2, 27, 5, 0
    )


# Whole hours over three years, and up to two months of days.
ON_THE_HOUR = st.datetimes(datetime(2025, 1, 1), datetime(2028, 1, 1)).map(
    lambda t: t.replace(minute=0, second=0, microsecond=0)
)
DAYS = st.integers(0, 40)
# What these properties check is the count, not its speed: no deadline, so a
# loaded machine (CI, benchmarks alongside) cannot fail them.
UNTIMED = settings(deadline=None)


def weekday_hours(start: datetime, end: datetime) -> int:
    """The hours from ``start`` to ``end`` (both on the hour) that fall Monday to Friday."""
    hours = int((end - start) / timedelta(hours=1))
    return sum(1 for h in range(hours) if (start + timedelta(hours=h)).weekday() < 5)


@UNTIMED
@given(now=ON_THE_HOUR, days=DAYS)
def test_exactly_n_days_of_weekday_hours_lie_between_the_cutoff_and_now(now, days):
    cutoff = days_before(now, days, working_days_only=True, tz=UTC)
    assert weekday_hours(cutoff, now) == 24 * days
    # ... and it is the latest such moment: the hour it starts is a weekday's.
    assert days == 0 or cutoff.weekday() < 5


@UNTIMED
@given(start=ON_THE_HOUR, days=DAYS)
def test_counting_forwards_undoes_counting_back(start, days):
    end = days_after(start, days, working_days_only=True, tz=UTC)
    assert weekday_hours(start, end) == 24 * days
    if start.weekday() < 5:
        assert days_before(end, days, working_days_only=True, tz=UTC) == start


def test_counting_forwards_from_a_friday_afternoon_and_a_sunday():
    assert days_after(FRIDAY_3PM, 3, working_days_only=True, tz=UTC) == datetime(2026, 3, 11, 15)
    assert days_after(FRIDAY_3PM, 3, working_days_only=False, tz=UTC) == datetime(2026, 3, 9, 15)
    sunday = datetime(2026, 3, 8, 20, 0)
    assert days_after(sunday, 1, working_days_only=True, tz=UTC) == datetime(2026, 3, 10)


def test_words_for_the_period():
    assert days_text(1, working=False) == "1 day"
    assert days_text(3, working=True) == "3 working days"
    assert period_in({"days": 1, "working": True}) == "1 working day"
    assert period_in({"days": 4}) == "4 days"  # events written before the rule existed
    assert period_in({}) == "a while"
