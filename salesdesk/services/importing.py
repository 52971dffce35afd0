"""Importing leads from a CSV file, whatever spreadsheet or CRM wrote it.

A manager hands over a file; good rows go in, each bad row is reported with
its line number and a reason, and rows already known (same email or phone,
earlier in the file or in the database) are skipped and counted. Only a file
that cannot be read at all raises :class:`ImportFileError`.

Reading the file (any encoding, delimiter and line ending a spreadsheet
writes, with line numbers a person finds) is :mod:`salesdesk.services.csv_file`.
Columns are matched here by their headings, through the table of names in
:mod:`salesdesk.services.import_headings` (``First Name``, ``first_name``,
``Vorname`` … are all the first name). An explicit mapping (``Mobile=phone``)
overrides the table. Columns nobody recognises are kept in
the lead's ``custom`` dict under their own heading, so nothing is lost.

The rules for a lead (an email or a phone, a well-formed email) are those of
:func:`leads.check_new_lead`, and rows go in through
:func:`leads.insert_lead_values`, the writer behind :func:`leads.insert_leads`,
so an imported lead is exactly like one entered by hand: a ``created`` event,
and push routing.

Transactions: unlike other service calls, an import is *several* transactions,
one per batch of up to :data:`BATCH_SIZE` rows. On SQLite a write transaction
holds the database's only write lock; one transaction for a 100,000-row file
would keep every rep's Next waiting for seconds (and past the busy timeout on a
slow disk). A batch holds the lock for about :data:`BATCH_TARGET_S` at most:
one that took longer makes the next one smaller. The price is that
a failure half-way (the server goes away) leaves the earlier batches in; since
duplicates are skipped, running the same file again finishes the job and adds
nothing twice, which is the recovery a manager would try first anyway.

Writing a batch is :mod:`salesdesk.services.import_batches`.

Speed (figures in ``benchmarks/README.md``): a row goes from its cells to the
stored values in one pass (:func:`_to_row`), each batch's duplicate check is
one query answered from the ``email_key`` / ``phone_key`` indexes alone, and
:func:`leads.insert_lead_values` writes with COPY (PostgreSQL) or one raw
executemany (SQLite), in a batch whose SQLite page cache is raised for its
own transaction. Reading and writing run on one thread on purpose: a writer
thread was measured slower on SQLite, because sqlite3 releases the GIL for
every row it steps and then waits for the reading thread to hand it back; on
PostgreSQL, reading the next batch on a second thread while the server stores
one was measured no faster.
"""

from __future__ import annotations

import operator
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from json.encoder import encode_basestring_ascii
from pathlib import Path

from sqlalchemy import String

from salesdesk.db import Database
from salesdesk.models import Lead
from salesdesk.services import import_batches
from salesdesk.services.csv_file import UNREADABLE, read_table
from salesdesk.services.errors import (
    ImportFileError,
    ValidationError,
)
from salesdesk.services.import_headings import (
    CUSTOM,
    EXPORT_STATE,
    FIELDS,
    IGNORE,
    field_for,
    normalise,
)
from salesdesk.services.leads import (
    EMAIL_RE,
    INVALID_CONTACT,
    LeadValues,
    malformed_contact,
    phone_digits,
    phone_key_of_digits,
)
from salesdesk.services.records import Actor

# Rows per write transaction: small enough that SQLite's write lock is held for
# a fraction of a second, so reps' clicks go on between batches; large enough
# that the per-transaction costs (rules, pool check, duplicate query, commit)
# vanish (1,000 and 50,000 per batch used the same CPU time per row, within noise).
BATCH_SIZE = 5_000
# But a batch should hold the lock for at most about this long, since a rep's
# Next waits behind it: on a slow machine or a big table a batch of 5,000 took
# 0.4-0.6 s. A batch that took longer makes the next one smaller, down to
# MIN_BATCH_SIZE; a quick one lets the size grow back to BATCH_SIZE.
BATCH_TARGET_S = 0.25
MIN_BATCH_SIZE = 500
FIRST_BATCH_SIZE = 1_000  # before the first has been timed; quick ones double it

_TEXT_FIELDS = ("first_name", "last_name", "company", "email", "phone", "source")


def _width(column: str) -> int:
    column_type = Lead.__table__.c[column].type
    assert isinstance(column_type, String) and column_type.length
    return column_type.length


