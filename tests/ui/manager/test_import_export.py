"""Importing a CSV file and exporting the table from the Floor tab, against a real database."""

from __future__ import annotations

import csv
import threading

import pytest

from salesdesk.services import import_batches, lead_export
from salesdesk.services.lead_table import LeadFilter
from salesdesk.ui.manager.import_dialog import FIELD_WORDS
from salesdesk.ui.manager.manager_view import ManagerView
from salesdesk.ui.message_bar import ERROR
from tests.ui.conftest import wait_idle


@pytest.fixture
def view(qtbot, ui_floor, make_context, tasks, clock):
    alice = ui_floor.rep("alice")
    inbound = ui_floor.pool("Inbound", members=[alice])
    ui_floor.pool("Webinar", members=[alice])
    for _ in range(3):
        clock.advance(minutes=3)
        ui_floor.leads(inbound, 1)
    ui_floor.leads(inbound, 1, email="known@example.com")
    view = ManagerView(make_context(ui_floor.manager))
    view.inbound_id = inbound.id  # for the export's filter
    qtbot.addWidget(view)
    view.resize(1280, 800)
    view.show()
    wait_idle(qtbot, tasks)
    return view


def settle(qtbot, view):
    wait_idle(qtbot, view._context.tasks)
    qtbot.wait(50)
    wait_idle(qtbot, view._context.tasks)


def write_csv(path, *lines):
    path.write_text("\r\n".join(lines) + "\r\n", encoding="utf-8")
    return path


def open_dialog(qtbot, view, path):
    dialog = view.leads.import_leads()
    dialog.open_file(path)
    qtbot.waitUntil(
        lambda: dialog.columns.rowCount() > 0 or dialog.problem.isVisible(), timeout=5000
    )
    return dialog


def test_a_manager_checks_the_columns_imports_and_reads_every_row_left_out(qtbot, view, tmp_path):
    path = write_csv(
        tmp_path / "trade-show.csv",
        "Name,E-mail,Mobile number here,Notes",
        "Ann Lee,ann@example.com,07700 900001,met at stand",
        "Bo Ng,not-an-email,,",
        "Cy Ox,known@example.com,,",
        "Di Poe,di@example.com,07700 900001,",
        "Ed Roe,ed@example.com,07700 900005,",
        "Fay Lim,fay@example.com,12,",
    )
    dialog = open_dialog(qtbot, view, path)
    table = dialog.columns
    assert [table.item(r, 0).text() for r in range(4)] == [
        "Name",
        "E-mail",
        "Mobile number here",
        "Notes",
    ]
    assert table.item(0, 1).text() == "Ann Lee · Bo Ng · Cy Ox"
    assert [dialog.field_of(r) for r in range(4)] == ["name", "email", "custom", "custom"]
    assert table.cellWidget(0, 2).currentText() == FIELD_WORDS["name"]
    assert dialog.file_info.text().startswith("Read as UTF-8, comma-separated: 6 lines after")
    assert dialog.import_button.isEnabled() and not dialog.problem.isVisible()

    dialog.set_field("Mobile number here", "phone")
    dialog.set_field("Notes", "ignore")
    assert dialog.chosen_columns() == {2: "phone", 3: "ignore"}
    dialog.pool.setCurrentIndex(dialog.pool.findText("Webinar"))
    assert dialog.pool_note.text() == "Reps take these leads with Next."
    dialog.source.setText("Trade show")
    dialog.import_button.click()
    qtbot.waitUntil(lambda: dialog.summary is not None, timeout=10_000)

    assert dialog.headline.text() == (
        "Imported 3 leads into Webinar. 2 rows were skipped as duplicates, 1 row was "
        "rejected and 1 lead went in with a value set aside; each is listed below with its line."
    )
    assert dialog.report.toPlainText().splitlines() == [
        'line 3: rejected: invalid email "not-an-email"',
        "line 4: skipped: email already in SalesDesk",
        "line 5: skipped: same phone as line 2",
        'line 7: went in, but invalid phone number "12": kept as the extra field '
        '"Mobile number here"',
    ]
    assert dialog.close_button.text() == "Close" and dialog.save_button.isVisible()
    report = tmp_path / "report.txt"
    dialog.save_report_to(report)
    qtbot.waitUntil(lambda: dialog.saved_note.text().startswith("Saved"), timeout=5000)
    saved = report.read_text().splitlines()
    assert saved[0].startswith(f"Import of {path} at ")
    assert saved[3] == 'line 3: rejected: invalid email "not-an-email"'
    assert dialog.saved_note.text() == f"Saved to {report}"

    # The table reads again from the top: the new leads are there, from their pool.
    settle(qtbot, view)
    model = view.leads.model
    rows = [model.lead_at(r) for r in range(model.rowCount())]
    imported = {r.email: r for r in rows if r.source == "Trade show"}
    assert set(imported) == {"ann@example.com", "ed@example.com", "fay@example.com"}
    assert imported["ann@example.com"].pool_name == "Webinar"
    assert imported["ann@example.com"].phone == "07700 900001"


