"""CSV import: whatever a spreadsheet writes, on both engines.

Files are built in the tests as bytes, in the encoding and with the delimiter
a real exporter uses, so each test shows the input it is about.
"""

from __future__ import annotations

import codecs
from datetime import datetime

import pytest
from sqlalchemy import delete, func, select

from salesdesk.models import Lead, LeadEvent, Pool, Routing
from salesdesk.services import csv_file, import_row, importing, leads
from salesdesk.services.errors import (
    ImportFileError,
    NotAllowedError,
    NotFoundError,
    ValidationError,
)
from salesdesk.services.importing import RejectedRow


def csv_bytes(*lines: str, encoding: str = "utf-8", newline: str = "\r\n") -> bytes:
    return newline.join(lines).encode(encoding) + newline.encode(encoding)


def stored(db, order_by=Lead.id):
    """Every lead as a dict of the fields an import fills, in insertion order."""
    with db.read() as session:
        return [
            {
                "first_name": lead.first_name,
                "last_name": lead.last_name,
                "email": lead.email,
                "phone": lead.phone,
                "company": lead.company,
                "source": lead.source,
                "score": lead.score,
                "priority": lead.priority,
                "custom": lead.custom,
                "status": lead.status,
                "pool_id": lead.pool_id,
            }
            for lead in session.scalars(select(Lead).order_by(order_by))
        ]


def count_leads(db) -> int:
    with db.read() as session:
        return session.scalar(select(func.count()).select_from(Lead))


@pytest.fixture
def pool(floor):
    return floor.pool("Inbound")


def run(db, data, pool="Inbound", **kwargs):
    kwargs.setdefault("default_source", "leads")
    return importing.import_rows(db, None, data, pool, **kwargs)


# --- columns ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("heading", "field"),
    [
        ("First Name", "first_name"),
        ("first_name", "first_name"),
        ("FirstName", "first_name"),
        ("Given name", "first_name"),
        ("Last Name", "last_name"),
        ("Surname", "last_name"),
        ("Name", "name"),
        ("Full Name", "name"),
        ("Email", "email"),
        ("E-Mail", "email"),
        ("Email Address", "email"),
        ("E-mail 1", "email"),
        ("Phone Number", "phone"),
        ("Mobile", "phone"),
        ("Tel", "phone"),
        ("Tel.", "phone"),
        ("Company", "company"),
        ("Organisation", "company"),
        ("Organization", "company"),
        ("Lead Source", "source"),
        ("Score", "score"),
        ("Priority", "priority"),
        ("Favourite colour", None),
        # European exports
        ("Vorname", "first_name"),
        ("Nachname", "last_name"),
        ("Firma", "company"),
        ("E-Mail-Adresse", "email"),
        ("Telefon", "phone"),
        ("Prénom", "first_name"),
        ("Nom", "last_name"),
        ("Société", "company"),
        ("Téléphone", "phone"),
        ("Courriel", "email"),
        ("Nombre", "first_name"),
        ("Apellidos", "last_name"),
        ("Empresa", "company"),
        ("Correo electrónico", "email"),
        ("Teléfono", "phone"),
        ("Achternaam", "last_name"),
        ("Bedrijf", "company"),
        # CRM exports
        ("Mobile Phone Number", "phone"),  # HubSpot
        ("Company / Account", "company"),  # Salesforce
        ("Direct Dial", "phone"),
    ],
)
def test_headings_are_matched_by_name_whatever_the_exporter(heading, field):
    assert importing.field_for(heading) == field


def test_the_preview_shows_every_column_where_it_goes_and_its_first_values():
    data = csv_bytes(
        "Given name,Surname,E-Mail Address,Tel,Notes,",
        "Ann,Lee,ann@example.com,1,x,",
        ',Kim,kim@example.com,="0770",,z',
        "Bo,Ng,bo@example.com,3,,",
        "Cy,Ox,cy@example.com,4,,",
    )
    preview = importing.preview_rows(data, {"Notes": "ignore"})
    assert [(c.heading, c.field, c.samples) for c in preview.columns] == [
        ("Given name", "first_name", ("Ann", "Bo", "Cy")),
        ("Surname", "last_name", ("Lee", "Kim", "Ng")),
        ("E-Mail Address", "email", ("ann@example.com", "kim@example.com", "bo@example.com")),
        ("Tel", "phone", ("1", "0770", "3")),
        ("Notes", "ignore", ("x",)),
        ("column 6", "custom", ("z",)),
    ]
    assert (preview.lines, preview.encoding, preview.delimiter, preview.problem) == (
        4,
        "UTF-8",
        ",",
        None,
    )


def test_the_preview_of_a_file_without_contact_columns_says_what_to_map(db, pool):
    data = csv_bytes("Name,Mobile number here,", "Ann Lee,07700 900001,x")
    preview = importing.preview_rows(data)
    assert [c.field for c in preview.columns] == ["name", "custom", "custom"]
    assert preview.problem == (
        "The file has no email or phone column (its columns: Name, Mobile number here); "
        "map one to email or phone."
    )
    # The manager maps the column in the dialog; an unnamed column is "column N".
    mapping = {"Mobile number here": "phone", "column 3": "ignore"}
    assert importing.preview_rows(data, mapping).problem is None
    summary = run(db, data, mapping=mapping)
    assert summary.imported == 1
    assert stored(db)[0]["phone"] == "07700 900001" and stored(db)[0]["custom"] == {}


