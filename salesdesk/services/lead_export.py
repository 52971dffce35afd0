"""The manager's table, written to a CSV file that a spreadsheet opens safely.

What is exported is what the manager sees: the same filters and the same
order as :func:`lead_table.list_leads`, read page by page by its keyset (a
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
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import Any

from sqlalchemy import select

from salesdesk.db import Database
from salesdesk.models import Lead
from salesdesk.services.errors import ExportFileError
from salesdesk.services.lead_table import MAX_PAGE, STATUS_WORDS, LeadFilter, list_leads
from salesdesk.services.records import Actor, LeadRow

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
    extra: dict[str, None] = {}  # the extra fields met so far, in order
    rows = 0
    try:
        with tempfile.TemporaryFile("w+", encoding="utf-8") as spool:
            # First pass: the rows, one JSON line each, while the extra fields are
            # collected; the header can only be written once all are known.
            for page in _pages(db, actor, filters or LeadFilter(), sort, descending):
                customs = _custom_fields(db, [row.id for row in page])
                for row in page:
                    custom = customs.get(row.id) or {}
                    extra.update(dict.fromkeys(custom))
                    spool.write(json.dumps([_cells(row, tz), custom]) + "\n")
                rows += len(page)
                if progress is not None:
                    progress(rows)
                if should_stop is not None and should_stop():
                    return ExportSummary(path, rows, tuple(extra), stopped=True)
            spool.seek(0)
            _write(path, spool, list(extra))
    except OSError as exc:
        raise ExportFileError(f"Cannot write {path}: {exc.strerror or exc}.") from None
    return ExportSummary(path, rows, tuple(extra))


def _pages(
    db: Database, actor: Actor, filters: LeadFilter, sort: str, descending: bool
) -> Iterator[tuple[LeadRow, ...]]:
    after: tuple[Any, ...] | None = None
    while True:
        page = list_leads(
            db,
            actor,
            filters,
            sort=sort,
            descending=descending,
            after=after,
            limit=MAX_PAGE,
            with_total=False,
        )
        if page.rows:
            yield page.rows
        if page.next_cursor is None:
            return
        after = page.next_cursor


def _custom_fields(db: Database, ids: list[int]) -> dict[int, dict[str, Any]]:
    with db.read() as session:
        found = session.execute(select(Lead.id, Lead.custom).where(Lead.id.in_(ids)))
        return {lead_id: custom for lead_id, custom in found if custom}


def _cells(row: LeadRow, tz: tzinfo | None) -> list[str]:
    def when(moment: datetime | None) -> str:
        if moment is None:
            return ""
        return f"{moment.replace(tzinfo=UTC).astimezone(tz):%Y-%m-%d %H:%M}"

    return [
        row.first_name,
        row.last_name,
        row.company,
        row.email or "",
        row.phone or "",
        row.pool_name or "",
        STATUS_WORDS.get(row.status, row.status),
        row.owner_name or "",
        row.source,
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
        "; ".join(row.tags),
    ]


def _write(path: Path, spool: Any, extra: list[str]) -> None:
    """The CSV under a temporary name in the same folder, then renamed to ``path``."""
    temporary = path.with_name(f".{path.name}.part")
    try:
        with open(temporary, "w", encoding="utf-8-sig", newline="") as out:
            writer = csv.writer(out)
            writer.writerow([safe_cell(h) for h in (*HEADINGS, *extra)])
            for line in spool:
                cells, custom = json.loads(line)
                values = cells + [str(custom.get(name, "")) for name in extra]
                writer.writerow([safe_cell(v) for v in values])
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


__all__ = ["HEADINGS", "ExportSummary", "export_leads", "safe_cell"]