def test_a_file_without_an_email_or_phone_column_waits_for_one_to_be_chosen(qtbot, view, tmp_path):
    path = write_csv(tmp_path / "names.csv", "Name,Ring on", "Ann Lee,07700 900001")
    dialog = open_dialog(qtbot, view, path)
    assert dialog.problem.isVisible() and not dialog.import_button.isEnabled()
    assert "no email or phone column (its columns: Name, Ring on)" in dialog.problem.text()
    dialog.set_field("Ring on", "phone")
    assert not dialog.problem.isVisible() and dialog.import_button.isEnabled()
    dialog.set_field("Ring on", "custom")
    assert dialog.problem.isVisible() and not dialog.import_button.isEnabled()


def test_a_spreadsheet_file_is_refused_in_words(qtbot, view, tmp_path):
    path = tmp_path / "leads.xlsx"
    path.write_bytes(b"PK\x03\x04" + b"\x00" * 100)
    dialog = open_dialog(qtbot, view, path)
    assert dialog.file_info.text() == "This file cannot be imported."
    assert "not a CSV: save it as CSV" in dialog.problem.text()
    assert not dialog.import_button.isEnabled()


def test_stop_ends_the_import_between_batches_and_says_how_to_finish(
    qtbot, view, tmp_path, monkeypatch
):
    from salesdesk.services import importing

    monkeypatch.setattr(importing, "FIRST_BATCH_SIZE", 2)
    monkeypatch.setattr(importing, "BATCH_SIZE", 2)
    release = threading.Event()
    store = import_batches.store_batch

    def held_store(*args):  # the first batch waits until Stop has been pressed
        assert release.wait(10)
        return store(*args)

    monkeypatch.setattr(import_batches, "store_batch", held_store)
    lines = [f"new{n}@example.com" for n in range(6)]
    dialog = open_dialog(qtbot, view, write_csv(tmp_path / "big.csv", "Email", *lines))
    dialog.import_button.click()
    assert dialog.stop_button.isVisible() and not dialog.close_button.isEnabled()
    dialog.reject()  # Escape while importing stops; the dialog stays until it has
    release.set()
    qtbot.waitUntil(lambda: dialog.summary is not None, timeout=10_000)
    assert dialog.isVisible()
    assert dialog.headline.text() == (
        "Stopped at line 3 of 7: 2 leads went into Inbound. Import the same file again "
        "to add the rest; the leads already in are skipped as duplicates."
    )
    assert not dialog.stop_button.isVisible() and dialog.close_button.isEnabled()