def test_an_import_fills_every_field_and_keeps_unknown_columns(db, pool):
    data = csv_bytes(
        "Given name,Surname,E-Mail,Phone Number,Organisation,Source,Score,Priority,Shoe size",
        "Ada,Lovelace,Ada@Example.com,+44 20 7946 0018,Analytical Ltd,Fair,85,2,38",
    )
    summary = run(db, data)
    assert summary == importing.ImportSummary(
        1, (), (), encoding="UTF-8", delimiter=",", lines=1, stopped_at=None
    )
    [lead] = stored(db)
    assert lead == {
        "first_name": "Ada",
        "last_name": "Lovelace",
        "email": "Ada@Example.com",
        "phone": "+44 20 7946 0018",
        "company": "Analytical Ltd",
        "source": "Fair",
        "score": 85,
        "priority": 2,
        "custom": {"Shoe size": "38"},
        "status": "pool",
        "pool_id": pool.id,
    }


def test_a_batch_of_many_rows_stores_each_lead_whole_with_its_own_event(db, pool, clock):
    """On SQLite a batch's leads go in 62 to a statement: 400 rows make full
    statements and a shorter one, and no value may slip to a neighbour's row
    across those seams. Each lead's event is made in SQL from its id, and
    must name that lead. The batch's one timestamp is written as text made
    once for the driver: it must come back to the microsecond."""
    clock.now = datetime(2026, 3, 9, 14, 5, 7, 123456)
    rows = 400
    data = csv_bytes(
        "First Name,Last Name,Company,Email,Phone,Source,Score,Priority,Notes",
        *(
            f"F{n},L{n},C{n},lead{n}@example.com,+44 7700 {n:06d},S{n},{n},{n % 7},note {n}"
            for n in range(rows)
        ),
    )
    assert run(db, data).imported == rows
    assert [tuple(r.values()) for r in stored(db)] == [
        (
            f"F{n}",
            f"L{n}",
            f"lead{n}@example.com",
            f"+44 7700 {n:06d}",
            f"C{n}",
            f"S{n}",
            n,
            n % 7,
            {"Notes": f"note {n}"},
            "pool",
            pool.id,
        )
        for n in range(rows)
    ]
    with db.read() as session:
        events = session.execute(
            select(Lead.email, LeadEvent.kind, LeadEvent.to_status, Lead.created_at, LeadEvent.at)
            .join(LeadEvent, LeadEvent.lead_id == Lead.id)
            .order_by(Lead.id)
        ).all()
    assert events == [
        (f"lead{n}@example.com", "created", "pool", clock.now, clock.now) for n in range(rows)
    ]


def test_a_single_name_column_is_split_into_first_and_last(db, pool):
    data = csv_bytes(
        "Full Name,Email",
        "Jane van der Berg,jane@example.com",
        '"Doe, John",john@example.com',
        "Cher,cher@example.com",
    )
    assert run(db, data).imported == 3
    assert [(r["first_name"], r["last_name"]) for r in stored(db)] == [
        ("Jane", "van der Berg"),
        ("John", "Doe"),
        ("Cher", ""),
    ]


def test_phone_and_mobile_both_kept_and_excel_leading_zero_trick_undone(db, pool):
    data = csv_bytes(
        "Email,Phone,Mobile",
        'a@example.com,="01632 960001",07700 900001',
        "b@example.com,,07700 900002",
    )
    assert run(db, data).imported == 2
    first, second = stored(db)
    assert (first["phone"], first["custom"]) == ("01632 960001", {"Mobile": "07700 900001"})
    assert (second["phone"], second["custom"]) == ("07700 900002", {})


# --- encodings and delimiters ------------------------------------------------------


def test_utf8_with_a_bom_reads_the_first_heading(db, pool):
    data = codecs.BOM_UTF8 + csv_bytes("Email,First Name", "zoe@example.com,Zoë")
    summary = run(db, data)
    assert (summary.imported, summary.encoding) == (1, "UTF-8")
    assert stored(db)[0]["first_name"] == "Zoë"


def test_windows_1252_is_read_when_the_file_is_not_utf8(db, pool):
    data = csv_bytes(
        "Vorname;Nachname;E-Mail;Firma",
        "Jürgen;Müller;jm@example.de;Café Crème – Köln",
        encoding="cp1252",
    )
    summary = run(
        db, data, mapping={"Vorname": "first_name", "Nachname": "last_name", "Firma": "company"}
    )
    assert (summary.imported, summary.encoding, summary.delimiter) == (1, "Windows-1252", ";")
    [lead] = stored(db)
    assert (lead["first_name"], lead["last_name"], lead["company"]) == (
        "Jürgen",
        "Müller",
        "Café Crème – Köln",
    )


