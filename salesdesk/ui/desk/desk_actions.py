"""The desk's commands as QActions: one object per command, shared by buttons and menus.

A QAction carries its shortcut, and its tooltip names the key, so a button, a
menu entry and the keyboard are the same command — enabled and disabled
together. Single keys (N, D, C, E, A, P) do not fire while a text field has
focus: Qt lets the field take the key, so typing a note or a search is safe.
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import QObject, Qt
from PySide6.QtGui import QAction, QKeySequence


@dataclass(frozen=True)
class DeskActions:
    next_lead: QAction
    dead: QAction
    call_back: QAction
    email_confirmed: QAction
    appointment: QAction
    call: QAction
    find: QAction
    refresh: QAction
    show_current: QAction
    show_call_backs: QAction

    @property
    def lead_actions(self) -> tuple[QAction, ...]:
        """The four action-bar buttons, in their order."""
        return (self.dead, self.call_back, self.email_confirmed, self.appointment)

    def all(self) -> tuple[QAction, ...]:
        return (
            self.next_lead,
            *self.lead_actions,
            self.call,
            self.find,
            self.refresh,
            self.show_current,
            self.show_call_backs,
        )


def _action(parent: QObject, text: str, keys: str, tip: str) -> QAction:
    action = QAction(text, parent)
    action.setShortcut(QKeySequence(keys))
    shown = QKeySequence(keys).toString(QKeySequence.SequenceFormat.NativeText)
    action.setToolTip(f"{tip} ({shown})")
    action.setStatusTip(tip)
    action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
    return action


def build_desk_actions(parent: QObject) -> DeskActions:
    return DeskActions(
        next_lead=_action(parent, "&Next lead", "N", "Take your next lead from the pool"),
        dead=_action(parent, "&Dead", "D", "Mark this lead dead (asks first)"),
        call_back=_action(parent, "&Call Back…", "C", "Set a day and time to call this lead back"),
        email_confirmed=_action(
            parent,
            "&Email Confirmed",
            "E",
            "Send the confirmation email; the lead stays in Current",
        ),
        appointment=_action(
            parent, "&Appointment", "A", "Appointment made: hand this lead to the admin team"
        ),
        call=_action(parent, "Call &phone", "P", "Call this lead's phone and record the contact"),
        find=_action(
            parent, "&Find…", "Ctrl+F", "Search your leads by name, company, email or phone"
        ),
        refresh=_action(parent, "&Refresh", "F5", "Reload your lists now"),
        show_current=_action(parent, "Current list", "Ctrl+1", "Show your Current leads"),
        show_call_backs=_action(parent, "Call backs list", "Ctrl+2", "Show your Call backs"),
    )
