"""How the manager's table shares its width between columns."""

from __future__ import annotations

from salesdesk.ui.manager.column_fit import fit_widths


def test_ideal_widths_that_fit_share_the_room_over_among_the_elastic_columns():
    widths = fit_widths([100, 80, 60], [50, 80, 60], 300)
    assert widths == [160, 80, 60]  # only the first can grow: dates and numbers keep theirs
    widths = fit_widths([100, 100, 60], [50, 50, 60], 361)
    assert sum(widths) == 361 and widths[2] == 60
    assert abs(widths[0] - widths[1]) <= 1


def test_too_wide_ideals_cut_the_widest_elastic_column_first():
    widths = fit_widths([200, 100, 90], [100, 80, 90], 330)
    assert widths == [140, 100, 90]  # the long one gave it all; a date is never cut
    widths = fit_widths([200, 120, 90], [100, 80, 90], 300)
    assert widths == [105, 105, 90]  # down to a common level, then both give
    assert sorted(fit_widths([200, 120, 90], [100, 80, 90], 301)[:2]) == [105, 106]


def test_when_even_the_minimums_do_not_fit_the_table_scrolls_at_its_minimums():
    assert fit_widths([200, 100, 90], [100, 80, 90], 200) == [100, 80, 90]


def test_a_minimum_above_the_ideal_wins_and_nothing_elastic_takes_no_room():
    assert fit_widths([40, 90], [60, 90], 500) == [60, 90]