def test_excel_unicode_text_is_utf16_with_tabs(db, pool):
    data = codecs.BOM_UTF16_LE + csv_bytes(
        "First Name\tEmail", "Zoë\tzoe@example.com", encoding="utf-16-le"
    )
    summary = run(db, data)
    assert (summary.imported, summary.encoding, summary.delimiter) == (1, "UTF-16", "\t")
    assert stored(db)[0]["first_name"] == "Zoë"


@pytest.mark.parametrize("delimiter", [",", ";", "\t"])
def test_comma_semicolon_and_tab_files(db, pool, delimiter):
    other = ";" if delimiter == "," else ","
    data = csv_bytes(
        delimiter.join(["Name", "Email", "Company"]),
        delimiter.join(["Ann Lee", "ann@example.com", f'"Lee{other} Lee{delimiter} and Co"']),
        delimiter.join(["Bo Yu", "bo@example.com", "Yu Ltd"]),
    )
    summary = run(db, data)
    assert (summary.imported, summary.delimiter) == (2, delimiter)
    assert [r["company"] for r in stored(db)] == [f"Lee{other} Lee{delimiter} and Co", "Yu Ltd"]


def test_delimiter_found_from_the_header_when_the_sniffer_cannot_tell():
    assert csv_file.detect_delimiter("Email;Name\n") == ";"
    assert csv_file.detect_delimiter('"Last, First";Email\nx;y\n') == ";"
    assert csv_file.detect_delimiter("Email\na@example.com\n") == ","


# --- the explicit mapping ------------------------------------------------------------


def test_an_explicit_mapping_overrides_the_synonyms(db, pool):
    data = csv_bytes(
        "Handy,Phone,E-Mail,Notes",
        "0151 1234567,0301 7654321,x@example.com,call after 5",
    )
    summary = run(db, data, mapping={"handy": "Phone", "Notes": "ignore"})
    assert summary.imported == 1
    [lead] = stored(db)
    assert lead["phone"] == "0151 1234567"
    assert lead["custom"] == {"Phone": "0301 7654321"}


# Refusals happen before any write: one engine is enough for them.
ONE_ENGINE = pytest.mark.parametrize("db", ["sqlite"], indirect=True)


@ONE_ENGINE
def test_a_mapping_to_an_unknown_field_is_refused_in_one_line(db, pool):
    data = csv_bytes("Mobile,Email", "1234567,a@example.com")
    with pytest.raises(ValidationError) as refused:
        run(db, data, mapping={"Mobile": "fone"})
    assert refused.value.message.startswith('Cannot map "Mobile" to "fone": the fields are ')
    assert "\n" not in refused.value.message
    with pytest.raises(ValidationError, match='The file has no column "Mobil"'):
        run(db, data, mapping={"Mobil": "phone"})
    assert count_leads(db) == 0


# --- bad rows --------------------------------------------------------------------------


def test_bad_rows_are_reported_by_line_while_good_rows_go_in(db, pool):
    data = csv_bytes(
        "First Name,Email,Phone,Score",  # line 1
        "Good,good@example.com,,10",  # 2
        "Bad,not-an-email,,",  # 3
        '"Two',  # 4: a quoted field with a newline: one record, lines 4-5
        'lines",two@example.com,,7',  # 5
        "Nobody,,,",  # 6
        "Half,half@example.com,,7.5",  # 7
        "Whole,whole@example.com,,8.0",  # 8
        '"Multi',  # 9: a bad record starting here is reported at line 9
        'line",also-bad,,',  # 10
        "Short,short@example.com",  # 11
        "",  # 12: blank, skipped silently
        "Phoney,,12,",  # 13
        f"{'x' * 121},long@example.com,,",  # 14
        "Huge,huge@example.com,,99999999999",  # 15
        "Doe, John,doe@example.com,,1",  # 16: a comma in a name without quotes
    )
    summary = run(db, data)
    assert summary.rejected == (
        RejectedRow(3, 'invalid email "not-an-email"'),
        RejectedRow(6, "no email or phone"),
        RejectedRow(9, 'invalid email "also-bad"'),
        RejectedRow(11, "has 2 values but the file has 4 columns"),
        RejectedRow(13, 'invalid phone number "12"'),
        RejectedRow(14, "first name is longer than 120 characters"),
        RejectedRow(
            16,
            "has 5 values but the file has 4 columns (a value with a comma in it needs quotes "
            "around it)",
        ),
    )
    # A score that is not a whole number does not cost the lead: it goes in,
    # and the value is kept where the manager can see it.
    assert summary.kept_aside == (
        RejectedRow(7, 'score must be a whole number ("7.5"): kept as the extra field "Score"'),
        RejectedRow(15, 'score is too large ("99999999999"): kept as the extra field "Score"'),
    )
    assert (summary.imported, summary.duplicates) == (5, 0)
    assert [(r["first_name"], r["score"], r["custom"]) for r in stored(db)] == [
        ("Good", 10, {}),
        ("Two\r\nlines", 7, {}),
        ("Half", 0, {"Score": "7.5"}),
        ("Whole", 8, {}),
        ("Huge", 0, {"Score": "99999999999"}),
    ]


