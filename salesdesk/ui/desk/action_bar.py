"""Big buttons for the desk's commands, each labelled with its key.

A plain QPushButton per QAction (rather than QToolButton.setDefaultAction,
which rewrites the label whenever the action changes) so the label can carry
the shortcut — "Dead   D" — and a new rep learns the keys by reading.
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QHBoxLayout, QPushButton, QSizePolicy, QWidget


def action_button(action: QAction, parent: QWidget | None = None) -> QPushButton:
    """A button that triggers ``action`` and follows its enabled state and tooltip."""
    key = action.shortcut().toString(QKeySequence.SequenceFormat.NativeText)
    text = action.text().replace("&", "")
    button = QPushButton(f"{text}   {key}" if key else text, parent)
    button.setToolTip(action.toolTip())
    button.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # the list keeps the keyboard focus
    button.setMinimumHeight(button.sizeHint().height() + 10)
    button.setEnabled(action.isEnabled())
    button.clicked.connect(action.trigger)
    action.enabledChanged.connect(button.setEnabled)
    return button


class ActionBar(QWidget):
    """A row of :func:`action_button` s, one per action, sharing the width equally."""

    def __init__(self, actions: Sequence[QAction], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.buttons: dict[QAction, QPushButton] = {}
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        for action in actions:
            button = action_button(action, self)
            button.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
            self.buttons[action] = button
            layout.addWidget(button)
