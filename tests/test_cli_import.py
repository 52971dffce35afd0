"""``salesdesk import``: what an admin sees, and the exit code a script checks.

Exit 0 whenever the file was read (rejected rows are listed, not fatal); exit 2
with one line on stderr, never a traceback, when nothing could be imported.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from salesdesk import cli
from salesdesk.db import Database
from salesdesk.models import Lead

GOOD_AND_BAD = (
    "First Name;Surname;E-Mail;Mobile;Score\r\n"
    "Jürgen;Müller;jm@example.de;0151 1234567;5\r\n"
    "Anna;Bad;not-an-email;;\r\n"
    "Café;Owner;cafe@example.fr;;x\r\n"
    "Nobody;Here;;;\r\n"
    "Jürgen;Again;JM@example.de;;\r\n"
)


def run(capsys, *argv):
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def url(tmp_path, capsys):
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    assert run(capsys, "--db", url, "db", "upgrade")[0] == 0
    assert run(capsys, "--db", url, "pools", "add", "Inbound")[0] == 0
    return url


@pytest.fixture
def leads_file(tmp_path):
    path = tmp_path / "fair.csv"
    path.write_bytes(GOOD_AND_BAD.encode("cp1252"))
    return path


def test_rejected_rows_are_listed_by_line_then_the_summary(capsys, url, leads_file):
    code, out, err = run(capsys, "--db", url, "import", str(leads_file), "--pool", "inbound")
    assert (code, err) == (0, "")
    # Every line that did not go in as it was, in the file's order: a lead whose
    # score is not a number goes in, the value kept as an extra field.
    assert out.splitlines() == [
        'line 3: invalid email "not-an-email"',
        'line 4: score must be a whole number ("x"): kept as the extra field "Score"',
        "line 5: no email or phone",
        "imported 2, duplicates 1, rejected 2",
    ]
    code, out, err = run(capsys, "--db", url, "import", str(leads_file), "--pool", "inbound")
    assert (code, err) == (0, "")
    assert out.splitlines()[-1] == "imported 0, duplicates 3, rejected 2"


def test_map_and_source_options(capsys, url, tmp_path):
    path = tmp_path / "export.csv"
    path.write_text("Handy,Mail\n0151 1234567,a@example.com\n", encoding="utf-8")
    code, out, err = run(
        capsys,
        "--db",
        url,
        "import",
        str(path),
        "--pool",
        "Inbound",
        "--map",
        "Handy=phone",
        "--map",
        "Mail = email",
        "--source",
        "Trade show",
    )
    assert (code, out, err) == (0, "imported 1, duplicates 0, rejected 0\n", "")
    db = Database(url)
    with db.read() as session:
        lead = session.scalars(select(Lead)).one()
        assert (lead.phone, lead.email, lead.source) == (
            "0151 1234567",
            "a@example.com",
            "Trade show",
        )
    db.dispose()


@pytest.mark.parametrize(
    ("content", "extra", "message"),
    [
        (b"", [], "The file is empty."),
        (b"\x00\x01\x02garbage\x00" * 50, [], "This file is not a CSV: it holds binary data."),
        (b"PK\x03\x04\x14\x00", [], "This file is an Excel workbook (.xlsx)"),
        (b"Name,Company\nAnn,Acme\n", [], "The file has no email or phone column"),
        (b"Email\na@example.com\n", ["--pool", "Nowhere"], "There is no pool called 'Nowhere'."),
        (b"Email\na@example.com\n", ["--map", "Email=mail"], 'Cannot map "Email" to "mail"'),
        (b"Email\na@example.com\n", ["--map", "Email"], "--map takes COLUMN=FIELD"),
        (None, [], "Cannot read "),
    ],
    ids=[
        "empty",
        "binary",
        "xlsx",
        "no-contact-column",
        "pool",
        "map-field",
        "map-form",
        "missing",
    ],
)
def test_an_unusable_file_is_one_line_on_stderr_and_exit_2(
    capsys, url, tmp_path, content, extra, message
):
    path = tmp_path / "in.csv"
    if content is not None:
        path.write_bytes(content)
    pool = [] if "--pool" in extra else ["--pool", "Inbound"]
    code, out, err = run(capsys, "--db", url, "import", str(path), *pool, *extra)
    assert code == 2
    assert out == ""
    assert err.startswith(f"salesdesk: {message}")
    assert err.count("\n") == 1 and "Traceback" not in err


@pytest.mark.parametrize("db", ["postgresql"], indirect=True)
def test_import_on_postgresql(capsys, db, leads_file):
    url = db.url.render_as_string(hide_password=False)
    assert run(capsys, "--db", url, "pools", "add", "Inbound")[0] == 0
    code, out, err = run(capsys, "--db", url, "import", str(leads_file), "--pool", "1")
    assert (code, err) == (0, "")
    assert out.splitlines()[-1] == "imported 2, duplicates 1, rejected 2"
    code, out, _ = run(capsys, "--db", url, "import", str(leads_file), "--pool", "Inbound")
    assert (code, out.splitlines()[-1]) == (0, "imported 0, duplicates 3, rejected 2")
    code, out, err = run(capsys, "--db", url, "import", str(leads_file), "--pool", "Outbound")
    assert (code, out, err) == (2, "", "salesdesk: There is no pool called 'Outbound'.\n")