def test_an_unclosed_quote_is_reported_where_it_starts_and_the_rows_before_go_in(db, pool):
    data = csv_bytes(
        "Name,Email",
        "Ann,ann@example.com",
        '"Bo,bo@example.com',
        "Cy,cy@example.com",
        "Di,di@example.com",
    )
    summary = run(db, data)
    assert summary.imported == 1
    assert summary.rejected == (
        RejectedRow(
            3,
            "has 1 value but the file has 2 columns (a quote may be missing: the row runs on "
            "to line 5)",
        ),
    )


def test_trailing_empty_fields_and_blank_lines_are_not_errors(db, pool):
    data = csv_bytes("Email;Name;;", "a@example.com;A;;", ";;;", "", "b@example.com;B;;;;")
    summary = run(db, data)
    assert (summary.imported, summary.rejected) == (2, ())


def test_a_header_ending_in_a_delimiter_does_not_make_every_row_short(db, pool):
    data = csv_bytes("Email,Name,", "a@example.com,A", "b@example.com,B,", "c@example.com")
    summary = run(db, data)
    assert summary.imported == 2
    assert summary.rejected == (RejectedRow(4, "has 1 value but the file has 3 columns"),)


def test_old_mac_line_endings_count_lines_too(db, pool):
    progress = []
    data = csv_bytes("Email,Name", "a@example.com,A", "bad,B", "c@example.com,C", newline="\r")
    summary = run(db, data, progress=lambda *a: progress.append(a))
    assert (summary.imported, summary.rejected) == (2, (RejectedRow(3, 'invalid email "bad"'),))
    assert progress == [(4, 4)]


def test_columns_chosen_by_position_stay_apart_when_two_have_one_heading(db, pool):
    """The dialog sends its choices by position: "leave out the second Phone"
    must not leave out the first one too."""
    data = csv_bytes(
        "Email,Phone,Phone,Notes,Notes",
        "a@example.com,07700 900001,07700 900002,first,second",
    )
    summary = run(db, data, columns={2: "ignore", 4: "ignore"})
    assert summary.imported == 1
    [lead] = stored(db)
    assert (lead["phone"], lead["custom"]) == ("07700 900001", {"Notes": "first"})
    with pytest.raises(ValidationError, match="The file has no column 6 [(]it has 5[)]"):
        run(db, data, columns={5: "ignore"})


def test_a_salesdesk_export_imports_as_the_leads_it_holds(db, pool):
    """The apostrophe an export puts before a formula sign comes off, and the
    columns of the lead's life on the old floor (Pool, Status, Owner …) are
    left out, unless the manager maps one."""
    headings = "First name,Last name,Company,Email,Phone,Pool,Status,Owner,Source,Score,"
    headings += "Priority,Added,Assigned,Last action,Last contacted,Call back,"
    headings += "Email confirmed,Appointment,Dead,Tags,Website"
    row = "'+Tom,'-Minus,'@home Ltd,tom@example.com,+44 20 7946 0018,Inbound,Current,Bob,"
    row += "Fair,5,1,2026-03-02 09:00,2026-03-02 10:00,,,,,,,,tom.example"
    preview = importing.preview_rows(csv_bytes(headings, row))
    fields = {c.heading: c.field for c in preview.columns}
    assert fields["Pool"] == fields["Owner"] == fields["Assigned"] == fields["Tags"] == "ignore"
    assert (fields["Website"], fields["Source"], fields["Phone"]) == ("custom", "source", "phone")
    run(db, csv_bytes(headings, row))
    [lead] = stored(db)
    assert (lead["first_name"], lead["last_name"], lead["company"]) == (
        "+Tom",
        "-Minus",
        "@home Ltd",
    )
    assert lead["custom"] == {"Website": "tom.example"}
    assert (lead["score"], lead["priority"], lead["status"]) == (5, 1, "pool")


def test_addresses_as_mail_programs_write_them_are_cleaned(db, pool):
    data = csv_bytes(
        "Email,Phone",
        "mailto:ann@example.com,",
        "Bo Ng <bo@example.com>,",
        "cy@example.com,7.7009E+09",  # a phone a spreadsheet rounded
        ",7.7009E+09",
    )
    summary = run(db, data)
    assert [r["email"] for r in stored(db)] == [
        "ann@example.com",
        "bo@example.com",
        "cy@example.com",
    ]
    rounded = (
        'phone number "7.7009E+09" was rounded by a spreadsheet (format the column as text '
        "before saving the file)"
    )
    assert summary.kept_aside == (RejectedRow(4, f'{rounded}: kept as the extra field "Phone"'),)
    assert summary.rejected == (RejectedRow(5, rounded),)
    assert stored(db)[2]["phone"] is None and stored(db)[2]["custom"] == {"Phone": "7.7009E+09"}


