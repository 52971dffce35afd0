"""The desktop app: the one place that builds the concrete objects and passes them in.

Start-up order is chosen for speed: the login window appears as soon as Qt is
up, while the database is opened, migrated and — on a first start of the
embedded floor — filled with the demo team, on the worker thread. By the time
the person has typed a password the database is ready.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QEvent, QObject, QSettings, Qt, QTimer, Signal
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QApplication, QWidget

from salesdesk import __version__
from salesdesk.ui.login_dialog import LoginDialog
from salesdesk.ui.tasks import TaskFailure, TaskRunner

log = logging.getLogger("salesdesk.ui")

DEMO_HINT = (
    "This is a demo floor on this computer, with sample leads. Sign in as a rep "
    "(alice, bob, carol or dave), as manager, or as admin — the password is demo1234."
)


@dataclass(frozen=True, slots=True)
class OpenedDatabase:
    db: Any
    url: str
    embedded: bool
    built_demo: bool
    secrets: Any
    demo_password: bool = False  # the demo accounts still take the demo password


def open_database(cli_url: str | None, secrets: Any) -> OpenedDatabase:
    """Resolve, open and migrate the database; build the demo floor on a first start.

    Runs on the worker thread: it imports SQLAlchemy and Alembic (and, through
    the config, the keychain), which take longer than drawing the login window.
    """
    from salesdesk import migrations
    from salesdesk.config import Secrets, embedded_url, resolve_database_url, with_password
    from salesdesk.db import Database
    from salesdesk.services import demo

    if secrets is None:
        secrets = Secrets()
    url = resolve_database_url(cli_url)
    embedded = url == embedded_url()
    db = Database(with_password(url, secrets))
    try:
        migrations.upgrade(db)
        built = False
        if embedded and not demo.has_data(db):
            demo.build_demo_floor(db)
            built = True
        demo_password = built or demo.demo_password_works(db)
    except BaseException:
        db.dispose()
        raise
    # Load the desk's code now, while the person types a password, rather than
    # after they press Sign in (importing only defines classes; no widget is made).
    import salesdesk.ui.live
    import salesdesk.ui.main_window  # noqa: F401

    return OpenedDatabase(
        db=db,
        url=url,
        embedded=embedded,
        built_demo=built,
        secrets=secrets,
        demo_password=demo_password,
    )


class SalesDeskApp(QObject):
    """Login, the main window, sign-out and switching databases.

    Signals:
        login_shown(object): the :class:`LoginDialog` is on screen.
        database_ready(object): the database is open (an :class:`OpenedDatabase`).
        main_window_shown(object): the :class:`MainWindow` is on screen.
    """

    login_shown = Signal(object)
    database_ready = Signal(object)
    main_window_shown = Signal(object)

    def __init__(
        self,
        db_url: str | None,
        settings: QSettings,
        secrets: Any = None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._db_url = db_url
        self._settings = settings
        self._secrets = secrets
        self.tasks = TaskRunner(self)
        self.opened: OpenedDatabase | None = None
        self.login: LoginDialog | None = None
        self.window: Any = None
        self._watcher: Any = None
        self._context: Any = None

    # --- start and login ------------------------------------------------------------------

    def start(self) -> None:
        """Show the login; open the database once the login has been drawn.

        Opening imports most of SQLAlchemy on the worker thread; started after the
        first paint, it does not compete with drawing the window for the GIL.
        """
        login = self._show_login()
        after_first_paint(login, self._open_database)

    def _open_database(self) -> None:
        self.tasks.submit(
            open_database,
            self._db_url,
            self._secrets,
            on_done=self._on_database_open,
            on_error=self._on_database_failed,
            key="app.open",
        )

    @property
    def secrets(self) -> Any:
        """The keychain wrapper (made by the worker while opening, or here if asked first)."""
        if self._secrets is None:
            from salesdesk.config import Secrets

            self._secrets = Secrets()
        return self._secrets

    def _show_login(self) -> LoginDialog:
        embedded = self.opened.embedded if self.opened else self._db_url is None
        login = LoginDialog(self.tasks, self._settings, embedded=embedded)
        login.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        login.signed_in.connect(self._on_signed_in)
        login.connect_requested.connect(self._on_connect_requested)
        login.rejected.connect(self._on_login_rejected)
        login.finished.connect(lambda _result, done=login: self._forget_login(done))
        self.login = login
        login.show()
        if self.opened is not None:
            self._login_ready()
        after_first_paint(login, lambda: self.login_shown.emit(login))
        return login

    def _on_database_open(self, opened: OpenedDatabase) -> None:
        self.opened = opened
        if self._secrets is None:
            self._secrets = opened.secrets
        self._login_ready()
        self.database_ready.emit(opened)

    def _login_ready(self) -> None:
        opened = self.opened
        if self.login is None or opened is None:
            return
        url = opened.db.url
        if opened.embedded:
            where = "Sign in to the floor on this computer."
        elif url.get_backend_name() == "sqlite":
            where = f"Sign in to the floor in the file {url.database}."
        else:
            where = (
                f"Sign in to the team's database {url.database} on {url.host or 'this computer'}."
            )
        hint = DEMO_HINT if opened.demo_password else ""
        self.login.set_ready(opened.db, where, hint)

    def _on_database_failed(self, failure: TaskFailure) -> None:
        if self.login is None:
            return
        self.login.status_label.setText("SalesDesk could not open its database.")
        self.login.show_error(failure.message)

    def _on_signed_in(self, actor: Any) -> None:
        from salesdesk.ui.context import AppContext
        from salesdesk.ui.live import LiveWatcher
        from salesdesk.ui.main_window import MainWindow

        assert self.opened is not None
        context = AppContext(
            self.opened.db,
            self.tasks,
            self.secrets,
            settings=self._settings,
            embedded=self.opened.embedded,
            parent=self,
        )
        context.sign_in(actor)
        window = MainWindow(context)
        window.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        window.sign_out_requested.connect(self._on_sign_out_requested)
        window.connect_requested.connect(self._on_connect_requested)
        window.show()
        self._watcher = LiveWatcher(context)
        self._watcher.start()
        self._context, self.window, self.login = context, window, None
        self.main_window_shown.emit(window)

    def _forget_login(self, login: LoginDialog) -> None:
        if self.login is login:
            self.login = None  # it deletes itself on close

    def _on_login_rejected(self) -> None:
        if self.window is None:
            QApplication.quit()

    # --- leaving, switching ------------------------------------------------------------------

    def _end_session(self) -> None:
        if self._watcher is not None:
            self._watcher.stop()
            self._watcher = None
        if self._context is not None:
            self._context.deleteLater()
            self._context = None

    def _on_sign_out_requested(self) -> None:
        window = self.window
        self._end_session()
        self.window = None
        self._show_login()  # first, so the app never has no window
        if window is not None:
            window.close()

    def _on_connect_requested(self) -> None:
        from salesdesk.ui.connect_dialog import ConnectDialog

        parent: QWidget | None = self.window or self.login
        current = self.opened.url if self.opened else ""
        dialog = ConnectDialog(self.tasks, self.secrets, current_url=current, parent=parent)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.connected.connect(self._on_database_changed)
        dialog.open()

    def _on_database_changed(self, note: str) -> None:
        old_window, old_login, old = self.window, self.login, self.opened
        self._end_session()
        self.window, self.opened = None, None
        self._db_url = None  # from now on the saved configuration decides
        self.start()
        if note and self.login is not None:
            self.login.show_error(note)
        if old_login is not None:
            old_login.rejected.disconnect(self._on_login_rejected)  # closing is not "Cancel"
        for widget in (old_window, old_login):
            if widget is not None:
                widget.close()
        if old is not None:
            self.tasks.submit(old.db.dispose, key="app.dispose")

    def shutdown(self) -> None:
        """Let a running call finish (done once, never half), then close the database."""
        self._end_session()
        self.tasks.shutdown(wait=True)
        if self.opened is not None:
            self.opened.db.dispose()


class _FirstPaint(QObject):
    def __init__(self, widget: QWidget, callback: Callable[[], None], fallback_ms: int) -> None:
        super().__init__(widget)
        self._callback: Callable[[], None] | None = callback
        widget.installEventFilter(self)
        QTimer.singleShot(fallback_ms, self, self._fire)  # never shown (minimised)? go anyway

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt override
        if event.type() == QEvent.Type.Paint:
            QTimer.singleShot(0, self, self._fire)  # after this paint has finished
        return False

    def _fire(self) -> None:
        callback, self._callback = self._callback, None
        if callback is not None:
            callback()


def after_first_paint(
    widget: QWidget, callback: Callable[[], None], fallback_ms: int = 300
) -> None:
    """Call ``callback`` once ``widget`` has been painted (or after ``fallback_ms``)."""
    _FirstPaint(widget, callback, fallback_ms)


def run(db_url: str | None = None) -> int:
    """Open SalesDesk; returns the process exit code."""
    QGuiApplication.setHighDpiScaleFactorRoundingPolicy(
        Qt.HighDpiScaleFactorRoundingPolicy.PassThrough
    )
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setOrganizationName("SalesDesk")
    app.setApplicationName("SalesDesk")
    app.setApplicationVersion(__version__)
    controller = SalesDeskApp(db_url, QSettings())
    controller.start()
    try:
        return int(app.exec())
    finally:
        controller.shutdown()
