"""An inline message bar: refusals and confirmations in plain words, inside the window.

A modal box would stop a rep mid-shift for something as ordinary as "the pool
is empty"; a traceback would frighten them. The bar sits above the work, says
what happened and what to do, and goes away on its own (information) or when
closed (warnings and errors).
"""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QSizePolicy, QToolButton, QWidget

INFO, WARNING, ERROR = "info", "warning", "error"

# Tints laid over the palette's own window colour, so the bar reads on light and dark themes.
_TINTS = {
    INFO: "rgba(40, 120, 220, 0.16)",
    WARNING: "rgba(230, 160, 0, 0.22)",
    ERROR: "rgba(220, 50, 50, 0.20)",
}
_EDGES = {INFO: "rgb(40, 120, 220)", WARNING: "rgb(210, 140, 0)", ERROR: "rgb(200, 40, 40)"}
INFO_TIMEOUT_MS = 8000


class MessageBar(QFrame):
    """One message at a time, with a level that sets its colour.

    Signals:
        closed(): the person dismissed the message.
    """

    closed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("messageBar")
        self.level = INFO
        self._label = QLabel()
        self._label.setWordWrap(True)
        self._label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self._label.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        close = QToolButton()
        close.setText("✕")
        close.setAutoRaise(True)
        close.setToolTip("Dismiss this message")
        close.clicked.connect(self._on_close_clicked)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(12, 6, 6, 6)
        layout.addWidget(self._label)
        layout.addWidget(close, 0, Qt.AlignmentFlag.AlignTop)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self.hide)
        self.hide()

    @property
    def text(self) -> str:
        return self._label.text()

    def show_message(self, text: str, level: str = INFO) -> None:
        """Show ``text``; information hides itself after a few seconds."""
        self.level = level
        self._label.setText(text)
        self.setStyleSheet(
            f"#messageBar {{ background: {_TINTS[level]}; border: 1px solid {_EDGES[level]};"
            " border-radius: 4px; }"
        )
        self.setAccessibleName(f"{level}: {text}")
        self.show()
        if level == INFO:
            self._timer.start(INFO_TIMEOUT_MS)
        else:
            self._timer.stop()

    def clear(self) -> None:
        self._timer.stop()
        self._label.clear()
        self.hide()

    def _on_close_clicked(self) -> None:
        self.clear()
        self.closed.emit()