def test_a_quote_left_open_is_reported_instead_of_swallowing_the_rows_after_it(db, pool):
    data = csv_bytes(
        "Name,Email,Address",
        "Ann Lee,ann@example.com,1 High St",
        'Kim Ray,kim@example.com,"unterminated',  # 3: the quote is never closed ...
        "Leo Ng,leo@example.com,ok",
        'Mo Poe,mo@example.com,"2 Low St',  # ... so it runs on to the next quote, here
        'Flat 2"',
        'Ed Roe,ed@example.com,"3 Mill Lane',  # a real two-line address
        'Flat 4"',
    )
    summary = run(db, data)
    assert summary.rejected == (
        RejectedRow(
            3,
            "a quote is not closed: lines 3-5 were read as one row (close the quote and "
            "import the file again)",
        ),
        RejectedRow(6, "has 1 value but the file has 3 columns"),
    )
    assert [r["first_name"] for r in stored(db)] == ["Ann", "Ed"]
    assert stored(db)[1]["custom"] == {"Address": "3 Mill Lane\r\nFlat 4"}


def test_excel_sep_line_and_a_title_above_the_column_names(db, pool):
    data = csv_bytes("sep=;", "Email;Name", "ann@example.com;Ann Lee")
    preview = importing.preview_rows(data)
    assert (preview.delimiter, preview.header_line, preview.lines) == (";", 2, 1)
    assert run(db, data).imported == 1

    titled = csv_bytes(
        "Trade show leads - March 2026,,",
        ",,",
        "First Name,Email,Phone",
        "Bo,bo@example.com,",
        "Cy,cy@example.com,",
    )
    preview = importing.preview_rows(titled)
    assert [c.heading for c in preview.columns] == ["First Name", "Email", "Phone"]
    assert (preview.header_line, preview.lines, preview.problem) == (3, 2, None)
    summary = run(db, titled)
    assert (summary.imported, summary.rejected, summary.header_line) == (2, (), 3)


def test_with_two_phone_columns_the_first_usable_number_is_the_leads(db, pool):
    data = csv_bytes(
        "First Name,Email,Phone,Mobile",
        "'+Tom,,n/a,+44 7700 900031",  # a placeholder, then a number
        "Una,,ask reception,+44 7700 900032",  # words, then a number
        "Vic,,+44 7700 900033,+44 7700 900034",  # two numbers: the first, the other kept
    )
    summary = run(db, data)
    assert (summary.imported, summary.rejected, summary.kept_aside) == (3, (), ())
    rows = stored(db)
    assert [(r["first_name"], r["phone"], r["custom"]) for r in rows] == [
        ("+Tom", "+44 7700 900031", {}),
        ("Una", "+44 7700 900032", {"Phone": "ask reception"}),
        ("Vic", "+44 7700 900033", {"Mobile": "+44 7700 900034"}),
    ]


def test_placeholders_are_empty_and_notes_come_only_with_a_lead_that_went_in(db, pool):
    long_source = "Spring trade show at the exhibition centre hall 4 stand 17 " * 2
    data = csv_bytes(
        "Email,Phone,Score,Priority,Lead Source",
        "n/a,-,,,",  # 2: nothing to reach them by
        "bad@@example,N/A,high,low,",  # 3: refused for its email; no note for the rest
        f"ok@example.com,0,,,{long_source}",  # 4: in, the long source cut and kept whole
    )
    summary = run(db, data)
    assert summary.rejected == (
        RejectedRow(2, "no email or phone"),
        RejectedRow(3, 'invalid email "bad@@example"'),
    )
    assert summary.kept_aside == (
        RejectedRow(
            4, 'source is longer than 80 characters: kept as the extra field "Lead Source"'
        ),
    )
    [lead] = stored(db)
    assert (lead["phone"], lead["source"]) == (None, long_source[:80])
    assert lead["custom"] == {"Lead Source": long_source.strip()}


def test_a_quoted_note_over_several_lines_is_not_taken_for_a_quote_left_open(db, pool):
    data = csv_bytes(
        "Name,Email,Phone,Notes",
        'Ann Lee,ann@example.com,,"Called, no answer, will try again, Friday',
        'then emailed, no reply, as agreed"',
    )
    summary = run(db, data)
    assert (summary.imported, summary.rejected) == (1, ())


def test_a_title_above_semicolon_separated_column_names(db, pool):
    data = csv_bytes(
        "Trade show leads, March 2026",
        "Vorname;Nachname;E-Mail;Telefon",
        "Hans;Meier;hans@example.de;+49 151 2345 6789",
    )
    preview = importing.preview_rows(data)
    assert (preview.delimiter, preview.header_line, preview.problem) == (";", 2, None)
    assert run(db, data).imported == 1
    assert stored(db)[0]["last_name"] == "Meier"


def test_a_first_line_of_unknown_names_is_kept_even_when_data_holds_known_words(db, pool):
    data = csv_bytes(
        "Who,Preferred contact,Fallback contact,Address",
        "Ann Lee,Email,Phone,ann@example.com",
    )
    preview = importing.preview_rows(data)
    assert preview.header_line == 1
    assert [c.heading for c in preview.columns][0] == "Who"


MIXED_NAMES = [
    ("jose@example.com", "José Müller", "utf-8"),
    ("zoe@example.com", "Zoë Ñandú", "utf-8"),
    ("ines@example.com", "Inês Gonçalves", "cp1252"),
    ("rene@example.com", "René Förster", "cp1252"),
    ("ana@example.com", "Ana Peña", "cp1252"),
]


