"""Connecting to a team's PostgreSQL: the address checked, the connection tried, then saved."""

from __future__ import annotations

import pytest
from sqlalchemy.engine import make_url

from salesdesk.config import Secrets, load_config, with_password
from salesdesk.services.errors import ValidationError
from salesdesk.ui.connect_dialog import ConnectDialog, team_database
from tests.ui.conftest import wait_idle
from tests.ui.test_connection_banner import proxy  # noqa: F401 - the TCP forwarder fixture


def test_the_address_gets_the_user_and_never_a_password():
    team = team_database("postgresql://DB.example.com:5433/sales", "alice")
    assert team.url == "postgresql://alice@db.example.com:5433/sales"
    assert team.account == "alice@db.example.com:5433/sales"
    assert team_database("db.example.com/sales", "bob").url == (
        "postgresql://bob@db.example.com:5432/sales"
    )


@pytest.mark.parametrize(
    ("server", "user", "words"),
    [
        ("", "alice", "Enter the server address"),
        ("mysql://db/sales", "alice", "starts with postgresql://"),
        ("postgresql://db.example.com", "alice", "needs a server and a database name"),
        ("postgresql://u:secret@db/sales", "alice", "Password field"),
        ("postgresql://db/sales", "", "user name"),
        ("postgresql://db:port/sales", "alice", "port"),
    ],
)
def test_a_bad_address_is_refused_in_words(server, user, words):
    with pytest.raises(ValidationError, match=words):
        team_database(server, user)


@pytest.fixture
def no_keychain():
    """A computer without a password keychain (as a headless Linux box is)."""
    import keyring
    from keyring.backends import fail

    previous = keyring.get_keyring()
    keyring.set_keyring(fail.Keyring())
    yield
    keyring.set_keyring(previous)


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("SALESDESK_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("SALESDESK_DB", raising=False)
    return tmp_path / "home"


def _dialog(qtbot, tasks, secrets):
    dialog = ConnectDialog(tasks, secrets)
    qtbot.addWidget(dialog)
    dialog.show()
    return dialog


def test_without_a_keychain_it_says_so_before_the_password_is_typed(qtbot, tasks, no_keychain):
    secrets = Secrets()
    assert not secrets.keychain_available
    dialog = _dialog(qtbot, tasks, secrets)
    assert "no password keychain" in dialog.keychain_label.text()
    assert "this session only" in dialog.keychain_label.text()


def test_connecting_tries_the_server_then_saves_the_address_and_keeps_the_password(
    qtbot,
    tasks,
    home,
    pg_template,
    proxy,  # noqa: F811
    no_keychain,
):
    secrets = Secrets()
    database = make_url(pg_template).database
    dialog = _dialog(qtbot, tasks, secrets)
    dialog.server_edit.setText(f"postgresql://127.0.0.1:{proxy.port}/{database}")
    dialog.user_edit.setText("postgres")
    dialog.password_edit.setText("s3cret")
    with qtbot.waitSignal(dialog.connected, timeout=15_000) as connected:
        dialog.connect_button.click()
    assert "this session only" in connected.args[0]
    saved = load_config().database_url
    assert saved == f"postgresql://postgres@127.0.0.1:{proxy.port}/{database}"
    assert "s3cret" not in (home / "config.json").read_text()
    assert make_url(with_password(saved, secrets)).password == "s3cret"


def test_a_server_that_does_not_answer_is_said_in_words(qtbot, tasks, home, proxy):  # noqa: F811
    proxy.stop()
    dialog = _dialog(qtbot, tasks, Secrets())
    dialog.server_edit.setText(f"postgresql://127.0.0.1:{proxy.port}/sales")
    dialog.user_edit.setText("alice")
    dialog.password_edit.setText("whatever")
    dialog.connect_button.click()
    wait_idle(qtbot, tasks, timeout=15_000)
    assert "cannot be reached" in dialog.error_label.text()
    assert dialog.isVisible()
    assert load_config().database_url is None
