"""Reading a CSV file, whatever spreadsheet or CRM wrote it (for the import).

What the reader copes with, and how:

* **Encoding**: UTF-8 with or without a BOM, else Windows-1252 (what Excel
  writes on Windows), and UTF-16 when the file starts with its BOM (Excel's
  "Unicode text"). A file with NUL bytes, or many control characters, is not
  a CSV, and says so.
* **Delimiter**: comma, semicolon (European Excel) or tab, found by
  :class:`csv.Sniffer` on a sample and checked against the header line; when
  the sniffer cannot tell, the candidate that occurs most often in the header
  line (outside quotes) wins.
* **Line numbers** are physical lines of the file (the header is line 1), and
  a record whose quoted field holds a newline is reported at the line where it
  starts — the line a person finds in a text editor.
* **Where the column names are**: Excel's ``sep=;`` first line names the
  delimiter and is skipped; a title or a blank line above the column names
  ("Trade show leads — March") is skipped too, when a later line among the
  first few holds names the import knows and the first does not.
* **A file of mixed encodings** (UTF-8 with a few lines pasted in from a
  Windows-1252 file) is read line by line, each line in the encoding it is in,
  and says how many lines were not UTF-8.

A file that cannot be read at all raises :class:`ImportFileError` with a
sentence a manager understands ("This file is an Excel workbook (.xlsx) … save
it as CSV and import that").
"""

from __future__ import annotations

import codecs
import csv
import io
import itertools
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from salesdesk.services.errors import ImportFileError

DELIMITERS = (",", ";", "\t")
DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab"}  # as a person says them
_SEP_LINE = re.compile(r'\A"?sep=([,;\t|])"?[ \t]*(?:\r\n|\n|\r)', re.IGNORECASE)
SAMPLE_CHARS = 32 * 1024


@dataclass
class ParsedFile:
    """A decoded CSV: its header, and an iterator of (first line, cells, last line)."""

    header: list[str]
    records: Iterator[tuple[int, list[str], int]]
    encoding: str
    delimiter: str
    line_count: int
    header_line: int = 1  # the line the column names are on


_SIGNATURES = (
    (b"PK\x03\x04", "an Excel workbook (.xlsx) or another zip archive"),
    (b"\xd0\xcf\x11\xe0", "an old Excel workbook (.xls)"),
    (b"%PDF", "a PDF document"),
)


HEADER_SEARCH = 10  # records looked at for the line of column names
HEADER_LINES = 5  # lines looked at for the separator (a title may come first)


def read_table(data: bytes, is_heading: Callable[[str], bool] | None = None) -> ParsedFile:
    """Decode, find the delimiter and the line of column names; rows are read lazily.

    ``is_heading`` says whether a cell is a column name the import knows; with
    it, a title above the column names is skipped (see the module's notes).
    """
    text, encoding = decode(data)
    declared = _SEP_LINE.match(text)
    if declared:  # Excel's "sep=;": the delimiter, on a line of its own
        delimiter = declared.group(1)
        line = declared.group(0).rstrip("\r\n")
        text = " " * len(line) + text[len(line) :]  # a blank line: the numbers stay
    else:
        delimiter = detect_delimiter(text)
    reader = csv.reader(
        io.StringIO(text, newline=""),
        delimiter=delimiter,
        quotechar='"',
        doublequote=True,
        skipinitialspace=True,
        strict=False,
    )
    records = _records(reader)
    ahead = [r for r in itertools.islice(records, HEADER_SEARCH) if any(c.strip() for c in r[1])]
    if not ahead:  # only delimiters and quotes
        raise ImportFileError("The file is empty.")
    chosen = 0
    first = [c for c in ahead[0][1] if c.strip()]
    if is_heading is not None and len(first) <= 1 and not any(map(is_heading, first)):
        # A title on a line of its own ("Trade show leads - March"): the column
        # names are the first line after it with two names the import knows.
        chosen = next(
            (i for i, (_, cells, _) in enumerate(ahead) if sum(map(is_heading, cells)) >= 2), 0
        )
    header_line, cells, _end = ahead[chosen]
    header = [c.strip() for c in cells]
    # The records after the column names: those read ahead (blank ones included
    # again, so that a blank row is still skipped where it is), then the rest.
    rest = itertools.chain(ahead[chosen + 1 :], records)
    # Lines end in \r\n, \n, or \r alone (Excel for Mac's "CSV (Macintosh)").
    breaks = text.count("\n") + text.count("\r") - text.count("\r\n")
    line_count = breaks + (0 if text.endswith(("\n", "\r")) else 1)
    return ParsedFile(header, rest, encoding, delimiter, line_count, header_line)


