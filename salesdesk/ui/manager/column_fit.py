"""Column widths that fill a table's width: plain arithmetic, so it is tested without a screen.

A wide table in a window that may be 1024 or 2560 pixels wide: each column has
the width its content wants (``ideal``) and the least it can do with
(``minimum``; dates and numbers should never be cut, so theirs is their ideal).
When the ideals do not fit, the columns that can give (names, companies) give,
the widest first, so one long company name is cut before every short pool
name is; when there is room over, the same columns share it, so the extra
goes where long text is, not to the last column.
"""

from __future__ import annotations

from collections.abc import Sequence


def fit_widths(ideal: Sequence[int], minimum: Sequence[int], available: int) -> list[int]:
    """Widths adding up to ``available`` when the minimums allow, else the minimums.

    Args:
        ideal: the width each column's content wants.
        minimum: the least each column may have (at most its ideal). A column
            whose minimum equals its ideal keeps that width; the others (the
            elastic ones) shrink toward their minimum, the widest first, or
            share any room over in proportion to their ideal.
        available: the width to fill (the table's viewport).
    """
    widths = [max(i, m) for i, m in zip(ideal, minimum, strict=True)]
    floor = [min(m, w) for m, w in zip(minimum, widths, strict=True)]
    elastic = [k for k, (w, f) in enumerate(zip(widths, floor, strict=True)) if w > f]
    total = sum(widths)
    if total <= available:
        room = available - total
        share = sum(widths[k] for k in elastic)
        if not elastic or share == 0:
            return widths
        given = 0
        for k in elastic:
            extra = room * widths[k] // share
            widths[k] += extra
            given += extra
        widths[elastic[0]] += room - given  # the rounding, to the first elastic column
        return widths
    spare = sum(widths[k] - floor[k] for k in elastic)
    deficit = total - available
    if deficit >= spare:
        return floor
    # Level the peaks: the widest elastic columns give first, one pixel each in
    # turn, so one long company name is cut before a short pool name is.
    while deficit > 0:
        top = max(widths[k] for k in elastic if widths[k] > floor[k])
        for k in elastic:
            if deficit and widths[k] == top and widths[k] > floor[k]:
                widths[k] -= 1
                deficit -= 1
    return widths