@pytest.mark.parametrize(
    ("rows", "read_as"),
    [
        (MIXED_NAMES[:3], "UTF-8 (1 line in Windows-1252)"),  # a few Windows lines pasted in
        (MIXED_NAMES, "UTF-8 (3 lines in Windows-1252)"),  # mostly Windows, some UTF-8
    ],
)
def test_a_file_of_utf8_and_windows_lines_reads_each_line_right(db, pool, rows, read_as):
    data = b"Email,Name\r\n" + b"".join(
        f"{email},{name}\r\n".encode(encoding) for email, name, encoding in rows
    )
    summary = run(db, data)
    assert summary.encoding == read_as
    names = [f"{r['first_name']} {r['last_name']}" for r in stored(db)]
    assert names == [name for _, name, _ in rows]


# --- duplicates ------------------------------------------------------------------------


def test_duplicates_in_the_file_and_in_the_database_are_skipped_and_counted(db, floor, pool):
    floor.leads(pool, 1, email="known@example.com", phone=None)
    data = csv_bytes(
        "Email,Phone",
        "known@example.com,",  # in the database
        "KNOWN@example.COM ,",  # the same, other case
        "new@example.com,+44 20 7946 0018",
        "other@example.com,020 7946 0018",  # same phone as the row before
        "new@example.com,",  # same email as two rows before
        ",0044-20-7946-0019",
        ",020 7946 0019",
    )
    summary = run(db, data)
    assert (summary.imported, summary.duplicates, summary.rejected) == (2, 5, ())
    assert count_leads(db) == 3
    # Each skipped row is listed with its line and why, for the manager to look up.
    assert summary.duplicate_rows == (
        RejectedRow(2, "email already in SalesDesk"),
        RejectedRow(3, "email already in SalesDesk"),
        RejectedRow(5, "same phone as line 4"),
        RejectedRow(6, "same email as line 4"),
        RejectedRow(8, "same phone as line 7"),
    )


def test_a_rejected_row_does_not_make_a_later_row_a_duplicate(db, pool):
    data = csv_bytes(
        "First Name,Email,Phone",
        f"{'x' * 121},ok@example.com,07700 900001",  # refused: the name is too long
        "Ok,ok@example.com,07700 900001",
    )
    summary = run(db, data)
    assert (summary.imported, summary.duplicates, len(summary.rejected)) == (1, 0, 1)


def test_running_the_same_file_again_adds_nothing(db, pool):
    data = csv_bytes(
        "Email,Phone,Name",
        "a@example.com,,A",
        ",07700 900001,B",
        "bad,,C",
        "a@example.com,,A again",
    )
    first = run(db, data)
    again = run(db, data)
    assert (first.imported, first.duplicates, len(first.rejected)) == (2, 1, 1)
    assert (again.imported, again.duplicates, again.rejected) == (0, 3, first.rejected)
    assert count_leads(db) == 2


def test_batches_check_duplicates_across_batch_boundaries(db, pool, monkeypatch):
    monkeypatch.setattr(importing, "BATCH_SIZE", 3)
    rows = [f"lead{n}@example.com,0770090{n:04d}" for n in range(10)]
    rows.insert(5, "LEAD1@example.com,")  # a duplicate of a row two batches back
    rows.append(",07700900009")  # a duplicate by phone of the row before
    progress = []
    summary = run(db, csv_bytes("Email,Mobile", *rows), progress=lambda *a: progress.append(a))
    assert (summary.imported, summary.duplicates) == (10, 2)
    assert summary.duplicate_rows == (
        RejectedRow(7, "same email as line 3"),
        RejectedRow(13, "same phone as line 12"),
    )
    assert progress[-1] == (13, 13) and len(progress) == 5
    with db.read() as session:
        events = session.execute(select(LeadEvent.kind, func.count()).group_by(LeadEvent.kind))
        assert dict(events.all()) == {"created": 10}
    assert [r["email"] for r in stored(db)] == [f"lead{n}@example.com" for n in range(10)]


def test_a_slow_batch_makes_the_next_one_smaller_so_reps_wait_less(db, pool, monkeypatch):
    """A batch holds the write lock that reps' Next waits for; one that took longer
    than the target is followed by smaller ones (and all rows still go in once)."""
    monkeypatch.setattr(importing, "BATCH_SIZE", 40)
    monkeypatch.setattr(importing, "MIN_BATCH_SIZE", 10)
    monkeypatch.setattr(importing, "BATCH_TARGET_S", 1e-9)  # every batch is "too slow"
    rows = [f"lead{n}@example.com" for n in range(100)]
    progress = []
    summary = run(db, csv_bytes("Email", *rows), progress=lambda *a: progress.append(a))
    assert summary.imported == 100 and len(stored(db)) == 100
    batch_ends = [line for line, _ in progress[:-1]]
    assert batch_ends[:3] == [41, 51, 61]  # 40 rows, then 10 at a time (line 1 is the header)

    assert importing.next_batch_size(40, 0.0) == 40  # a quick batch: back up to the most