# The column widths of the schema, so a long value is refused per row instead
# of failing a whole batch on PostgreSQL (which enforces VARCHAR lengths).
MAX_LENGTH: dict[str, int] = {name: _width(name) for name in _TEXT_FIELDS}
_INT_RANGE = (-(2**31), 2**31 - 1)  # PostgreSQL INTEGER


@dataclass(frozen=True, slots=True)
class RejectedRow:
    """A row that was not imported: its physical line (header = 1) and why."""

    line: int
    reason: str


@dataclass(frozen=True, slots=True)
class ImportSummary:
    """What an import did. ``encoding`` and ``delimiter`` say how the file was read.

    ``duplicate_rows`` are the rows skipped because their email or phone was
    already known, each with its line and why (``same email as line 12``,
    ``phone already in SalesDesk``). ``stopped_at`` is the last line read when
    the import was stopped before the end of the file, else ``None``.
    ``kept_aside`` lists values a lead that went in could do without (a score
    that is not a number, a malformed phone beside a good email): each was
    kept as an extra field. ``lines`` counts the lines after the column names,
    which are on ``header_line``.
    """

    imported: int
    duplicate_rows: tuple[RejectedRow, ...]
    rejected: tuple[RejectedRow, ...]
    encoding: str = ""
    delimiter: str = ""
    lines: int = 0
    stopped_at: int | None = None
    kept_aside: tuple[RejectedRow, ...] = ()
    header_line: int = 1
    routed: int = 0  # of the leads imported, how many a push pool gave its members at once

    @property
    def duplicates(self) -> int:
        return len(self.duplicate_rows)


@dataclass(frozen=True, slots=True)
class ColumnPreview:
    """One column of a file as an import would read it.

    ``field`` is one of :data:`FIELDS`, ``"custom"`` (kept on the lead under its
    heading) or ``"ignore"``; ``samples`` are its first few non-empty values.
    """

    heading: str
    field: str
    samples: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ImportPreview:
    """A file before anything is written: how it reads and where each column goes.

    ``problem`` says why it cannot be imported as planned (no email or phone
    column), in words for the manager; ``None`` when it can.
    """

    columns: tuple[ColumnPreview, ...]
    lines: int  # lines after the column names
    encoding: str
    delimiter: str
    problem: str | None = None
    header_line: int = 1  # the line the column names are on (a title may come first)


Progress = Callable[[int, int], None]
"""Called after each batch with (lines read, lines in the file)."""

SAMPLE_ROWS = 20  # rows read for a preview's samples


# --- public entry points ------------------------------------------------------------


def import_csv(
    db: Database,
    actor: Actor | None,
    path: Path,
    pool: str | int,
    mapping: Mapping[str, str] | None = None,
    source: str | None = None,
    progress: Progress | None = None,
    should_stop: Callable[[], bool] | None = None,
    columns: Mapping[int, str] | None = None,
) -> ImportSummary:
    """Import a CSV file into a pool (by name, case-insensitive, or id).

    Args:
        actor: the manager importing; ``None`` only from the command line,
            whose user already holds the database.
        mapping: column heading to field (``{"Mobile": "phone"}``); overrides
            the synonym table. Fields: see :data:`FIELDS`, plus ``custom`` and
            ``ignore``.
        source: recorded on every lead; without it a row's own source column
            is used, else the file's name without its extension.
        should_stop: asked after each batch; when it answers True the import
            stops there (what went in stays in: run the file again to finish,
            and the rows already added are skipped as duplicates).
        columns: column position (0 for the first) to field, over ``mapping``:
            the import dialog's choices, which stay right when two columns
            have the same heading.

    Raises:
        ImportFileError: the file cannot be imported at all.
        NotFoundError: there is no such pool.
        ValidationError: the mapping or the source is refused.
    """
    path = Path(path)
    return import_rows(
        db,
        actor,
        _read_file(path),
        pool,
        mapping=mapping,
        source=source,
        default_source=path.stem,
        progress=progress,
        should_stop=should_stop,
        columns=columns,
    )


