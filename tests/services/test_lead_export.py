"""CSV export of the manager's table, on both engines: what is seen, in its order, safely."""

from __future__ import annotations

import csv
from datetime import UTC, timedelta, timezone

import pytest

from salesdesk.services import importing, lead_export, lead_table, leads
from salesdesk.services.errors import ExportFileError, NotAllowedError
from salesdesk.services.lead_table import LeadFilter
from tests.conftest import START

NEW_YORK_WINTER = timezone(timedelta(hours=-5))


def read_back(path):
    with open(path, encoding="utf-8-sig", newline="") as handle:
        return list(csv.reader(handle))


def test_the_export_has_what_the_table_shows_in_its_order(db, floor, tmp_path, clock):
    inbound = floor.pool("Inbound")
    partners = floor.pool("Partners")
    alice = floor.rep("alice")
    floor.leads(inbound, 1, first_name="Ann", last_name="Lee", company="Acme", score=80)
    clock.advance(minutes=5)
    [held] = floor.leads(inbound, 1, first_name="Bo", last_name="Ng", phone="+44 20 7946 0018")
    clock.advance(minutes=5)
    floor.leads(partners, 1, first_name="Cy", last_name="Ox")
    leads.assign_leads(db, floor.manager, [held], alice.id)

    path = tmp_path / "inbound.csv"
    summary = lead_export.export_leads(
        db, floor.manager, path, LeadFilter(pool_id=inbound.id), tz=NEW_YORK_WINTER
    )

    assert (summary.rows, summary.extra_columns, summary.stopped) == (2, (), False)
    header, *rows = read_back(path)
    assert header == list(lead_export.HEADINGS)
    got = [dict(zip(header, row, strict=True)) for row in rows]
    # Newest first, as the table's default order; times in the zone asked for.
    assert [r["First name"] for r in got] == ["Bo", "Ann"]
    assert got[0]["Phone"] == "+44 20 7946 0018"  # a phone is not taken for a formula
    assert (got[0]["Status"], got[0]["Owner"], got[0]["Pool"]) == ("Current", "Alice", "Inbound")
    assert got[1]["Status"] == "In pool" and got[1]["Owner"] == ""
    assert (got[1]["Company"], got[1]["Score"]) == ("Acme", "80")
    added = START.replace(tzinfo=UTC).astimezone(NEW_YORK_WINTER)
    assert got[1]["Added"] == f"{added:%Y-%m-%d %H:%M}"
    assert got[0]["Assigned"] != "" and got[1]["Assigned"] == ""
    assert not list(tmp_path.glob(".*"))  # no temporary file left behind


def test_extra_imported_fields_become_columns_and_the_file_imports_again(
    db, floor, tmp_path, monkeypatch
):
    monkeypatch.setattr(lead_table, "WALK_PAGE", 2)  # the fields of each page are found
    floor.pool("Inbound")
    floor.pool("Copy")
    data = (
        b"Email,Name,Website,Job title,Phone,phone\r\n"
        b"ann@example.com,Ann Lee,acme.example,Buyer,,\r\n"
        b"bo@example.com,Bo Ng,,,07700 900001,07700 900002\r\n"
        b"cy@example.com,Cy Ox,,CEO,,\r\n"
    )
    importing.import_rows(db, floor.manager, data, "Inbound")
    path = tmp_path / "all.csv"
    summary = lead_export.export_leads(db, floor.manager, path, sort="name", descending=False)

    assert summary.extra_columns == ("Website", "Job title", "phone")  # Bo's second phone
    header, *rows = read_back(path)
    assert header[-3:] == ["Website", "Job title", "phone (extra)"]  # not Phone twice
    assert len(set(header)) == len(header)
    assert [(r[1], r[4], r[-3], r[-2], r[-1]) for r in rows] == [
        ("Lee", "", "acme.example", "Buyer", ""),
        ("Ng", "07700 900001", "", "", "07700 900002"),
        ("Ox", "", "", "CEO", ""),
    ]
    # What was exported imports again, extra fields and all (as new leads in
    # an empty floor they would be; here every one is a known duplicate).
    again = importing.import_rows(db, floor.manager, path.read_bytes(), "Copy")
    assert (again.imported, again.duplicates, again.rejected) == (0, 3, ())
    preview = importing.preview_rows(path.read_bytes())
    fields = {c.heading: c.field for c in preview.columns}
    assert (fields["First name"], fields["Email"], fields["Website"]) == (
        "first_name",
        "email",
        "custom",
    )


@pytest.mark.parametrize(
    ("value", "written"),
    [
        ('=HYPERLINK("http://x.example","Click")', '\'=HYPERLINK("http://x.example","Click")'),
        ("+cmd|' /C calc'!A0", "'+cmd|' /C calc'!A0"),
        ("-2+3+cmd|' /C calc'!A0", "'-2+3+cmd|' /C calc'!A0"),
        ("@SUM(1,2)", "'@SUM(1,2)"),
        ("\t=1+1", "'\t=1+1"),
        ("+44 (20) 7946-0018", "+44 (20) 7946-0018"),
        ("-5", "-5"),
        ("Ann = Lee", "Ann = Lee"),
        ("", ""),
    ],
)
def test_a_cell_a_spreadsheet_would_run_is_written_as_text(value, written):
    assert lead_export.safe_cell(value) == written


def test_formulas_in_lead_fields_reach_the_file_as_text(db, floor, tmp_path):
    pool = floor.pool("Inbound")
    floor.leads(pool, 1, first_name="=1+1", company="@SUM(A1)", email="x@example.com")
    path = tmp_path / "safe.csv"
    lead_export.export_leads(db, floor.manager, path)
    [_, row] = read_back(path)
    assert (row[0], row[2]) == ("'=1+1", "'@SUM(A1)")


def test_a_stopped_export_leaves_no_file(db, floor, tmp_path, monkeypatch):
    monkeypatch.setattr(lead_table, "WALK_PAGE", 2)
    pool = floor.pool("Inbound")
    floor.leads(pool, 5)
    seen = []
    folder = tmp_path / "exports"
    folder.mkdir()
    path = folder / "stopped.csv"
    summary = lead_export.export_leads(
        db, floor.manager, path, progress=seen.append, should_stop=lambda: True
    )
    assert (summary.rows, summary.stopped, seen) == (2, True, [2])
    assert list(folder.iterdir()) == []

    whole = lead_export.export_leads(db, floor.manager, path, progress=seen.append)
    assert (whole.rows, seen[1:]) == (5, [2, 4, 5])
    assert len(read_back(path)) == 6


def test_only_managers_export_and_an_unwritable_place_is_said_in_words(db, floor, tmp_path):
    pool = floor.pool("Inbound")
    floor.leads(pool, 1)
    with pytest.raises(NotAllowedError):
        lead_export.export_leads(db, floor.rep("alice"), tmp_path / "a.csv")
    with pytest.raises(ExportFileError, match=r"^Cannot write .*nowhere.*: No such file"):
        lead_export.export_leads(db, floor.manager, tmp_path / "nowhere" / "a.csv")
