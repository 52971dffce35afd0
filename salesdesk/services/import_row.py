"""One record of an import file to a checked lead's values, the hot loop of an import.

:mod:`salesdesk.services.importing` reads a file, plans its columns (a
:class:`Plan`: which cells hold which field) and batches the rows; this module
turns each record into the values :func:`leads.write_lead_values` stores,
or refuses it with a reason a manager reads (:class:`RowError`). It runs once
per row of a file of perhaps a million, so it is written for speed: cells are
picked by precomputed indexes, and the rarer checks (a value a spreadsheet
protected, a quote left open, a malformed contact) run only when a value
needs them.

The rules for a lead (an email or a phone, a well-formed email) are those of
:func:`leads.check_new_lead`, taken on values already stripped. A lead that
can still be reached is not refused for one bad value: the value is kept as
an extra field under its column's heading and a note says so.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from json.encoder import encode_basestring_ascii

from sqlalchemy import String

from salesdesk.models import Lead
from salesdesk.services.csv_file import DELIMITER_NAMES, UNREADABLE
from salesdesk.services.import_headings import FIELDS
from salesdesk.services.leads import (
    INVALID_CONTACT,
    LeadValues,
    malformed_contact,
    phone_digits,
    phone_key_of_digits,
)

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


@dataclass
class Plan:
    """Where each field's cells are in a record (built by ``importing``'s column planning)."""

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


class RowError(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def unwrap(cell: str) -> str:
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
_FORMULA_SIGNS = "=+-@\t\r"
_PROTECTED = "='"  # the first characters unwrap may change
# A phone number a spreadsheet rounded into scientific notation (7.7009E+09).
_ROUNDED = re.compile(r"^[+-]?\d+(?:[.,]\d+)?[eE]\+?\d+$")


def to_row(
    cells: list[str], plan: Plan, source: str, line: int, end: int, notes: list[RejectedRow]
) -> LeadValues | None:
    """One record to a checked lead's values, None for a blank row, or RowError(reason).

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
            raise RowError(_unreadable(cells[1]))
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
                sign = DELIMITER_NAMES.get(plan.delimiter, "separator")
                reason += f" (a value with a {sign} in it needs quotes around it)"
            if end > line:
                reason += f" (a quote may be missing: the row runs on to line {end})"
            raise RowError(reason)
    if end > line:
        _refuse_runaway_quote(cells, plan, line, end)
    aside: list[RejectedRow] = []  # notes of this row, kept only if the row goes in
    custom: dict[str, str] = {}
    if plan.pick is not None:
        cells.append("")  # what a field without a column reads
        values = [c.strip() for c in plan.pick(cells)]
        joined = "".join(values)
        if "=" in joined or "'" in joined:
            values = [unwrap(v) if v[:1] in _PROTECTED else v for v in values]
    else:
        values = _values_of_several(cells, plan, custom)
    for i, heading in plan.custom:
        value = cells[i].strip()
        if value:
            custom[heading] = unwrap(value) if value[0] in _PROTECTED else value
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
        raise RowError("no email or phone")
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


def _values_of_several(cells: list[str], plan: Plan, custom: dict[str, str]) -> list[str]:
    """The values of FIELDS when a field has several columns (Phone and Mobile).

    The first usable one is the field's (for an email or a phone, the first
    well-formed one, so "n/a" in Phone does not hide a number in Mobile); the
    others go to ``custom``, each under a name of its own.
    """
    values: dict[str, str] = {}
    for name, i in plan.single:
        value = cells[i].strip()
        values[name] = unwrap(value) if value[:1] in _PROTECTED else value
    for name, indexes in plan.multiple:
        given = [
            (i, v)
            for i in indexes
            if (v := unwrap(cells[i].strip())) and v.casefold() not in _PLACEHOLDERS
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
    plan: Plan,
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
        raise RowError(email_reason if email_bad else phone_reason)
    if email_bad:
        _keep_aside(email, "email", email_reason, plan, custom, line, notes)
    if keep_phone != phone:
        _keep_aside(phone, "phone", phone_reason, plan, custom, line, notes)
        digits = ""
    return keep_email, keep_phone, digits


def _shorten(
    source: str,
    company: str,
    plan: Plan,
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
    text: str, label: str, plan: Plan, custom: dict[str, str], line: int, notes: list[RejectedRow]
) -> int:
    """A whole number, or 0 with the text kept as an extra field (and a note)."""
    try:
        return _whole(text, label)
    except RowError as exc:
        _keep_aside(text, label, f'{exc.reason} ("{text}")', plan, custom, line, notes)
        return 0


def _keep_aside(
    value: str,
    field_name: str,
    reason: str,
    plan: Plan,
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


def _refuse_runaway_quote(cells: list[str], plan: Plan, line: int, end: int) -> None:
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
                raise RowError(
                    f"a quote is not closed: lines {line}-{end} were read as one row "
                    "(close the quote and import the file again)"
                )


_TEXT_ORDER = ("first_name", "last_name", "company", "email", "phone", "source")
_MAX_FIRST, _MAX_LAST, _MAX_COMPANY, _MAX_EMAIL, _MAX_PHONE, _MAX_SOURCE = (
    MAX_LENGTH[name] for name in _TEXT_ORDER
)


def _refuse_long(*values: str) -> None:
    """Raise the RowError for the first value longer than its column (as _TEXT_ORDER)."""
    for value, name in zip(values, _TEXT_ORDER, strict=True):
        if len(value) > MAX_LENGTH[name]:
            label = name.replace("_", " ")
            raise RowError(f"{label} is longer than {MAX_LENGTH[name]} characters")


def _json_object(values: dict[str, str]) -> str:
    """``json.dumps(values)`` for a dict of strings, the same text at a third of the cost."""
    encode = encode_basestring_ascii
    return "{" + ", ".join([encode(k) + ": " + encode(v) for k, v in values.items()]) + "}"


def _heading_of(plan: Plan, index: int) -> str:
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
            raise RowError(f"{label} must be a whole number") from None
        if not exact.is_finite() or exact != exact.to_integral_value():
            raise RowError(f"{label} must be a whole number") from None
        number = int(exact)
    if not _INT_RANGE[0] <= number <= _INT_RANGE[1]:
        raise RowError(f"{label} is too large")
    return number


_NAME_GAP = re.compile(r"\s+")


def split_name(full: str) -> tuple[str, str]:
    """``"Jane van der Berg"`` -> (Jane, van der Berg); ``"Doe, Jane"`` -> (Jane, Doe)."""
    if "," in full:
        last, _, first = full.partition(",")
        return _NAME_GAP.sub(" ", first).strip(), _NAME_GAP.sub(" ", last).strip()
    first, _, last = _NAME_GAP.sub(" ", full).strip().partition(" ")
    return first, last


__all__ = ["MAX_LENGTH", "Plan", "RejectedRow", "RowError", "split_name", "to_row", "unwrap"]