def test_an_import_stopped_between_batches_keeps_what_went_in_and_says_where(db, pool, monkeypatch):
    """The import dialog's Stop: the batch under way finishes, nothing after it is
    read, and running the file again adds the rest and nothing twice."""
    monkeypatch.setattr(importing, "BATCH_SIZE", 4)
    monkeypatch.setattr(importing, "FIRST_BATCH_SIZE", 4)
    data = csv_bytes("Email", *(f"lead{n}@example.com" for n in range(10)))
    asked = []

    def stop_after_the_first_batch():
        asked.append(count_leads(db))
        return True

    stopped = run(db, data, should_stop=stop_after_the_first_batch)
    assert (stopped.imported, stopped.stopped_at, stopped.lines) == (4, 5, 10)
    assert asked == [4] and count_leads(db) == 4
    again = run(db, data, should_stop=lambda: False)
    assert (again.imported, again.duplicates, again.stopped_at) == (6, 4, None)
    assert count_leads(db) == 10


# --- sources, pools, people ---------------------------------------------------------------


def test_source_comes_from_the_row_else_the_file_name(db, pool, tmp_path):
    path = tmp_path / "trade-show 2026.csv"
    path.write_bytes(csv_bytes("Email,Source", "a@example.com,Web", "b@example.com,"))
    assert importing.import_csv(db, None, path, "inbound").imported == 2
    assert [r["source"] for r in stored(db)] == ["Web", "trade-show 2026"]


def test_an_explicit_source_goes_on_every_lead_and_the_column_is_kept(db, pool):
    data = csv_bytes("Email,Source", "a@example.com,Web", "b@example.com,")
    assert run(db, data, source="Fair 2026").imported == 2
    assert [(r["source"], r["custom"]) for r in stored(db)] == [
        ("Fair 2026", {"Source": "Web"}),
        ("Fair 2026", {}),
    ]


def test_pool_by_name_any_case_or_by_id_and_an_unknown_pool(db, floor, pool):
    other = floor.pool("Partners")
    assert run(db, csv_bytes("Email", "a@example.com"), pool="PARTNERS").imported == 1
    assert run(db, csv_bytes("Email", "b@example.com"), pool=other.id).imported == 1
    assert run(db, csv_bytes("Email", "c@example.com"), pool=str(pool.id)).imported == 1
    with pytest.raises(NotFoundError, match="There is no pool called 'Nowhere'."):
        run(db, csv_bytes("Email", "d@example.com"), pool="Nowhere")
    assert [r["pool_id"] for r in stored(db)] == [other.id, other.id, pool.id]


def test_a_manager_may_import_and_a_rep_may_not(db, floor, pool):
    data = csv_bytes("Email", "a@example.com")
    with pytest.raises(NotAllowedError):
        importing.import_rows(db, floor.rep("alice"), data, "Inbound")
    summary = importing.import_rows(db, floor.manager, data, "Inbound")
    assert summary.imported == 1
    with db.read() as session:
        assert session.scalar(select(LeadEvent.actor_id)) == floor.manager.id


def test_imported_leads_are_routed_in_a_push_pool(db, floor):
    alice, bob = floor.rep("alice"), floor.rep("bob")
    floor.pool("Push", routing=Routing.ROUND_ROBIN.value, members=[alice, bob])
    data = csv_bytes("Email", "a@example.com", "b@example.com", "c@example.com")
    assert run(db, data, pool="push").imported == 3
    assert [r["status"] for r in stored(db)] == ["current"] * 3
    assert len(leads.my_current_leads(db, alice)) + len(leads.my_current_leads(db, bob)) == 3


# --- files that cannot be imported ---------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "The file is empty."),
        (b" \r\n\r\n", "The file is empty."),
        (codecs.BOM_UTF8, "The file is empty."),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00", "This file is not a CSV: it holds binary"),
        (bytes(range(256)) * 8, "This file is not a CSV: it holds binary data."),
        (b"PK\x03\x04\x14\x00\x06\x00", "This file is an Excel workbook (.xlsx)"),
        (
            b"<!DOCTYPE html><html><body>Login</body></html>",
            "This file is not a CSV: it is a web page",
        ),
        (
            b"Name,Company\r\nAnn,Acme\r\n",
            "The file has no email or phone column (its columns: Name",
        ),
        (b"ann@example.com,Ann\r\n", "The first line holds data, not column names"),
    ],
    ids=["empty", "blank", "bom", "png", "bytes", "xlsx", "html", "no-contact", "no-header"],
)
@ONE_ENGINE
def test_an_unusable_file_is_refused_in_one_line(db, pool, data, message):
    with pytest.raises(ImportFileError) as refused:
        run(db, data)
    assert refused.value.message.startswith(message)
    assert "\n" not in refused.value.message
    assert count_leads(db) == 0


@ONE_ENGINE
def test_a_missing_file_is_an_import_error(db, pool, tmp_path):
    with pytest.raises(ImportFileError, match="Cannot read .*nope.csv: No such file"):
        importing.import_csv(db, None, tmp_path / "nope.csv", "Inbound")


