"""The manager's table, written to a CSV file that a spreadsheet opens safely.

What is exported is what the manager sees: the same filters and the same
order as :func:`lead_table.list_leads`, read page by page by :func:`lead_table.walk_leads` (a
million leads never sit in memory at once), with every lead's extra imported
fields (a website, a job title) as columns of their own after the standard
ones, so the file can be imported again without losing them.

Safety: a cell that a spreadsheet would run as a formula (``=HYPERLINK(…)``,
``+cmd|…``, ``@SUM(…)``) is written with a leading apostrophe, so the
spreadsheet shows it as text (OWASP's advice on CSV injection). A phone
number such as ``+44 20 7946 0018`` or ``-`` alone is left as it is: it holds no
call that could run.

The file is UTF-8 with a byte order mark, so Excel reads names with accents
right, and is written under a temporary name and renamed at the end: a
stopped or failed export never leaves half a file under the name chosen.
"""

from __future__ import annotations

import csv
import json
import os
import re
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from pathlib import Path
from typing import Any

from sqlalchemy import Text, cast, select

from salesdesk.db import Database
from salesdesk.models import Lead
from salesdesk.services.errors import ExportFileError
from salesdesk.services.import_headings import normalise
from salesdesk.services.lead_table import STATUS_WORDS, LeadFilter, walk_leads
from salesdesk.services.records import Actor, LeadRow
from salesdesk.services.sql_lists import among

# The standard columns, in the order of the manager's table, then the rest.
HEADINGS = (
    "First name",
    "Last name",
    "Company",
    "Email",
    "Phone",
    "Pool",
    "Status",
    "Owner",
    "Source",
    "Score",
    "Priority",
    "Added",
    "Assigned",
    "Last action",
    "Last contacted",
    "Call back",
    "Email confirmed",
    "Appointment",
    "Dead",
    "Tags",
)

# What a spreadsheet takes for the start of a formula (OWASP, "CSV Injection").
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
# Digits, spaces and phone punctuation only: no call a spreadsheet could run.
_PHONE_LIKE = re.compile(r"[+\-]?[\d\s().\-/]*")

Progress = Callable[[int], None]
"""Called after each page with the number of leads written so far."""


@dataclass(frozen=True, slots=True)
class ExportSummary:
    """What an export wrote; ``stopped`` when it was stopped before the end (no file then)."""

    path: Path
    rows: int
    extra_columns: tuple[str, ...]
    stopped: bool = False


def safe_cell(value: str) -> str:
    """The value, or with a leading apostrophe when a spreadsheet would run it as a formula."""
    if value[:1] in _FORMULA_START and not _PHONE_LIKE.fullmatch(value):
        return "'" + value
    return value


