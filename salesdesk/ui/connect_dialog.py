"""Connect to a team's PostgreSQL: server, user and password.

The password never goes into ``config.json``: it goes to the OS keychain
through :class:`salesdesk.config.Secrets`. Where there is no keychain the
dialog says so before the person types it, and the password is kept for this
session only. The connection is tried (and the schema brought up to date) on
the worker thread before anything is saved.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from salesdesk.config import database_account
from salesdesk.services.errors import ValidationError
from salesdesk.ui.tasks import TaskFailure, TaskRunner

EXAMPLE_URL = "postgresql://db.example.com:5432/salesdesk"


@dataclass(frozen=True, slots=True)
class TeamDatabase:
    """A team's database as typed: the URL with the user (never the password)."""

    url: str
    account: str  # the keychain entry: user@host:port/database


def team_database(server: str, user: str) -> TeamDatabase:
    """Check the typed server address and put the user into it."""
    server, user = server.strip(), user.strip()
    if not server:
        raise ValidationError(f"Enter the server address, for example {EXAMPLE_URL}")
    if "://" not in server:
        server = f"postgresql://{server}"
    parts = urlsplit(server)
    if not parts.scheme.startswith("postgresql"):
        raise ValidationError(
            f"SalesDesk connects to PostgreSQL: the address starts with postgresql:// "
            f"(for example {EXAMPLE_URL})."
        )
    if parts.password:
        raise ValidationError("Type the password in the Password field, not in the address.")
    database = parts.path.lstrip("/")
    if not parts.hostname or not database:
        raise ValidationError(
            f"The address needs a server and a database name, for example {EXAMPLE_URL}"
        )
    if not user:
        raise ValidationError("Enter your database user name.")
    try:
        port = parts.port or 5432
    except ValueError:
        raise ValidationError("The port in the address must be a number.") from None
    netloc = f"{quote(user, safe='')}@{parts.hostname}:{port}"
    url = urlunsplit((parts.scheme, netloc, f"/{database}", parts.query, ""))
    # The same entry name config.with_password looks up.
    return TeamDatabase(url=url, account=database_account(user, parts.hostname, port, database))


def try_team_database(team: TeamDatabase, password: str, secrets: Any) -> str:
    """Connect once (and migrate) with this password, then keep it. Runs on the worker.

    Returns the note to show about where the password is kept.
    """
    from salesdesk import migrations
    from salesdesk.config import Config, save_config
    from salesdesk.db import Database

    parts = urlsplit(team.url)
    netloc = parts.netloc.replace("@", f":{quote(password, safe='')}@", 1)
    db = Database(urlunsplit(parts._replace(netloc=netloc)))
    try:
        from salesdesk.services.desk import ping

        ping(db)
        migrations.upgrade(db)
    finally:
        db.dispose()
    in_keychain = secrets.set(team.account, password)
    save_config(Config(database_url=team.url))
    return "" if in_keychain else secrets.keychain_message


def use_embedded_floor() -> None:
    from salesdesk.config import Config, save_config

    save_config(Config(database_url=None))


class ConnectDialog(QDialog):
    """Server address, user and password; tried before saved.

    Signals:
        connected(str): the new database was saved; the string is a note for the
            person (about the keychain), possibly empty.
    """

    connected = Signal(str)

    def __init__(
        self,
        tasks: TaskRunner,
        secrets: Any,
        current_url: str = "",
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self._tasks = tasks
        self._secrets = secrets
        self.setWindowTitle("Connect to a team's database")
        intro = QLabel(
            "Your team's SalesDesk database runs on PostgreSQL. Ask your manager or admin "
            "for the server address and your user name."
        )
        intro.setWordWrap(True)
        self.server_edit = QLineEdit()
        self.server_edit.setPlaceholderText(EXAMPLE_URL)
        self.user_edit = QLineEdit()
        self.password_edit = QLineEdit()
        self.password_edit.setEchoMode(QLineEdit.EchoMode.Password)
        if current_url.startswith("postgresql"):
            parts = urlsplit(current_url)
            self.user_edit.setText(parts.username or "")
            host = f"{parts.hostname}:{parts.port or 5432}"
            self.server_edit.setText(f"postgresql://{host}{parts.path}")
        form = QFormLayout()
        form.addRow("Server address:", self.server_edit)
        form.addRow("User name:", self.user_edit)
        form.addRow("Password:", self.password_edit)
        self.keychain_label = QLabel(
            secrets.keychain_message
            or ("The password is kept in this computer's keychain, never in a file.")
        )
        self.keychain_label.setWordWrap(True)
        self.error_label = QLabel()
        self.error_label.setWordWrap(True)
        self.error_label.setStyleSheet("color: #c62828; font-weight: bold;")
        self.error_label.hide()
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.connect_button = buttons.addButton("Connect", QDialogButtonBox.ButtonRole.AcceptRole)
        self.connect_button.setDefault(True)
        buttons.accepted.connect(self._on_connect_clicked)
        buttons.rejected.connect(self.reject)
        self.embedded_button = QPushButton("Use this computer's floor instead")
        self.embedded_button.setAutoDefault(False)
        self.embedded_button.setFlat(True)
        self.embedded_button.clicked.connect(self._on_embedded_clicked)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addLayout(form)
        layout.addWidget(self.keychain_label)
        layout.addWidget(self.error_label)
        layout.addWidget(buttons)
        layout.addWidget(self.embedded_button)
        self.setMinimumWidth(520)

    def _on_connect_clicked(self) -> None:
        try:
            team = team_database(self.server_edit.text(), self.user_edit.text())
        except ValidationError as exc:
            self._show_error(exc.message)
            return
        if not self.password_edit.text():
            self._show_error("Enter your database password.")
            return
        self.error_label.hide()
        self._tasks.submit(
            try_team_database,
            team,
            self.password_edit.text(),
            self._secrets,
            on_done=self._on_connected,
            on_error=self._on_failed,
            key="connect",
            busy=[self.connect_button, self.embedded_button],
        )

    def _on_embedded_clicked(self) -> None:
        self._tasks.submit(
            use_embedded_floor,
            on_done=lambda _: self._on_connected(""),
            on_error=self._on_failed,
            owner=self,
            key="connect",
        )

    def _on_connected(self, note: str) -> None:
        self.connected.emit(note)
        self.accept()

    def _on_failed(self, failure: TaskFailure) -> None:
        self._show_error(failure.message)

    def _show_error(self, message: str) -> None:
        self.error_label.setText(html.escape(message))
        self.error_label.show()
