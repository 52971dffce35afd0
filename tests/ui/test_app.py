"""The app from start to desk: first start builds the demo floor, login, sign out."""

from __future__ import annotations

import pytest
import shiboken6

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
