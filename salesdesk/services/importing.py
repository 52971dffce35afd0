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
:func:`leads.write_lead_values`, the writer behind :func:`leads.insert_leads`,
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

Turning one record into a lead's values is :mod:`salesdesk.services.import_row`;
writing a batch is :mod:`salesdesk.services.import_batches`.

Speed (figures in ``benchmarks/README.md``): a row goes from its cells to the
stored values in one pass (:func:`import_row.to_row`), each batch's duplicate check is
one query answered from the ``email_key`` / ``phone_key`` indexes alone, and
:func:`leads.write_lead_values` writes with COPY (PostgreSQL) or one raw
executemany of 62 rows to an INSERT (SQLite), in a batch whose SQLite page
cache is raised for its own transaction. Reading and writing run one after
the other on purpose. A storing thread was measured no faster, on SQLite
even with a whole batch to a statement: each short statement of a batch
hands Python's lock to the reading thread for up to a switch interval. On
PostgreSQL, reading the next batch on a second thread while the server
stored one was no faster either. A reading process (session 9) saved less
than it lost handing the checked rows over: its queue thread waits for the
reader's own Python lock for every chunk it sends.
"""

from __future__ import annotations

import operator
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from salesdesk.db import Database
from salesdesk.services import import_batches
from salesdesk.services.csv_file import read_table
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
from salesdesk.services.import_row import (
    MAX_LENGTH,
    Plan,
    RejectedRow,
    RowError,
    split_name,
    to_row,
    unwrap,
)
from salesdesk.services.leads import (
    EMAIL_RE,
    LeadValues,
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
    positions = _check_positions(columns or {})
    source = _check_source(source)
    pool_id = import_batches.find_pool(db, actor, pool)
    parsed = read_table(data, is_heading=_is_heading)
    plan = _plan_columns(
        parsed.header, mapping or {}, source_given=source is not None, positions=positions
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
            row = to_row(cells, plan, defaults, line, end, kept_aside)
        except RowError as exc:
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
            value = unwrap(cell.strip())
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
    wanted: dict[str, str] = {}
    for column, target in mapping.items():
        name = _field_named(target, column)
        if not normalise(column):
            raise ValidationError(f'"{column}" is not a column name.', field="mapping")
        wanted[normalise(column)] = name
    return wanted


def _check_positions(columns: Mapping[int, str]) -> dict[int, str]:
    """Column index -> field (the dialog's choices), refusing fields that do not exist."""
    return {i: _field_named(target, f"column {i + 1}") for i, target in columns.items()}


_ACCEPTED = {normalise(name): name for name in (*FIELDS, CUSTOM, IGNORE)} | {"fullname": "name"}


def _field_named(target: str, column: str) -> str:
    name = _ACCEPTED.get(normalise(target))
    if name is None:
        raise ValidationError(
            f'Cannot map "{column}" to "{target}": the fields are '
            f"{', '.join((*FIELDS, CUSTOM, IGNORE))}.",
            field="mapping",
        )
    return name


def _check_source(source: str | None) -> str | None:
    if source is None:
        return None
    source = source.strip()
    if len(source) > MAX_LENGTH["source"]:
        raise ValidationError(
            f"A source is at most {MAX_LENGTH['source']} characters.", field="source"
        )
    return source


def _plan_columns(
    header: list[str],
    mapping: Mapping[str, str],
    source_given: bool,
    need_contact: bool = True,
    positions: Mapping[int, str] | None = None,
) -> Plan:
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
    plan = Plan(width=len(header), named_width=named[-1] + 1 if named else 0)
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


def _missing_contact(plan: Plan, header: list[str]) -> str | None:
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


__all__ = [
    "BATCH_SIZE",
    "BATCH_TARGET_S",
    "FIRST_BATCH_SIZE",
    "MIN_BATCH_SIZE",
    "FIELDS",
    "MAX_LENGTH",
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