def test_export_writes_what_the_table_shows_in_its_order(qtbot, view, tmp_path):
    tab = view.leads
    tab.model.set_filters(LeadFilter(pool_id=view.inbound_id))
    settle(qtbot, view)
    shown = [tab.model.lead_at(r).email for r in range(tab.model.rowCount())]
    assert tab._export_name() == "inbound"  # the file name offered says what is in it
    messages = []
    tab.message.connect(lambda text, level: messages.append((text, level)))
    path = tmp_path / "inbound.csv"
    tab.export_to(path)
    qtbot.waitUntil(lambda: bool(messages), timeout=10_000)
    assert messages == [(f"Exported {len(shown)} lead{'s' * (len(shown) != 1)} to {path}.", "info")]
    with open(path, encoding="utf-8-sig", newline="") as handle:
        header, *rows = list(csv.reader(handle))
    assert header == list(lead_export.HEADINGS)
    assert [r[3] for r in rows] == shown


def test_an_export_to_a_missing_folder_says_so(qtbot, view, tmp_path):
    messages = []
    view.leads.message.connect(lambda text, level: messages.append((text, level)))
    view.leads.export_to(tmp_path / "gone" / "x.csv")
    qtbot.waitUntil(lambda: bool(messages), timeout=10_000)
    [(text, level)] = messages
    assert level == ERROR and text.startswith("Cannot write") and "No such file" in text


def test_the_file_menu_of_a_manager_offers_import_and_export(qtbot, ui_floor, make_context):
    from salesdesk.ui.main_window import MainWindow

    window = MainWindow(make_context(ui_floor.manager))
    qtbot.addWidget(window)
    wait_idle(qtbot, window.manager_view._context.tasks)
    file_menu = window.menuBar().actions()[0].menu()
    by_text = {a.text(): a for a in file_menu.actions()}
    assert {"Import leads…", "Export leads…"} <= set(by_text)
    by_text["Import leads…"].trigger()
    dialog = window.manager_view.leads.open_dialog
    assert dialog.windowTitle() == "Import leads" and dialog.isVisible()
    dialog.reject()


def test_a_reps_file_menu_has_neither(qtbot, ui_floor, make_context):
    from salesdesk.ui.main_window import MainWindow

    window = MainWindow(make_context(ui_floor.rep("alice")))
    qtbot.addWidget(window)
    wait_idle(qtbot, window.desk._context.tasks)
    texts = [a.text() for a in window.menuBar().actions()[0].menu().actions()]
    assert "Import leads…" not in texts and "Export leads…" not in texts


def test_a_leads_extra_imported_fields_show_in_the_managers_pane(qtbot, view):
    from PySide6.QtCore import QItemSelectionModel

    from salesdesk.services import importing

    data = b"Email,Website,Job title,Fax\r\nzed@example.com,zed.example,Buyer,\r\n"
    importing.import_rows(view._context.db, view._context.actor, data, "Inbound")
    tab = view.leads
    tab.model.reload()
    settle(qtbot, view)
    row = next(
        r for r in range(tab.model.rowCount()) if tab.model.lead_at(r).email == "zed@example.com"
    )
    tab.table.selectionModel().select(
        tab.model.index(row, 0),
        QItemSelectionModel.SelectionFlag.ClearAndSelect | QItemSelectionModel.SelectionFlag.Rows,
    )
    panel = tab.history
    qtbot.waitUntil(lambda: panel.lead_id is not None, timeout=10_000)
    assert panel.tabs.tabText(2) == "Fields (2)"  # the empty Fax is not shown
    assert panel.fields.toPlainText().splitlines() == [
        "Website",
        "zed.example",
        "Job title",
        "Buyer",
    ]