def decode(data: bytes) -> tuple[str, str]:
    """The text of a file and the encoding it was read with, or ImportFileError."""
    if not data or data.isspace():
        raise ImportFileError("The file is empty.")
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            text, encoding = data.decode("utf-16"), "UTF-16"
        except UnicodeDecodeError:
            raise ImportFileError(_not_csv("it is not valid UTF-16 text")) from None
    else:
        for signature, what in _SIGNATURES:
            if data.startswith(signature):
                raise ImportFileError(
                    f"This file is {what}, not a CSV: save it as CSV and import that."
                )
        if b"\x00" in data:
            raise ImportFileError(_not_csv("it holds binary data"))
        try:
            text, encoding = data.decode("utf-8-sig"), "UTF-8"
        except UnicodeDecodeError:
            mixed = _mostly_utf8(data)
            if mixed is not None:
                text, encoding = mixed
            else:
                try:
                    text, encoding = data.decode("cp1252"), "Windows-1252"
                except UnicodeDecodeError:
                    raise ImportFileError(
                        _not_csv("it is neither UTF-8 nor Windows-1252 text")
                    ) from None
            # A UTF-8 BOM on a file that is not UTF-8 after all.
            text = text.removeprefix("ï»¿")
    text = text.removeprefix("\ufeff")
    if not text or text.isspace():
        raise ImportFileError("The file is empty.")
    sample = text[:SAMPLE_CHARS]
    controls = sum(1 for ch in sample if ch < " " and ch not in "\t\n\r\f")
    if controls > max(2, len(sample) // 100):
        raise ImportFileError(_not_csv("it holds binary data"))
    if "\x00" in text:
        raise ImportFileError(_not_csv("it holds binary data"))
    head = sample[:1024].lstrip().lower()
    if head.startswith(("<!doctype html", "<html", "<?xml")):
        raise ImportFileError(_not_csv("it is a web page or XML"))
    return text, encoding


def _mostly_utf8(data: bytes) -> tuple[str, str] | None:
    """A file of UTF-8 and Windows-1252 lines (pasted in from elsewhere), line by line.

    A line with accents that reads as UTF-8 is UTF-8 (Windows-1252 text almost
    never does); the others are Windows-1252. None when no line holds UTF-8
    accents: the file is plain Windows-1252.
    """
    body = data.removeprefix(codecs.BOM_UTF8)
    try:
        # First, the whole file in two C calls: each byte that is not part of a
        # UTF-8 character becomes a lone surrogate, so encoding to ASCII fails
        # only where some character is real non-ASCII UTF-8 (é, €, a no-break
        # space). Without one, no line can count as UTF-8 below: plain
        # Windows-1252. With one, the lines decide. Line by line, a Windows-1252
        # file of 100,000 rows cost a third of a second in exceptions.
        body.decode("utf-8", "surrogateescape").encode("ascii", "surrogateescape")
        return None
    except UnicodeEncodeError:
        pass
    lines: list[str] = []
    utf8 = other = 0
    for raw in body.split(b"\n"):
        try:
            lines.append(raw.decode("utf-8"))
            utf8 += not raw.isascii()
        except UnicodeDecodeError:
            lines.append(raw.decode("cp1252", errors="replace"))
            other += 1
    if not utf8:
        return None
    return "\n".join(lines), f"UTF-8 ({other} line{'' if other == 1 else 's'} in Windows-1252)"


def _not_csv(why: str) -> str:
    return f"This file is not a CSV: {why}."


def detect_delimiter(text: str) -> str:
    """Comma, semicolon or tab: the sniffer's guess if the header agrees, else a count."""
    sample = text[:SAMPLE_CHARS]
    if len(text) > SAMPLE_CHARS and "\n" in sample:
        sample = sample[: sample.rindex("\n") + 1]
    # The line of column names: the first with the most separators among the
    # first few (a title above it has none, or a comma or two).
    first_lines = [ln for ln in sample.splitlines() if ln.strip()][:HEADER_LINES]
    header_line = max(
        first_lines or [""],
        key=lambda ln: max(_count_outside_quotes(ln, d) for d in DELIMITERS),
    )
    counts = {d: _count_outside_quotes(header_line, d) for d in DELIMITERS}
    try:
        sniffed: str | None = csv.Sniffer().sniff(sample, delimiters="".join(DELIMITERS)).delimiter
    except csv.Error:
        sniffed = None
    most = max(counts.values())
    if most == 0:
        return ","  # one column
    if sniffed in counts and counts[sniffed] == most:
        return sniffed  # the sniffer looked at the data too: it breaks a tie in the header
    return next(d for d in DELIMITERS if counts[d] == most)


def _count_outside_quotes(line: str, delimiter: str) -> int:
    count, quoted = 0, False
    for ch in line:
        if ch == '"':
            quoted = not quoted
        elif ch == delimiter and not quoted:
            count += 1
    return count


def _records(reader: Any) -> Iterator[tuple[int, list[str], int]]:
    """Each record with the line it starts on and the line it ends on.

    ``csv.reader.line_num`` counts the lines read so far, so a record starts
    one line after the previous one ended. A record the reader cannot parse
    (a field past the size limit) comes out as a one-cell marker.
    """
    end = 0
    while True:
        start = end + 1
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            end = reader.line_num
            yield start, [UNREADABLE, str(exc)], end
            continue
        end = reader.line_num
        yield start, cells, end


UNREADABLE = "\x00unreadable"  # NUL never survives decode(), so no cell can equal this
