"""The app from start to desk: first start builds the demo floor, login, sign out."""

from __future__ import annotations

import pytest
import shiboken6

from salesdesk.services import auth
from salesdesk.services.demo import DEMO_PASSWORD
from salesdesk.ui.app import DEMO_HINT, SalesDeskApp
from salesdesk.ui.main_window import MainWindow
from tests.ui.conftest import wait_idle


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("SALESDESK_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("SALESDESK_DB", raising=False)
    return tmp_path / "home"


@pytest.fixture
def app(qtbot, home, settings):
    from salesdesk.config import Secrets

    controller = SalesDeskApp(None, settings, Secrets())
    yield controller
    for widget in (controller.window, controller.login):
        if widget is not None and shiboken6.isValid(widget):
            widget.close()
    controller.shutdown()


def _sign_in(qtbot, login, user):
    login.user_edit.setText(user)
    login.password_edit.setText(DEMO_PASSWORD)
    login.sign_in_button.click()


def test_first_start_builds_the_demo_floor_and_a_rep_lands_on_the_desk(qtbot, app, home):
    with qtbot.waitSignal(app.login_shown, timeout=5000):
        app.start()
    login = app.login
    assert login.isVisible()
    with qtbot.waitSignal(app.database_ready, timeout=60_000) as ready:
        pass
    assert ready.args[0].built_demo and ready.args[0].embedded
    assert (home / "salesdesk.db").exists()
    assert login.hint_label.text() == DEMO_HINT
    assert login.sign_in_button.isEnabled()

    with qtbot.waitSignal(app.main_window_shown, timeout=10_000) as shown:
        _sign_in(qtbot, login, "alice")
    window = shown.args[0]
    assert isinstance(window, MainWindow)
    wait_idle(qtbot, app.tasks)
    assert len(window.desk.current_model.rows) > 0  # alice's demo leads
    assert app.login is None  # the login closed itself

    with qtbot.waitSignal(app.login_shown, timeout=5000) as again:
        window.sign_out_requested.emit()
    assert again.args[0].isVisible()
    assert again.args[0].user_edit.text() == "alice"  # remembered
    assert again.args[0].sign_in_button.isEnabled()  # the database is still open


def test_a_second_start_does_not_rebuild_the_floor(qtbot, app, home, settings):
    with qtbot.waitSignal(app.database_ready, timeout=60_000):
        app.start()
    app.login.close()
    app.shutdown()

    from salesdesk.config import Secrets

    second = SalesDeskApp(None, settings, Secrets())
    try:
        with qtbot.waitSignal(second.database_ready, timeout=60_000) as ready:
            second.start()
        assert not ready.args[0].built_demo
        assert second.login.hint_label.text() == DEMO_HINT  # still the demo floor
    finally:
        if second.login is not None:
            second.login.close()
        second.shutdown()


def test_the_demo_hint_follows_the_floor_not_this_computers_settings(
    qtbot, app, home, settings, tmp_path
):
    """Another person on this computer (their own settings) still learns the demo
    password; once an admin changes the demo rep's password, nobody is told it."""
    from PySide6.QtCore import QSettings

    from salesdesk.config import Secrets
    from salesdesk.services import team

    with qtbot.waitSignal(app.database_ready, timeout=60_000) as ready:
        app.start()
    db = ready.args[0].db
    app.login.close()

    def hint_for_a_newcomer() -> str:
        fresh = QSettings(str(tmp_path / f"other-{len(seen)}.ini"), QSettings.Format.IniFormat)
        seen.append(fresh)
        other = SalesDeskApp(None, fresh, Secrets())
        try:
            with qtbot.waitSignal(other.database_ready, timeout=60_000):
                other.start()
            return other.login.hint_label.text()
        finally:
            if other.login is not None:
                other.login.close()
            other.shutdown()

    seen: list[QSettings] = []
    assert hint_for_a_newcomer() == DEMO_HINT
    admin = auth.login(db, "admin", DEMO_PASSWORD)
    alice = auth.login(db, "alice", DEMO_PASSWORD)
    team.set_password(db, admin, alice.id, "a-new-secret")
    assert hint_for_a_newcomer() == ""
    app.shutdown()


def test_a_floor_in_a_named_file_is_named_as_a_file(qtbot, home, settings, tmp_path):
    from salesdesk import migrations
    from salesdesk.config import Secrets
    from salesdesk.db import Database, sqlite_url

    url = sqlite_url(tmp_path / "branch.db")
    migrations.upgrade(Database(url))
    controller = SalesDeskApp(url, settings, Secrets())
    try:
        with qtbot.waitSignal(controller.database_ready, timeout=60_000):
            controller.start()
        shown = controller.login.status_label.text()
        assert shown == f"Sign in to the floor in the file {tmp_path / 'branch.db'}."
        assert controller.login.hint_label.text() == ""  # no demo team in it
    finally:
        if controller.login is not None:
            controller.login.close()
        controller.shutdown()