def export_leads(
    db: Database,
    actor: Actor,
    path: Path,
    filters: LeadFilter | None = None,
    sort: str = "created_at",
    descending: bool = True,
    *,
    tz: tzinfo | None = None,
    progress: Progress | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> ExportSummary:
    """Write every lead that ``filters`` match to ``path``, in the table's order.

    Times are written as ``2026-03-02 09:14`` in ``tz`` (``None``: this
    computer's zone, as the screen shows them).

    Raises:
        NotAllowedError: the actor is not a manager or an admin.
        ExportFileError: the file cannot be written.
    """
    path = Path(path)
    part = path.with_name(f".{path.name}.part")
    extra: dict[str, None] = {}  # the extra fields met so far, in order
    rows = 0
    clock = _LocalClock(tz)
    try:
        with (
            open(part, "w", encoding="utf-8-sig", newline="") as out,
            tempfile.TemporaryFile("w+", encoding="utf-8") as customs,
        ):
            # The standard columns go straight into the file; each lead's extra
            # fields wait in ``customs`` (row number and JSON) until every
            # field's name is known, and only then make a second pass.
            writer = csv.writer(out)
            writer.writerow(HEADINGS)
            pages = walk_leads(db, actor, filters or LeadFilter(), sort, descending)
            for page in pages:
                found = _custom_fields(db, [row.id for row in page])
                for row in page:
                    writer.writerow(_cells(row, clock))
                    custom = found.get(row.id)
                    if custom:
                        extra.update(dict.fromkeys(custom))
                        customs.write(f"{rows}\t{json.dumps(custom)}\n")
                    rows += 1
                if progress is not None:
                    progress(rows)
                if should_stop is not None and should_stop():
                    break
            else:
                out.close()
                if extra:
                    customs.seek(0)
                    _add_extra_columns(part, customs, list(extra))
                os.replace(part, path)
                return ExportSummary(path, rows, tuple(extra))
        return ExportSummary(path, rows, tuple(extra), stopped=True)
    except OSError as exc:
        raise ExportFileError(f"Cannot write {path}: {exc.strerror or exc}.") from None
    finally:
        part.unlink(missing_ok=True)


def _custom_fields(db: Database, ids: list[int]) -> dict[int, dict[str, Any]]:
    """The extra fields of the leads that have any (most have none: their text is ``{}``)."""
    with db.read() as session:
        found = session.execute(
            select(Lead.id, cast(Lead.custom, Text)).where(among(Lead.id, ids, db.dialect))
        ).all()
    return {lead_id: json.loads(text) for lead_id, text in found if text and text != "{}"}


class _LocalClock:
    """Naive UTC to ``2026-03-02 09:14`` in a zone: the offset looked up once per hour of UTC."""

    def __init__(self, tz: tzinfo | None) -> None:
        self._tz = tz
        self._offsets: dict[datetime, timedelta] = {}

    def __call__(self, moment: datetime | None) -> str:
        if moment is None:
            return ""
        hour = moment.replace(minute=0, second=0, microsecond=0)
        offset = self._offsets.get(hour)
        if offset is None:
            local = hour.replace(tzinfo=UTC).astimezone(self._tz)
            offset = self._offsets[hour] = local.replace(tzinfo=None) - hour
        return (moment + offset).isoformat(" ", "minutes")


def _cells(row: LeadRow, when: _LocalClock) -> list[str]:
    return [
        safe_cell(row.first_name),
        safe_cell(row.last_name),
        safe_cell(row.company),
        safe_cell(row.email or ""),
        safe_cell(row.phone or ""),
        safe_cell(row.pool_name or ""),
        STATUS_WORDS.get(row.status, row.status),
        safe_cell(row.owner_name or ""),
        safe_cell(row.source),
        str(row.score),
        str(row.priority),
        when(row.created_at),
        when(row.assigned_at),
        when(row.last_action_at),
        when(row.last_contacted_at),
        when(row.call_back_at),
        when(row.email_confirmed_at),
        when(row.appointment_at),
        when(row.dead_at),
        safe_cell("; ".join(row.tags)),
    ]


def _add_extra_columns(part: Path, customs: Any, extra: list[str]) -> None:
    """Rewrite ``part`` with a column per extra field, from the rows kept in ``customs``."""
    wider = part.with_name(part.name + "2")
    try:
        with (
            open(part, encoding="utf-8-sig", newline="") as standard,
            open(wider, "w", encoding="utf-8-sig", newline="") as out,
        ):
            reader, writer = csv.reader(standard), csv.writer(out)
            # An extra field named like a standard column ("Phone" from a second
            # phone column) gets a name of its own, so no heading is there twice.
            heading_keys = {normalise(h) for h in HEADINGS}
            named = [f"{n} (extra)" if normalise(n) in heading_keys else n for n in extra]
            writer.writerow([*next(reader), *(safe_cell(name) for name in named)])
            blank = [""] * len(extra)
            waiting = _numbered(customs)
            number, custom = next(waiting, (-1, {}))
            for index, cells in enumerate(reader):
                if index != number:
                    writer.writerow(cells + blank)
                    continue
                values = [safe_cell(str(custom.get(name, ""))) for name in extra]
                writer.writerow(cells + values)
                number, custom = next(waiting, (-1, {}))
        os.replace(wider, part)
    finally:
        wider.unlink(missing_ok=True)


def _numbered(customs: Any) -> Iterator[tuple[int, dict[str, Any]]]:
    for line in customs:
        number, _, text = line.partition("\t")
        yield int(number), json.loads(text)


__all__ = ["HEADINGS", "ExportSummary", "export_leads", "safe_cell"]
