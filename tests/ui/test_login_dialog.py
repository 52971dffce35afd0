"""Signing in: the last user remembered, wrong passwords refused in words."""

from __future__ import annotations

from PySide6.QtCore import Qt

from salesdesk.ui.login_dialog import LAST_USER_KEY, LoginDialog
from tests.conftest import PASSWORD
from tests.ui.conftest import wait_idle


def _dialog(qtbot, tasks, settings, db=None):
    dialog = LoginDialog(tasks, settings)
    qtbot.addWidget(dialog)
    dialog.show()
    if db is not None:
        dialog.set_ready(db, "Sign in to the floor on this computer.")
    return dialog


def test_sign_in_waits_until_the_database_is_open(qtbot, tasks, settings, sqlite_db):
    dialog = _dialog(qtbot, tasks, settings)
    assert not dialog.sign_in_button.isEnabled()
    assert "Opening the database" in dialog.status_label.text()
    dialog.set_ready(sqlite_db, "Sign in to the floor on this computer.", "demo hint")
    assert dialog.sign_in_button.isEnabled()
    assert dialog.hint_label.text() == "demo hint"


def test_a_wrong_password_is_refused_in_words(qtbot, tasks, settings, ui_floor):
    ui_floor.rep("alice")
    dialog = _dialog(qtbot, tasks, settings, ui_floor.db)
    dialog.user_edit.setText("alice")
    dialog.password_edit.setText("not it")
    qtbot.mouseClick(dialog.sign_in_button, Qt.MouseButton.LeftButton)
    wait_idle(qtbot, tasks)
    assert dialog.error_label.text() == "Wrong user name or password."
    assert dialog.isVisible()
    assert settings.value(LAST_USER_KEY) is None


def test_signing_in_remembers_the_user(qtbot, tasks, settings, ui_floor):
    alice = ui_floor.rep("alice")
    dialog = _dialog(qtbot, tasks, settings, ui_floor.db)
    dialog.user_edit.setText("Alice ")
    dialog.password_edit.setText(PASSWORD)
    with qtbot.waitSignal(dialog.signed_in, timeout=5000) as signed:
        qtbot.keyClick(dialog.password_edit, Qt.Key.Key_Return)
    assert signed.args[0] == alice
    assert settings.value(LAST_USER_KEY) == "alice"

    again = _dialog(qtbot, tasks, settings, ui_floor.db)
    assert again.user_edit.text() == "alice"


def test_empty_fields_are_refused_before_asking_the_database(qtbot, tasks, settings, sqlite_db):
    dialog = _dialog(qtbot, tasks, settings, sqlite_db)
    dialog.sign_in_button.click()
    assert dialog.error_label.text() == "Enter your user name and password."
    assert tasks.idle


def test_the_demo_hint_shown_after_opening_fits_in_the_window(qtbot, tasks, settings, sqlite_db):
    """The hint arrives after the window is laid out (the floor opens behind it);
    the window grows so every line of it, and the fields, keep their full height."""
    from salesdesk.ui.app import DEMO_HINT

    dialog = _dialog(qtbot, tasks, settings)
    qtbot.wait(50)
    dialog.set_ready(sqlite_db, "Sign in to the floor on this computer.", DEMO_HINT)
    qtbot.wait(50)

    hint = dialog.hint_label
    assert hint.height() >= hint.heightForWidth(hint.width())
    assert dialog.user_edit.height() >= dialog.user_edit.sizeHint().height()
    assert dialog.height() >= dialog.sizeHint().height()


def test_a_dialog_made_ready_before_it_is_shown_opens_at_its_own_size(
    qtbot, tasks, settings, sqlite_db
):
    """After sign-out the floor is already open: the dialog is ready before it shows,
    and must not open at Qt's 640x480 placeholder size."""
    from salesdesk.ui.app import DEMO_HINT

    dialog = LoginDialog(tasks, settings)
    qtbot.addWidget(dialog)
    dialog.set_ready(sqlite_db, "Sign in to the floor on this computer.", DEMO_HINT)
    dialog.show()
    qtbot.wait(50)

    assert dialog.width() < 640 and dialog.height() < 480  # its own size, not Qt's default
    hint = dialog.hint_label
    assert hint.height() >= hint.heightForWidth(hint.width())