def test_a_pool_deleted_during_the_import_stops_it_with_a_known_error(db, pool, monkeypatch):
    monkeypatch.setattr(importing, "BATCH_SIZE", 2)

    def delete_the_pool(line, total):
        if line == 3:  # the first batch is in
            with db.write() as session:
                session.execute(delete(Pool))

    data = csv_bytes("Email", *(f"lead{n}@example.com" for n in range(6)))
    with pytest.raises(NotFoundError, match="The pool was deleted during the import"):
        run(db, data, progress=delete_the_pool)
    assert count_leads(db) == 2  # the first batch was committed before the pool went


# --- the fast row path keeps the rules of a lead entered by hand -----------------------

TRICKY = [
    ("ok@example.com", ""),
    (" Spaced@Example.COM ", ""),
    ("no-at-sign", ""),
    ("two@@example.com", ""),
    ("a@b", ""),
    ("comma,in@example.com", ""),
    ("ünï@exämple.com", ""),
    ("", "+44 20 7946 0018"),
    ("", "12"),
    ("", "1234"),
    ("", "12345"),
    ("", "٣٣٣٣٣"),  # Arabic-Indic digits are digits to the rule, too
    ("", "0044-20-7946-0018 ext. 99"),
    ("", "no digits"),
    ("", '="07700 900123"'),
    ('="x@example.com"', ""),
    ("x@example.com", "1"),
]


def test_rows_are_refused_and_keyed_exactly_as_a_lead_entered_by_hand(db, pool):
    """The import checks rows itself for speed; its answers must be check_new_lead's."""
    quoted = [
        f'"{e.replace(chr(34), chr(34) * 2)}","{p.replace(chr(34), chr(34) * 2)}"'
        for e, p in TRICKY
    ]
    summary = run(db, csv_bytes("Email,Phone", *quoted))
    expected_rejected, expected_aside = [], []
    for line, (email, phone) in enumerate(TRICKY, start=2):
        email, phone = import_row.unwrap(email.strip()), import_row.unwrap(phone.strip())
        verdicts = {}  # each contact given, on its own, as check_new_lead judges it
        for name, value in (("email", email), ("phone", phone)):
            if value:
                try:
                    leads.check_new_lead(leads.NewLead(**{name: value}))
                    verdicts[name] = None
                except ValidationError as exc:
                    verdicts[name] = exc.message
        wrong = [(name, why) for name, why in verdicts.items() if why is not None]
        if wrong and len(wrong) == len(verdicts):  # nothing to reach the lead by: refused
            expected_rejected.append(RejectedRow(line, wrong[0][1]))  # the email's fault first
        elif wrong:  # reachable by the other one: in, with the bad value set aside
            name, why = wrong[0]
            expected_aside.append(
                RejectedRow(line, f'{why}: kept as the extra field "{name.title()}"')
            )
    assert summary.rejected == tuple(expected_rejected)
    skipped = {row.line for row in summary.duplicate_rows}  # a duplicate changed nothing
    assert summary.kept_aside == tuple(r for r in expected_aside if r.line not in skipped)
    assert skipped == {18}  # x@example.com again
    assert summary.imported == len(TRICKY) - len(expected_rejected) - len(skipped)
    with db.read() as session:
        rows = session.execute(
            select(Lead.email, Lead.phone, Lead.email_key, Lead.phone_key).order_by(Lead.id)
        ).all()
    assert len(rows) == summary.imported
    for email, phone, email_key, phone_key in rows:
        assert (email_key, phone_key) == (leads.email_key(email), leads.phone_key(phone))


def test_custom_columns_are_stored_as_json_whatever_they_hold(db, pool):
    values = ['say "hi"', "back\\slash", "tab\there", "Zoë ☎ 📞", "{not: json}", "=x"]
    names = ('Note "A"', "Ünïcode", "Tab", "Emoji", "Braces", "Formula")
    headings = ['"' + h.replace('"', '""') + '"' for h in names]
    row = ",".join('"' + v.replace('"', '""') + '"' for v in values)
    run(db, csv_bytes("Email," + ",".join(headings), "a@example.com," + row))
    [lead] = stored(db)
    assert lead["custom"] == dict(zip(names, values, strict=True))


def test_the_import_leaves_pooled_connections_with_their_own_page_cache(sqlite_db):
    from salesdesk import migrations
    from salesdesk.services import team

    migrations.upgrade(sqlite_db)
    team.add_pool(sqlite_db, None, "Inbound")
    with sqlite_db.read() as session:
        before = session.connection().exec_driver_sql("PRAGMA cache_size").scalar_one()
    seen = []

    def look(line, total):  # between batches: the connection is back in the pool
        with sqlite_db.write() as session:
            seen.append(session.connection().exec_driver_sql("PRAGMA cache_size").scalar_one())

    data = csv_bytes("Email", *(f"lead{n}@example.com" for n in range(5)))
    importing.BATCH_SIZE, size = 2, importing.BATCH_SIZE
    try:
        summary = importing.import_rows(sqlite_db, None, data, "Inbound", progress=look)
    finally:
        importing.BATCH_SIZE = size
    assert summary.imported == 5
    assert seen == [before] * 3
