"""A plain message right under the field it is about, in the error colour.

Refusals belong next to the field that caused them, in words, rather than in a
box that hides the form; the message disappears as soon as the value is fine.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QLabel, QWidget

ERROR_COLOUR = "#c62828"


class FieldMessage(QLabel):
    """Hidden while empty; shows the message for one field."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWordWrap(True)
        self.setTextFormat(Qt.TextFormat.PlainText)
        self.setStyleSheet(f"color: {ERROR_COLOUR};")
        self.setForegroundRole(QPalette.ColorRole.Text)
        self.hide()

    def show_message(self, text: str) -> None:
        self.setText(text)
        self.setVisible(bool(text))

    def clear_message(self) -> None:
        self.show_message("")

    @property
    def message(self) -> str:
        return self.text()


class HelpText(QLabel):
    """A field's explanation in smaller, muted text; hidden while empty."""

    def __init__(self, text: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWordWrap(True)
        self.setTextFormat(Qt.TextFormat.PlainText)
        self.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        font = self.font()
        font.setPointSizeF(font.pointSizeF() * 0.9)
        self.setFont(font)
        self.setText(text)

    def setText(self, text: str) -> None:  # noqa: N802 - Qt override
        super().setText(text)
        self.setVisible(bool(text))


def help_label(text: str, parent: QWidget | None = None) -> HelpText:
    return HelpText(text, parent)
