"""Sign in: user name and password, with the last user remembered.

The dialog opens at once, before the database is ready (opening and, on a
first start, building the demo floor happen on the worker thread); the Sign in
button waits for :meth:`LoginDialog.set_ready`.
"""

from __future__ import annotations

import html
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QSettings, Qt, Signal
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QVBoxLayout,
    QWidget,
)

from salesdesk.ui.tasks import TaskFailure, TaskRunner

if TYPE_CHECKING:
    from salesdesk.services.records import Actor

LAST_USER_KEY = "login/last_user"


def _login(db: Any, username: str, password: str) -> Actor:
    # Imported here, on the worker: the services pull in SQLAlchemy, which the
    # login window must not wait for on the main thread.
    from salesdesk.services import auth

    return auth.login(db, username, password)


class LoginDialog(QDialog):
    """Asks who is at the screen.

    Args:
        tasks: the task runner (the password check runs off the UI thread).
        settings: where the last user name is kept.
        embedded: True on this computer's own floor (offers to connect to a team's).

    Signals:
        signed_in(object): the :class:`Actor` who signed in.
        connect_requested(): "Connect to a team's database…" was clicked.
    """

    signed_in = Signal(object)
    connect_requested = Signal()

    def __init__(
        self,
        tasks: TaskRunner,
        settings: QSettings,
        embedded: bool = True,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self._tasks = tasks
        self._settings = settings
        self._db: Any = None
        self.setWindowTitle("Sign in to SalesDesk")

        title = QLabel("<h2>SalesDesk</h2>")
        self.status_label = QLabel("Opening the database…")
        self.status_label.setWordWrap(True)
        self.hint_label = QLabel()
        self.hint_label.setWordWrap(True)
        self.hint_label.hide()
        self.user_edit = QLineEdit(str(settings.value(LAST_USER_KEY, "") or ""))
        self.user_edit.setPlaceholderText("your user name")
        self.password_edit = QLineEdit()
        self.password_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.password_edit.setPlaceholderText("your password")
        form = QFormLayout()
        form.addRow("User name:", self.user_edit)
        form.addRow("Password:", self.password_edit)
        self.error_label = QLabel()
        self.error_label.setWordWrap(True)
        self.error_label.setStyleSheet("color: #c62828; font-weight: bold;")
        self.error_label.hide()

        buttons = QDialogButtonBox()
        self.sign_in_button = buttons.addButton("Sign in", QDialogButtonBox.ButtonRole.AcceptRole)
        self.sign_in_button.setDefault(True)
        self.sign_in_button.setEnabled(False)
        buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self._on_sign_in_clicked)
        buttons.rejected.connect(self.reject)
        words = "Connect to a team's database…" if embedded else "Change database…"
        self.connect_link = QLabel(f'<a href="connect">{words}</a>')
        self.connect_link.setToolTip("Use your team's shared PostgreSQL database instead")
        self.connect_link.linkActivated.connect(lambda _link: self.connect_requested.emit())

        layout = QVBoxLayout(self)
        layout.addWidget(title)
        layout.addWidget(self.status_label)
        layout.addWidget(self.hint_label)
        layout.addLayout(form)
        layout.addWidget(self.error_label)
        layout.addWidget(buttons)
        layout.addWidget(self.connect_link, 0, Qt.AlignmentFlag.AlignLeft)
        self.setMinimumWidth(440)
        (self.password_edit if self.user_edit.text() else self.user_edit).setFocus()

    def set_ready(self, db: Any, where: str, hint: str = "") -> None:
        """The database is open: allow signing in. ``where`` names it for the person."""
        self._db = db
        self.status_label.setText(where)
        self.hint_label.setText(hint)
        self.hint_label.setVisible(bool(hint))
        self.sign_in_button.setEnabled(True)
        self._fit()

    def show_error(self, message: str) -> None:
        self.error_label.setText(html.escape(message))
        self.error_label.show()
        self._fit()

    def _fit(self) -> None:
        """Grow to fit a line shown after the window was laid out (the hint, an error).

        Not before the window is shown: its size is then Qt's 640x480 placeholder,
        and resizing to that would keep it; shown later, it takes its size hint,
        which already has room for the line.
        """
        if not self.isVisible():
            return
        self.layout().activate()
        self.resize(self.size().expandedTo(self.sizeHint()))

    def _on_sign_in_clicked(self) -> None:
        if self._db is None:
            return
        username = self.user_edit.text().strip().lower()
        if not username or not self.password_edit.text():
            self.show_error("Enter your user name and password.")
            return
        self.error_label.hide()
        self._tasks.submit(
            _login,
            self._db,
            username,
            self.password_edit.text(),
            on_done=self._on_signed_in,
            on_error=self._on_failed,
            key="login",
            busy=[self.sign_in_button, self.user_edit, self.password_edit],
        )

    def _on_signed_in(self, actor: Actor) -> None:
        self._settings.setValue(LAST_USER_KEY, actor.username)
        self.signed_in.emit(actor)
        self.accept()

    def _on_failed(self, failure: TaskFailure) -> None:
        self.show_error(failure.message)
        self.password_edit.selectAll()
        self.password_edit.setFocus()
