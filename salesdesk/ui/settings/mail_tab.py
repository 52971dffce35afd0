"""The Mail server tab: host, port, security, user, From; the password goes to the keychain.

The fields are the ``mail_*`` rules and are checked as typed with the rules'
own validators. The password is never a rule: it is kept in this computer's
keychain (``mail_server.store_mail_password``). The test button sends a test
email with what is on screen, saved or not (and the password typed here, else
the keychain's), so a server can be tried before it is saved; it reports
success or the server's own words.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from salesdesk.services import rules
from salesdesk.services.errors import ValidationError
from salesdesk.ui.context import AppContext
from salesdesk.ui.settings.failed_mail_panel import FailedMailPanel
from salesdesk.ui.settings.field_message import FieldMessage, help_label
from salesdesk.ui.tasks import TaskFailure

SECURITY = (
    ("starttls", "STARTTLS (usually port 587)"),
    ("ssl", "SSL/TLS (usually port 465)"),
    ("none", "None — a relay on a trusted network (port 25)"),
)
DEFAULT_PORTS = {"starttls": 587, "ssl": 465, "none": 25}
FIELDS = (
    "mail_host",
    "mail_port",
    "mail_security",
    "mail_user",
    "mail_from_address",
    "mail_from_name",
    "mail_ca_file",
)


class MailTab(QWidget):
    """The mail server's settings, the password, and the test button.

    Signals:
        edited(): a value changed.
        tested(str, bool): the test's sentence and whether it succeeded.
    """

    edited = Signal()
    tested = Signal(str, bool)

    def __init__(self, context: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._context = context
        self._original: dict[str, Any] = {}
        self._loading = False
        self.host = QLineEdit()
        self.host.setPlaceholderText("smtp.example.com")
        self.port = QSpinBox()
        self.port.setRange(1, 65535)
        self.security = QComboBox()
        for value, words in SECURITY:
            self.security.addItem(words, value)
        self.user = QLineEdit()
        self.user.setPlaceholderText("Empty for a server that needs no sign-in")
        self.password = QLineEdit()
        self.password.setEchoMode(QLineEdit.EchoMode.Password)
        self.password_state = help_label("")
        self.from_address = QLineEdit()
        self.from_address.setPlaceholderText("sales@example.com")
        self.from_name = QLineEdit()
        self.ca_file = QLineEdit()
        self.ca_file.setPlaceholderText(
            "Optional: a PEM file of your company's own certificate authority"
        )
        self.editors: dict[str, QWidget] = {
            "mail_host": self.host,
            "mail_port": self.port,
            "mail_security": self.security,
            "mail_user": self.user,
            "mail_from_address": self.from_address,
            "mail_from_name": self.from_name,
            "mail_ca_file": self.ca_file,
        }
        self.messages = {key: FieldMessage() for key in (*FIELDS, "password")}
        form = QFormLayout()
        for label, key, widget in (
            ("Mail server", "mail_host", self.host),
            ("Port", "mail_port", self.port),
            ("Security", "mail_security", self.security),
            ("User name", "mail_user", self.user),
            ("Password", "password", self.password),
            ("From address", "mail_from_address", self.from_address),
            ("From name", "mail_from_name", self.from_name),
            ("Extra CA file", "mail_ca_file", self.ca_file),
        ):
            box = QVBoxLayout()
            box.setSpacing(2)
            box.addWidget(widget)
            if key == "password":
                box.addWidget(self.password_state)
            box.addWidget(self.messages[key])
            form.addRow(label, box)
        self.test_button = QPushButton("Send test email")
        self.test_result = QLabel()
        self.test_result.setWordWrap(True)
        self.test_hint = help_label("")
        test_row = QHBoxLayout()
        test_row.addWidget(self.test_button)
        test_row.addWidget(self.test_result, 1)
        intro = help_label(
            "Until a server is set up, emails wait in the outbox; nothing is lost. Every "
            "client sends through the server saved here."
        )
        column = QVBoxLayout()
        column.addWidget(intro)
        column.addLayout(form)
        column.addLayout(test_row)
        column.addWidget(self.test_hint)
        self.failed_mail = FailedMailPanel(context)
        column.addWidget(self.failed_mail, 1)
        holder = QWidget()
        holder.setLayout(column)
        holder.setMaximumWidth(760)
        layout = QHBoxLayout(self)
        layout.addWidget(holder, 1)
        layout.addStretch(0)

        for line in (self.host, self.user, self.from_address, self.from_name, self.ca_file):
            line.textEdited.connect(self._on_edited)
        self.port.valueChanged.connect(self._on_edited)
        self.security.currentIndexChanged.connect(self._on_security)
        self.password.textEdited.connect(self._on_edited)
        self.test_button.clicked.connect(self.run_test)

    # --- values ---

    def load(self, current: rules.Rules, password_saved: bool, keychain_message: str) -> None:
        self._loading = True
        try:
            self.host.setText(current.mail_host)
            self.port.setValue(current.mail_port)
            self.security.setCurrentIndex(max(0, self.security.findData(current.mail_security)))
            self.user.setText(current.mail_user)
            self.from_address.setText(current.mail_from_address)
            self.from_name.setText(current.mail_from_name)
            self.ca_file.setText(current.mail_ca_file)
            self.password.clear()
        finally:
            self._loading = False
        self._original = self.values()
        saved = "A password is saved in this computer's keychain; type here to replace it."
        self.password.setPlaceholderText("Saved" if password_saved else "")
        self.password_state.setText(
            keychain_message
            or (saved if password_saved else "Kept in this computer's keychain, never in a file.")
        )
        for message in self.messages.values():
            message.clear_message()
        self._sync_test()
        self.failed_mail.refresh()

    def values(self) -> dict[str, Any]:
        return {
            "mail_host": self.host.text().strip(),
            "mail_port": self.port.value(),
            "mail_security": self.security.currentData(),
            "mail_user": self.user.text().strip(),
            "mail_from_address": self.from_address.text().strip(),
            "mail_from_name": self.from_name.text().strip(),
            "mail_ca_file": self.ca_file.text().strip(),
        }

    def changes(self) -> dict[str, Any]:
        now = self.values()
        return {k: v for k, v in now.items() if v != self._original.get(k)}

    @property
    def new_password(self) -> str:
        return self.password.text()

    # --- checking ---

    def check(self, key: str) -> str:
        try:
            rules.validate({key: self.values()[key]})
        except ValidationError as exc:
            self.messages[key].show_message(exc.message)
            return exc.message
        self.messages[key].clear_message()
        return ""

    def check_all(self) -> list[str]:
        found = [m for key in FIELDS if (m := self.check(key))]
        return found + self._check_together()

    def _check_together(self) -> list[str]:
        """Settings each fine but wrong together (as ``rules.check_combination``).

        Runs right after the single-field checks, so it only adds messages.
        """
        values = self.values()
        found: list[str] = []
        pairs = (
            (
                "mail_from_address",
                bool(values["mail_host"]) and not values["mail_from_address"],
                "Enter the From address that mail is sent from.",
            ),
            (
                "mail_security",
                bool(values["mail_user"]) and values["mail_security"] == "none",
                "Signing in without encryption would send the mail password in the clear: "
                "choose STARTTLS or SSL, or clear the user name.",
            ),
            (
                "password",
                bool(self.new_password) and not (values["mail_host"] and values["mail_user"]),
                "Enter the mail server and user name for this password.",
            ),
        )
        for key, wrong, message in pairs:
            if wrong:
                self.messages[key].show_message(message)
                found.append(message)
            elif key == "password":  # the others were just checked on their own
                self.messages[key].clear_message()
        return found

    def show_refusal(self, field: str, message: str) -> None:
        self.messages.get(field, self.messages["mail_host"]).show_message(message)

    def _on_security(self, _index: int) -> None:
        if self._loading:
            return
        # Follow the usual port for the new security, unless a custom port was typed.
        if self.port.value() in DEFAULT_PORTS.values():
            self.port.setValue(DEFAULT_PORTS[self.security.currentData()])
        self._on_edited()

    def _on_edited(self, *_args: object) -> None:
        if self._loading:
            return
        for key in FIELDS:
            self.check(key)
        self._check_together()
        self._sync_test()
        self.edited.emit()

    # --- the test ---

    def _sync_test(self) -> None:
        entered = bool(self.host.text().strip())
        self.test_button.setEnabled(entered)
        if not entered:
            self.test_hint.setText("Enter a mail server, then test it here.")
        elif self.changes() or self.new_password:
            self.test_hint.setText(
                "Tests what is on screen, not saved yet, with the password typed here (or the "
                "one kept in this keychain). Save keeps it."
            )
        else:
            self.test_hint.setText("Uses the saved settings and the password in this keychain.")

    def run_test(self) -> None:
        from salesdesk.services import mail_server  # smtplib and ssl: loaded when first used

        self.test_result.setText("Contacting the mail server…")
        self._context.run(
            mail_server.send_test_email,
            secrets=self._context.secrets,
            changes=self.changes(),
            password=self.new_password,
            on_done=self._on_tested,
            on_error=self._on_test_failed,
            key="settings.mail_test",
            busy=[self.test_button],
        )

    def _on_tested(self, sentence: str) -> None:
        self.test_result.setText(sentence)
        self.test_result.setStyleSheet("color: #2e7d32;")
        self.tested.emit(sentence, True)

    def _on_test_failed(self, failure: TaskFailure) -> None:
        self.test_result.setText(failure.message)
        self.test_result.setStyleSheet("color: #c62828;")
        self.tested.emit(failure.message, False)