def _read_file(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise ImportFileError(f"Cannot read {path}: {exc.strerror or exc}.") from None


def import_rows(
    db: Database,
    actor: Actor | None,
    data: bytes,
    pool: str | int,
    mapping: Mapping[str, str] | None = None,
    source: str | None = None,
    default_source: str = "",
    progress: Progress | None = None,
    should_stop: Callable[[], bool] | None = None,
    columns: Mapping[int, str] | None = None,
) -> ImportSummary:
    """Import the bytes of a CSV file (for the import dialog, which has read them already).

    ``default_source`` is used for rows without a source when ``source`` is
    not given (:func:`import_csv` passes the file's name).
    """
    _check_mapping(mapping or {})  # refuse a bad mapping before reading anything
    _check_mapping({str(i): f for i, f in (columns or {}).items()})
    source = _check_source(source)
    pool_id = import_batches.find_pool(db, actor, pool)
    parsed = read_table(data, is_heading=_is_heading)
    plan = _plan_columns(
        parsed.header, mapping or {}, source_given=source is not None, positions=columns or {}
    )
    plan.delimiter = parsed.delimiter
    defaults = source if source is not None else default_source.strip()[: MAX_LENGTH["source"]]

    rejected: list[RejectedRow] = []
    duplicates: list[RejectedRow] = []
    kept_aside: list[RejectedRow] = []
    seen = import_batches.Seen()
    imported = 0
    batch: list[LeadValues] = []
    lines: list[int] = []
    size = min(FIRST_BATCH_SIZE, BATCH_SIZE)
    total_lines = parsed.line_count
    stopped_at: int | None = None

    routed = 0

    def store() -> None:
        nonlocal imported, routed
        added, skipped, pushed = import_batches.store_batch(db, actor, pool_id, batch, lines, seen)
        imported += added
        routed += pushed
        duplicates.extend(RejectedRow(line, reason) for line, reason in skipped)

    for line, cells, end in parsed.records:
        try:
            row = _to_row(cells, plan, defaults, line, end, kept_aside)
        except _RowError as exc:
            rejected.append(RejectedRow(line, exc.reason))
            continue
        if row is None:
            continue  # a blank row
        batch.append(row)
        lines.append(line)
        if len(batch) >= size:
            started = time.monotonic()
            store()
            size = next_batch_size(size, time.monotonic() - started)
            batch, lines = [], []
            if progress is not None:
                progress(end, total_lines)
            if should_stop is not None and should_stop():
                stopped_at = end
                break
    if batch and stopped_at is None:
        store()
    if progress is not None and stopped_at is None:
        progress(total_lines, total_lines)
    if kept_aside and duplicates:  # a row skipped as a duplicate changed nothing
        skipped = {row.line for row in duplicates}
        kept_aside = [row for row in kept_aside if row.line not in skipped]
    return ImportSummary(
        imported=imported,
        duplicate_rows=tuple(duplicates),
        rejected=tuple(rejected),
        encoding=parsed.encoding,
        delimiter=parsed.delimiter,
        lines=max(0, total_lines - parsed.header_line),
        stopped_at=stopped_at,
        kept_aside=tuple(kept_aside),
        header_line=parsed.header_line,
        routed=routed,
    )


def next_batch_size(size: int, took: float) -> int:
    """The next batch's size, so that it takes about :data:`BATCH_TARGET_S`."""
    if took <= BATCH_TARGET_S:
        return min(BATCH_SIZE, size * 2)
    return max(min(MIN_BATCH_SIZE, BATCH_SIZE), int(size * BATCH_TARGET_S / took))


def preview_file(path: Path, mapping: Mapping[str, str] | None = None) -> ImportPreview:
    """How a file would be imported, read from disk (see :func:`preview_rows`)."""
    return preview_rows(_read_file(Path(path)), mapping)


def _is_heading(text: str) -> bool:
    return field_for(text) is not None


def preview_rows(data: bytes, mapping: Mapping[str, str] | None = None) -> ImportPreview:
    """How each column of a file would be read, with sample values; nothing is written.

    For the import dialog, which shows the plan and lets the manager change it
    before importing. A file without an email or phone column is previewed
    too, with ``problem`` saying so, so the manager can map one.

    Raises:
        ImportFileError: the file cannot be read at all.
        ValidationError: the mapping names a column or field that does not exist.
    """
    parsed = read_table(data, is_heading=_is_heading)
    plan = _plan_columns(parsed.header, mapping or {}, source_given=False, need_contact=False)
    samples: list[list[str]] = [[] for _ in plan.described]
    filled = 0  # rows with anything in them, among those read
    read = 0
    for read, (_line, cells, _end) in enumerate(parsed.records, start=1):
        if read > SAMPLE_ROWS:
            break
        filled += any(c.strip() for c in cells)
        for index, cell in enumerate(cells[: len(samples)]):
            value = _unwrap(cell.strip())
            if value and len(samples[index]) < 3:
                samples[index].append(value)
    lines = max(0, parsed.line_count - parsed.header_line)
    if read <= SAMPLE_ROWS and not filled:  # the whole file was read: no row holds anything
        lines = 0
    return ImportPreview(
        columns=tuple(
            ColumnPreview(heading, target, tuple(values))
            for (heading, target), values in zip(plan.described, samples, strict=True)
        ),
        lines=lines,
        encoding=parsed.encoding,
        delimiter=parsed.delimiter,
        problem=_missing_contact(plan, parsed.header),
        header_line=parsed.header_line,
    )


# --- columns ------------------------------------------------------------------------


def _check_mapping(mapping: Mapping[str, str]) -> dict[str, str]:
    """Normalised heading -> field, refusing fields that do not exist."""
    accepted = {normalise(name): name for name in (*FIELDS, CUSTOM, IGNORE)}
    accepted["fullname"] = "name"
    wanted: dict[str, str] = {}
    for column, target in mapping.items():
        name = accepted.get(normalise(target))
        if name is None:
            raise ValidationError(
                f'Cannot map "{column}" to "{target}": the fields are '
                f"{', '.join((*FIELDS, CUSTOM, IGNORE))}.",
                field="mapping",
            )
        if not normalise(column):
            raise ValidationError(f'"{column}" is not a column name.', field="mapping")
        wanted[normalise(column)] = name
    return wanted


def _check_source(source: str | None) -> str | None:
    if source is None:
        return None
    source = source.strip()
    if len(source) > MAX_LENGTH["source"]:
        raise ValidationError(
            f"A source is at most {MAX_LENGTH['source']} characters.", field="source"
        )
    return source


@dataclass
class _Plan:
    width: int
    named_width: int  # up to the last named column: a row may stop there
    delimiter: str = ","
    # field -> column indexes, in order of preference (explicit mapping first)
    columns: dict[str, list[int]] = field(default_factory=dict)
    custom: list[tuple[int, str]] = field(default_factory=list)
    described: list[tuple[str, str]] = field(default_factory=list)
    # The same, shaped for the per-row loop: fields read from one column, and
    # fields with several (Phone and Mobile), whose extra values go to custom.
    single: list[tuple[str, int]] = field(default_factory=list)
    multiple: list[tuple[str, list[int]]] = field(default_factory=list)
    # When no field has several columns: the cells of FIELDS, in that order, in
    # one C call; a field without a column reads the empty cell appended at ``width``.
    pick: Callable[[list[str]], tuple[str, ...]] | None = None


def _plan_columns(
    header: list[str],
    mapping: Mapping[str, str],
    source_given: bool,
    need_contact: bool = True,
    positions: Mapping[int, str] | None = None,
) -> _Plan:
    """Where each column goes. An unnamed column is "column N" (its position), in a mapping too.

    ``positions`` (column index to field) wins over ``mapping`` (heading to
    field), which wins over the table of headings. In a file SalesDesk
    exported, the columns of the lead's life on this floor (Pool, Status,
    Owner, Assigned …) are left out unless mapped: they describe where the
    lead was, not the lead.

    Raises ImportFileError when no column holds an email or a phone, unless
    ``need_contact`` is False (a preview says so instead).
    """
    positions = positions or {}
    wanted = _check_mapping(mapping)
    outside = sorted(i for i in positions if not 0 <= i < len(header))
    if outside:
        raise ValidationError(
            f"The file has no column {outside[0] + 1} (it has {len(header)}).", field="columns"
        )
    named = [i for i, heading in enumerate(header) if heading]
    plan = _Plan(width=len(header), named_width=named[-1] + 1 if named else 0)
    keys = [normalise(h or f"column {i + 1}") for i, h in enumerate(header)]
    unknown = [column for column in mapping if normalise(column) not in keys]
    if unknown:
        raise ValidationError(
            f'The file has no column "{unknown[0]}" (its columns: {_list_headings(header)}).',
            field="mapping",
        )
    explicit: list[tuple[int, str]] = []
    synonym: list[tuple[int, str]] = []
    custom_names: set[str] = set()
    unnamed: list[tuple[int, str]] = []  # kept after the named ones
    exported_here = set(keys) >= EXPORT_STATE
    for index, (heading, key) in enumerate(zip(header, keys, strict=True)):
        chosen = index in positions or key in wanted
        if index in positions:
            target: str | None = positions[index]
        elif key in wanted:
            target = wanted[key]
        elif exported_here and key in EXPORT_STATE:
            target = IGNORE
        else:
            target = field_for(heading)
        if target == "source" and source_given:
            target = CUSTOM  # an explicit source wins; the column is kept, not lost
        if target in FIELDS:
            (explicit if chosen else synonym).append((index, target))
        elif target != IGNORE and not heading:
            unnamed.append((index, f"column {index + 1}"))  # may still carry values
        elif target != IGNORE:
            name = heading
            if name in custom_names:
                name = f"{name} ({index + 1})"
            custom_names.add(name)
            plan.custom.append((index, name))
        plan.described.append((heading or f"column {index + 1}", target or CUSTOM))
    for index, target in explicit + synonym:
        plan.columns.setdefault(target, []).append(index)
    for target, indexes in plan.columns.items():
        if len(indexes) == 1:
            plan.single.append((target, indexes[0]))
        else:
            plan.multiple.append((target, indexes))
    if not plan.multiple:
        at = dict(plan.single)
        plan.pick = operator.itemgetter(*(at.get(name, plan.width) for name in FIELDS))
    plan.custom.extend(unnamed)
    problem = _missing_contact(plan, header) if need_contact else None
    if problem is not None:
        raise ImportFileError(problem)
    return plan


def _missing_contact(plan: _Plan, header: list[str]) -> str | None:
    """Why no row could be imported with this plan (no email or phone column), or None."""
    if "email" in plan.columns or "phone" in plan.columns:
        return None
    if any(EMAIL_RE.match(h) for h in header):
        return (
            "The first line holds data, not column names: add a line of column names "
            "(such as Name, Email, Phone) at the top."
        )
    return (
        "The file has no email or phone column "
        f"(its columns: {_list_headings(header)}); map one to email or phone."
    )


def _list_headings(header: list[str]) -> str:
    shown = ", ".join(h for h in header[:12] if h) or "none named"
    return shown + (", …" if len(header) > 12 else "")


# --- rows ---------------------------------------------------------------------------


class _RowError(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _unwrap(cell: str) -> str:
    """A value as a spreadsheet protected it, to the value itself.

    Excel's trick to keep leading zeros, ``="07700 900123"``, and the
    apostrophe an export (SalesDesk's own included) puts before a value a
    spreadsheet would run as a formula, ``'=HYPERLINK(…)`` or ``'+Tom``.
    """
    if cell.startswith('="') and cell.endswith('"') and len(cell) >= 3:
        return cell[2:-1].strip()
    if cell[:1] == "'" and cell[1:2] in _FORMULA_SIGNS and cell[1:2]:
        return cell[1:]
    return cell


_CONTACT_LIKE = re.compile(r"@|\d[\d ()./-]{4,}\d")
_DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab"}
_FORMULA_SIGNS = "=+-@\t\r"
_PROTECTED = "='"  # the first characters _unwrap may change
# A phone number a spreadsheet rounded into scientific notation (7.7009E+09).
_ROUNDED = re.compile(r"^[+-]?\d+(?:[.,]\d+)?[eE]\+?\d+$")


def _to_row(
    cells: list[str], plan: _Plan, source: str, line: int, end: int, notes: list[RejectedRow]
) -> LeadValues | None:
    """One record to a checked lead's values, None for a blank row, or _RowError(reason).

    A value the lead can do without (a score that is not a number, a phone
    that is not one while the email is good) does not cost the lead: it is
    kept as an extra field under its column's heading, and ``notes`` says so.

    This runs once per row of a file of perhaps a million, so it is written
    for speed: the cells are picked by precomputed indexes, and the checks of
    :func:`leads.check_new_lead` (:func:`leads.malformed_contact`) and the keys
    are taken on the values already stripped (building a :class:`leads.NewLead`
    per row only to check it cost more than the checks; tests hold the two to
    the same answers).
    """
    width = plan.width
    if len(cells) != width:
        if cells and cells[0] == UNREADABLE:
            raise _RowError(_unreadable(cells[1]))
        if len(cells) > width and not any(c.strip() for c in cells[width:]):
            cells = cells[:width]  # trailing empty fields, as some exporters write
        elif plan.named_width <= len(cells) < width:
            cells = cells + [""] * (width - len(cells))  # the header had trailing empties
        elif not any(c.strip() for c in cells):
            return None
        else:
            count = f"{len(cells)} value" + ("" if len(cells) == 1 else "s")
            reason = f"has {count} but the file has {width} columns"
            if len(cells) > width:
                sign = _DELIMITER_NAMES.get(plan.delimiter, "separator")
                reason += f" (a value with a {sign} in it needs quotes around it)"
            if end > line:
                reason += f" (a quote may be missing: the row runs on to line {end})"
            raise _RowError(reason)
    if end > line:
        _refuse_runaway_quote(cells, plan, line, end)
    aside: list[RejectedRow] = []  # notes of this row, kept only if the row goes in
    custom: dict[str, str] = {}
    if plan.pick is not None:
        cells.append("")  # what a field without a column reads
        values = [c.strip() for c in plan.pick(cells)]
        joined = "".join(values)
        if "=" in joined or "'" in joined:
            values = [_unwrap(v) if v[:1] in _PROTECTED else v for v in values]
    else:
        values = _values_of_several(cells, plan, custom)
    for i, heading in plan.custom:
        value = cells[i].strip()
        if value:
            custom[heading] = _unwrap(value) if value[0] in _PROTECTED else value
    if not custom and not any(values):
        return None
    first, last, full, email, phone, company, row_source, score, priority = values

    if full and not (first or last):
        first, last = split_name(full)
    elif full:  # first and last name given as well: keep the whole name too
        custom.setdefault(_heading_of(plan, plan.columns["name"][0]), full)
    if email and (email[-1] == ">" or email[:7].lower() == "mailto:"):
        email = _plain_email(email)
    if email and len(email) <= 7 and email.casefold() in _PLACEHOLDERS:
        email = ""
    if phone and len(phone) <= 7 and phone.casefold() in _PLACEHOLDERS:
        phone = ""
    if not (email or phone):
        raise _RowError("no email or phone")
    if len(row_source) > _MAX_SOURCE or len(company) > _MAX_COMPANY:
        row_source, company = _shorten(row_source, company, plan, custom, line, aside)
    row_source = row_source or source
    if (
        len(first) > _MAX_FIRST
        or len(last) > _MAX_LAST
        or len(company) > _MAX_COMPANY
        or len(email) > _MAX_EMAIL
        or len(phone) > _MAX_PHONE
        or len(row_source) > _MAX_SOURCE
    ):
        _refuse_long(first, last, company, email, phone, row_source)
    score_value = _whole_or_aside(score, "score", plan, custom, line, aside) if score else 0
    priority_value = (
        _whole_or_aside(priority, "priority", plan, custom, line, aside) if priority else 0
    )
    digits = phone_digits(phone) if phone else ""
    bad = malformed_contact(email, digits, phone)  # as leads.check_new_lead
    if bad is not None or (phone and _ROUNDED.match(phone)):
        email, phone, digits = _usable_contact(email, phone, digits, plan, custom, line, aside)
    if aside:
        notes.extend(aside)
    return (
        first,
        last,
        company,
        email or None,
        phone or None,
        email.lower() or None,
        phone_key_of_digits(digits),
        row_source,
        score_value,
        priority_value,
        _json_object(custom) if custom else "{}",
    )


def _values_of_several(cells: list[str], plan: _Plan, custom: dict[str, str]) -> list[str]:
    """The values of FIELDS when a field has several columns (Phone and Mobile).

    The first usable one is the field's (for an email or a phone, the first
    well-formed one, so "n/a" in Phone does not hide a number in Mobile); the
    others go to ``custom``, each under a name of its own.
    """
    values: dict[str, str] = {}
    for name, i in plan.single:
        value = cells[i].strip()
        values[name] = _unwrap(value) if value[:1] in _PROTECTED else value
    for name, indexes in plan.multiple:
        given = [
            (i, v)
            for i in indexes
            if (v := _unwrap(cells[i].strip())) and v.casefold() not in _PLACEHOLDERS
        ]
        if not given:
            values[name] = ""
            continue
        chosen = next((pair for pair in given if _usable(name, pair[1])), given[0])
        values[name] = chosen[1]
        for i, value in given:
            if (i, value) != chosen:  # a second phone (Phone and Mobile): keep it too
                custom[_free_name(custom, _heading_of(plan, i))] = value
    return [values.get(name, "") for name in FIELDS]


_PLACEHOLDERS = frozenset({"n/a", "na", "-", "--", "—", "none", "null", "unknown", "0", "?"})


def _usable(field_name: str, value: str) -> bool:
    """Whether a value can stand as the lead's email or phone (any other field: yes)."""
    if value.casefold() in _PLACEHOLDERS:
        return False
    if field_name == "email":
        return malformed_contact(_plain_email(value), "", "") is None
    if field_name == "phone":
        digits = phone_digits(value)
        return malformed_contact("", digits, value) is None and not _ROUNDED.match(value)
    return True


def _free_name(custom: dict[str, str], name: str) -> str:
    """``name``, or ``name (2)``, ``name (3)`` … if an extra field already has it."""
    if name not in custom:
        return name
    n = 2
    while f"{name} ({n})" in custom:
        n += 1
    return f"{name} ({n})"


def _unreadable(why: str) -> str:
    """The reader's refusal of a record, in words."""
    if "field larger than field limit" in why:
        return "holds a value too long to read (over 128,000 characters: a quote left open?)"
    return f"cannot be read ({why})"


def _plain_email(value: str) -> str:
    """``mailto:ann@example.com`` and ``Ann Lee <ann@example.com>`` to the address."""
    if value[:7].lower() == "mailto:":
        value = value[7:].strip()
    if value.endswith(">") and "<" in value:
        value = value[value.rindex("<") + 1 : -1].strip()
    return value


def _usable_contact(
    email: str,
    phone: str,
    digits: str,
    plan: _Plan,
    custom: dict[str, str],
    line: int,
    notes: list[RejectedRow],
) -> tuple[str, str, str]:
    """The email and phone the lead keeps when one of them is malformed.

    A lead that can still be reached by the other one goes in, the bad value
    kept as an extra field; a lead with nothing usable is refused, for the
    email's fault first (as :func:`leads.check_new_lead` says it).
    """
    email_bad = bool(email) and malformed_contact(email, "", "") is not None
    phone_bad = bool(phone) and malformed_contact("", digits, phone) is not None
    rounded = bool(phone) and not phone_bad and _ROUNDED.match(phone) is not None
    if rounded:
        phone_reason = (
            f'phone number "{phone}" was rounded by a spreadsheet (format the column as '
            "text before saving the file)"
        )
    else:
        phone_reason = INVALID_CONTACT["phone"].format(phone)
    keep_email = "" if email_bad else email
    keep_phone = "" if phone_bad or rounded else phone
    email_reason = INVALID_CONTACT["email"].format(email)
    if not (keep_email or keep_phone):
        raise _RowError(email_reason if email_bad else phone_reason)
    if email_bad:
        _keep_aside(email, "email", email_reason, plan, custom, line, notes)
    if keep_phone != phone:
        _keep_aside(phone, "phone", phone_reason, plan, custom, line, notes)
        digits = ""
    return keep_email, keep_phone, digits


def _shorten(
    source: str,
    company: str,
    plan: _Plan,
    custom: dict[str, str],
    line: int,
    notes: list[RejectedRow],
) -> tuple[str, str]:
    """A source or company too long for its column: cut, with the whole text kept aside."""
    for name, value, limit in (
        ("source", source, _MAX_SOURCE),
        ("company", company, _MAX_COMPANY),
    ):
        if len(value) > limit and name in plan.columns:
            reason = f"{name} is longer than {limit} characters"
            _keep_aside(value, name, reason, plan, custom, line, notes)
    return source[:_MAX_SOURCE], company[:_MAX_COMPANY]


def _whole_or_aside(
    text: str, label: str, plan: _Plan, custom: dict[str, str], line: int, notes: list[RejectedRow]
) -> int:
    """A whole number, or 0 with the text kept as an extra field (and a note)."""
    try:
        return _whole(text, label)
    except _RowError as exc:
        _keep_aside(text, label, f'{exc.reason} ("{text}")', plan, custom, line, notes)
        return 0


def _keep_aside(
    value: str,
    field_name: str,
    reason: str,
    plan: _Plan,
    custom: dict[str, str],
    line: int,
    notes: list[RejectedRow],
) -> None:
    heading = _free_name(custom, _heading_of(plan, plan.columns[field_name][0]))
    # First among the extra fields, so the rep sees it even when a file has many.
    others = list(custom.items())
    custom.clear()
    custom[heading] = value
    custom.update(others)
    notes.append(RejectedRow(line, f'{reason}: kept as the extra field "{heading}"'))


def _refuse_runaway_quote(cells: list[str], plan: _Plan, line: int, end: int) -> None:
    """Refuse a row whose quoted value ran on over what look like rows of their own.

    A quote that is opened and never closed makes the reader take every line
    after it, up to the next quote, as one value: the rows in between would
    vanish into it without a word.
    """
    if plan.width < 2:
        return
    for cell in cells:
        if "\n" not in cell and "\r" not in cell:
            continue
        for piece in cell.splitlines()[1:]:
            # A row of its own: as many separators as the file has, and a way to
            # reach someone (an email or a phone number), which a note's line lacks.
            if piece.count(plan.delimiter) >= plan.width - 1 and _CONTACT_LIKE.search(piece):
                raise _RowError(
                    f"a quote is not closed: lines {line}-{end} were read as one row "
                    "(close the quote and import the file again)"
                )


_TEXT_ORDER = ("first_name", "last_name", "company", "email", "phone", "source")
_MAX_FIRST, _MAX_LAST, _MAX_COMPANY, _MAX_EMAIL, _MAX_PHONE, _MAX_SOURCE = (
    MAX_LENGTH[name] for name in _TEXT_ORDER
)


def _refuse_long(*values: str) -> None:
    """Raise the _RowError for the first value longer than its column (as _TEXT_ORDER)."""
    for value, name in zip(values, _TEXT_ORDER, strict=True):
        if len(value) > MAX_LENGTH[name]:
            label = name.replace("_", " ")
            raise _RowError(f"{label} is longer than {MAX_LENGTH[name]} characters")


def _json_object(values: dict[str, str]) -> str:
    """``json.dumps(values)`` for a dict of strings, the same text at a third of the cost."""
    encode = encode_basestring_ascii
    return "{" + ", ".join([encode(k) + ": " + encode(v) for k, v in values.items()]) + "}"


def _heading_of(plan: _Plan, index: int) -> str:
    return plan.described[index][0]


def _whole(text: str, label: str) -> int:
    """A whole number; "85.0" (as some spreadsheets write 85) counts as one."""
    if not text:
        return 0
    try:
        number = int(text)
    except ValueError:
        try:
            exact = Decimal(text)
        except InvalidOperation:
            raise _RowError(f"{label} must be a whole number") from None
        if not exact.is_finite() or exact != exact.to_integral_value():
            raise _RowError(f"{label} must be a whole number") from None
        number = int(exact)
    if not _INT_RANGE[0] <= number <= _INT_RANGE[1]:
        raise _RowError(f"{label} is too large")
    return number


_NAME_GAP = re.compile(r"\s+")


def split_name(full: str) -> tuple[str, str]:
    """``"Jane van der Berg"`` -> (Jane, van der Berg); ``"Doe, Jane"`` -> (Jane, Doe)."""
    if "," in full:
        last, _, first = full.partition(",")
        return _NAME_GAP.sub(" ", first).strip(), _NAME_GAP.sub(" ", last).strip()
    first, _, last = _NAME_GAP.sub(" ", full).strip().partition(" ")
    return first, last


__all__ = [
    "BATCH_SIZE",
    "BATCH_TARGET_S",
    "FIRST_BATCH_SIZE",
    "MIN_BATCH_SIZE",
    "FIELDS",
    "ColumnPreview",
    "ImportPreview",
    "ImportSummary",
    "RejectedRow",
    "field_for",
    "import_csv",
    "import_rows",
    "next_batch_size",
    "normalise",
    "preview_file",
    "preview_rows",
    "split_name",
]