def test_the_report_groups_runs_of_lines_for_one_reason_and_counts_stopped_imports_fully():
    from salesdesk.services.importing import ImportSummary, RejectedRow
    from salesdesk.ui.manager.import_dialog import describe_summary, report_lines

    known = tuple(RejectedRow(n, "email already in SalesDesk") for n in range(2, 9002))
    summary = ImportSummary(
        imported=0,
        duplicate_rows=(*known, RejectedRow(9003, "email already in SalesDesk")),
        rejected=(RejectedRow(9002, "no email or phone"),),
        lines=20_000,
        stopped_at=9_003,
    )
    assert report_lines(summary) == [
        "lines 2-9,001: skipped: email already in SalesDesk (9,000 rows)",
        "line 9002: rejected: no email or phone",
        "line 9003: skipped: email already in SalesDesk",
    ]
    assert describe_summary(summary, "Inbound") == (
        "Stopped at line 9,003 of 20,001: 0 leads went into Inbound. 9,001 rows were skipped "
        "as duplicates and 1 row was rejected; each is listed below with its line. Import the "
        "same file again to add the rest; the leads already in are skipped as duplicates."
    )
    pushed = ImportSummary(2_000, (), (), routed=45)
    assert describe_summary(pushed, "Webinar", "round_robin") == (
        "Imported 2,000 leads into Webinar. 45 went straight to the pool's members; 1,955 wait "
        "in the pool until a member has room under their cap."
    )
    one = ImportSummary(1, (RejectedRow(3, "same email as line 2"),), ())
    assert describe_summary(one, "Inbound") == (
        "Imported 1 lead into Inbound. 1 row was skipped as a duplicate; it is listed below "
        "with its line."
    )


def test_pools_that_arrive_after_the_dialog_opened_fill_its_choice(qtbot, view, tmp_path):
    from salesdesk.ui.manager.import_dialog import ImportDialog

    dialog = ImportDialog(view._context, None, view)
    qtbot.addWidget(dialog)
    assert dialog.pool.count() == 0 and dialog.pool_note.text() == "Reading the pools…"
    dialog.open_file(write_csv(tmp_path / "a.csv", "Email", "a@example.com"))
    qtbot.waitUntil(lambda: dialog.columns.rowCount() == 1, timeout=5000)
    assert not dialog.import_button.isEnabled()
    dialog.set_pools(view.leads._choices.pools)
    assert [dialog.pool.itemText(i) for i in range(dialog.pool.count())] == ["Inbound", "Webinar"]
    assert dialog.import_button.isEnabled()


def test_two_columns_with_one_heading_keep_their_own_choices(qtbot, view, tmp_path):
    path = write_csv(
        tmp_path / "two.csv",
        "Email,Phone,Phone",
        "two@example.com,07700 900001,07700 900002",
    )
    dialog = open_dialog(qtbot, view, path)
    dialog.set_field("Phone", "ignore", nth=1)
    assert [dialog.field_of(r) for r in range(3)] == ["email", "phone", "ignore"]
    dialog.import_button.click()
    qtbot.waitUntil(lambda: dialog.summary is not None, timeout=10_000)
    settle(qtbot, view)
    model = view.leads.model
    [row] = [
        model.lead_at(r)
        for r in range(model.rowCount())
        if model.lead_at(r).email == "two@example.com"
    ]
    assert row.phone == "07700 900001"


def test_a_file_with_column_names_only_has_nothing_to_import(qtbot, view, tmp_path):
    dialog = open_dialog(qtbot, view, write_csv(tmp_path / "empty.csv", "Email,Name"))
    assert dialog.problem.text() == (
        "The file has column names but no rows under them: there is nothing to add."
    )
    assert not dialog.import_button.isEnabled()


def test_import_another_file_starts_clean_even_when_no_file_is_chosen(
    qtbot, view, tmp_path, monkeypatch
):
    from salesdesk.ui.manager import import_dialog

    dialog = open_dialog(qtbot, view, write_csv(tmp_path / "one.csv", "Email", "one@example.com"))
    dialog.source.setText("Trade show")
    dialog.import_button.click()
    qtbot.waitUntil(lambda: dialog.summary is not None, timeout=10_000)
    monkeypatch.setattr(
        import_dialog.QFileDialog, "getOpenFileName", staticmethod(lambda *a, **k: ("", ""))
    )
    dialog.again_button.click()  # ... and the file chooser is cancelled
    assert (dialog.file_edit.text(), dialog.columns.rowCount(), dialog.source.text()) == ("", 0, "")
    assert dialog.file_info.text() == "Choose the next file."
    assert dialog.choose_button.isEnabled() and not dialog.import_button.isEnabled()
    assert not dialog.headline.isVisible() and dialog.close_button.text() == "Cancel"
