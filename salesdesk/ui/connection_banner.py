"""The banner shown while the database cannot be reached, and the reconnecting behind it.

When a call fails with ``DatabaseUnavailableError`` nothing was changed (the
transaction rolled back), so the banner can promise exactly that. It then
tries the database every few seconds on the worker thread; the moment it
answers, the banner goes and every view reloads.
"""

from __future__ import annotations

import html

from PySide6.QtCore import QTimer, Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QWidget

from salesdesk.ui.context import ALL_TOPICS, AppContext
from salesdesk.ui.tasks import TaskFailure

RETRY_MS = 5000


class ConnectionBanner(QFrame):
    """ "Lost the connection" with a Retry button, and automatic retries.

    Signals:
        reconnected(): the database answered again.
    """

    reconnected = Signal()

    def __init__(self, context: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._context = context
        self.setObjectName("connectionBanner")
        self.setStyleSheet(
            "#connectionBanner { background: rgba(220, 50, 50, 0.22);"
            " border-bottom: 2px solid rgb(200, 40, 40); }"
        )
        self._label = QLabel()
        self._label.setWordWrap(True)
        self.retry_button = QPushButton("Retry now")
        self.retry_button.setToolTip("Try to reach the database again now")
        self.retry_button.clicked.connect(self.retry)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(12, 8, 12, 8)
        layout.addWidget(self._label, 1)
        layout.addWidget(self.retry_button)
        self._timer = QTimer(self)
        self._timer.setInterval(RETRY_MS)
        self._timer.timeout.connect(self.retry)
        context.tasks.database_unavailable.connect(self._on_unavailable)
        context.tasks.database_available.connect(self._on_available)
        self.hide()

    @property
    def text(self) -> str:
        return self._label.text()

    def _on_unavailable(self, message: str) -> None:
        self._label.setText(
            "<b>The database cannot be reached.</b> Anything you clicked while it was away "
            "was not done — nothing is half done. SalesDesk keeps trying every "
            f"{RETRY_MS // 1000} seconds; your work reappears as soon as it answers."
            f"<br><small>{html.escape(message)}</small>"
        )
        self.show()
        if not self._timer.isActive():
            self._timer.start()

    def retry(self) -> None:
        from salesdesk.services.desk import ping

        if not self._context.tasks.is_running("connection.retry"):
            self._context.tasks.submit(
                ping,
                self._context.db,
                on_done=lambda _: None,
                on_error=self._on_retry_failed,
                key="connection.retry",
                busy=[self.retry_button],
            )

    def _on_retry_failed(self, failure: TaskFailure) -> None:
        if not failure.database_unavailable:
            self._context.tasks.failed.emit(failure)

    def _on_available(self) -> None:
        if self.isHidden() and not self._timer.isActive():
            return
        self._timer.stop()
        self.hide()
        self.reconnected.emit()
        self._context.announce(ALL_TOPICS)
