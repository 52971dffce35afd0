"""A short toast when leads are given to (or taken from) the rep while the desk runs.

The bell counts notices, but a rep on a call does not watch a number. The
toast says what happened in one line — "New lead: Jane Doe — Acme Ltd" — and
goes away on its own. It lives inside the main window (a child widget, not a
window of its own) so it never steals keyboard focus from the notes a rep is
typing, and works the same on every platform, offscreen too. News that
arrives while it is up joins it ("3 new leads") instead of stacking toasts.
"""

from __future__ import annotations

import shiboken6
from PySide6.QtCore import QEasingCurve, QEvent, QObject, QPropertyAnimation, Qt, QTimer, Signal
from PySide6.QtGui import QCursor, QEnterEvent
from PySide6.QtWidgets import (
    QFrame,
    QGraphicsOpacityEffect,
    QGridLayout,
    QLabel,
    QPushButton,
    QToolButton,
    QWidget,
)

from salesdesk.services.notifications import LeadNoticeRow, LeadNoticeSummary

TOAST_MS = 6000
FADE_MS = 400
MARGIN = 16
WIDTH = 380
EDGE = "rgb(40, 120, 220)"


class LeadToast(QFrame):
    """One toast at a time in the bottom-right corner of ``parent``.

    It stays while the mouse is over it, and while its window is not the
    active one (a rep in their email comes back to it); otherwise it fades
    after ``timeout_ms``.

    Args:
        parent: the widget whose bottom-right corner it sits in (the window's centre).
        timeout_ms: how long it stays up once nobody points at it (``TOAST_MS``).
        fade_ms: how long the fade-out takes (``FADE_MS``).

    Signals:
        lead_requested(int): "Open" on a toast about one new lead.
        list_requested(): "Open list" on a toast about several leads, or leads taken away.
    """

    lead_requested = Signal(int)
    list_requested = Signal()

    def __init__(
        self, parent: QWidget, timeout_ms: int | None = None, fade_ms: int | None = None
    ) -> None:
        super().__init__(parent)
        self.setObjectName("leadToast")
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.setAttribute(Qt.WidgetAttribute.WA_ShowWithoutActivating)
        self.setStyleSheet(
            f"#leadToast {{ background: palette(base); border: 2px solid {EDGE};"
            " border-radius: 6px; }"
        )
        self.title_label = QLabel()
        font = self.title_label.font()
        font.setBold(True)
        self.title_label.setFont(font)
        self.title_label.setWordWrap(True)
        self.detail_label = QLabel()
        self.detail_label.setWordWrap(True)
        self.open_button = QPushButton("Open")
        self.open_button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.open_button.setCursor(QCursor(Qt.CursorShape.PointingHandCursor))
        self.open_button.clicked.connect(self._on_open_clicked)
        self.close_button = QToolButton()
        self.close_button.setText("×")
        self.close_button.setAutoRaise(True)
        self.close_button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.close_button.setToolTip("Dismiss")
        self.close_button.clicked.connect(self.dismiss)
        layout = QGridLayout(self)
        layout.setContentsMargins(14, 8, 6, 10)
        layout.setHorizontalSpacing(8)
        layout.addWidget(self.title_label, 0, 0)
        layout.addWidget(self.close_button, 0, 1, Qt.AlignmentFlag.AlignTop)
        layout.addWidget(self.detail_label, 1, 0, 1, 2)
        layout.addWidget(self.open_button, 2, 0, 1, 2, Qt.AlignmentFlag.AlignRight)

        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(TOAST_MS if timeout_ms is None else timeout_ms)
        self._timer.timeout.connect(self._on_timeout)
        self._fade_ms = FADE_MS if fade_ms is None else fade_ms
        self._fade: QPropertyAnimation | None = None
        # (parent, window) whose events this toast filters: only while it is up.
        self._watching: tuple[QWidget, QWidget] | None = None
        self._clear_of: QWidget | None = None
        self._gained: list[LeadNoticeRow] = []
        self._lost: list[LeadNoticeRow] = []
        self._due: list[LeadNoticeRow] = []
        self.gained_count = 0
        self.lost_count = 0
        self.due_count = 0
        self.hide()

    # --- what it says ---------------------------------------------------------------------

    def show_notices(self, summary: LeadNoticeSummary) -> None:
        """Show these notices, joined to those already on the toast if it is up."""
        if not summary.gained and not summary.lost and not summary.due:
            return
        if not self.isVisible():
            self._clear()
        self._stop_fade()
        self._gained[:0] = [n for n in summary.notices if n.gained]
        self._due[:0] = [n for n in summary.notices if n.due]
        self._lost[:0] = [n for n in summary.notices if not n.gained and not n.due]
        self.gained_count += summary.gained
        self.lost_count += summary.lost
        self.due_count += summary.due
        self.title_label.setText(self.title())
        self.detail_label.setText(self.detail())
        single = self._single_lead()
        self.open_button.setText("Open" if single is not None else "Open list")
        self.open_button.setToolTip(
            "Show this lead on your desk" if single is not None else "Show your notifications"
        )
        self.setAccessibleName(f"{self.title()}. {self.detail()}")
        self._place()
        self.show()
        self.raise_()
        self._timer.start()

    def title(self) -> str:
        gained, lost, due = self.gained_count, self.lost_count, self.due_count
        if gained == 1 and self._gained:
            return f"New lead: {_describe(self._gained[0])}"
        if gained:
            return f"{gained} new leads"
        if due == 1 and self._due:
            return f"Call back due: {_describe(self._due[0])}"
        if due:
            return f"{due} call backs due"
        if lost == 1 and self._lost:
            return f"Lead taken away: {_describe(self._lost[0])}"
        return f"{lost} leads taken away"

    def detail(self) -> str:
        gained, lost, due = self.gained_count, self.lost_count, self.due_count
        if gained == 1 and self._gained:
            how = "Routed" if self._gained[0].kind == "routed" else "Assigned"
            text = f"{how} to you — it is in your lists now."
        elif gained:
            text = f"{_names(self._gained, gained)} — in your lists now."
        elif due == 1 and self._due:
            text = "Back in your Current list: call now."
        elif due:
            text = f"{_names(self._due, due)} — back in Current: call now."
        elif lost == 1 and self._lost:
            return f"{self._lost[0].message}."
        else:
            return f"{_names(self._lost, lost)}: no longer yours."
        if due and gained:
            text += f" Also {due} call backs due." if due > 1 else " Also 1 call back due."
        if lost:
            text += f" Also {lost} leads taken away." if lost > 1 else " Also 1 lead taken away."
        return text

    def dismiss(self) -> None:
        """Hide now (the ×, or after Open)."""
        self._timer.stop()
        self._stop_fade()
        self.hide()
        self._clear()

    def _single_lead(self) -> int | None:
        if self.gained_count == 1 and self._gained and not self.due_count:
            return self._gained[0].lead_id
        if self.due_count == 1 and self._due and not self.gained_count:
            return self._due[0].lead_id
        return None

    def _clear(self) -> None:
        self._gained.clear()
        self._lost.clear()
        self._due.clear()
        self.gained_count = self.lost_count = self.due_count = 0

    def _on_open_clicked(self) -> None:
        lead_id = self._single_lead()
        self.dismiss()
        if lead_id is not None:
            self.lead_requested.emit(lead_id)
        else:
            self.list_requested.emit()

    # --- going away -------------------------------------------------------------------------

    def _on_timeout(self) -> None:
        if self.underMouse() or not self.isActiveWindow():
            return  # leaving the toast, or coming back to the window, starts the clock again
        effect = QGraphicsOpacityEffect(self)
        self.setGraphicsEffect(effect)
        self._fade = QPropertyAnimation(effect, b"opacity", self)
        self._fade.setDuration(self._fade_ms)
        self._fade.setStartValue(1.0)
        self._fade.setEndValue(0.0)
        self._fade.setEasingCurve(QEasingCurve.Type.InQuad)
        self._fade.finished.connect(self.dismiss)
        self._fade.start()

    def _stop_fade(self) -> None:
        if self._fade is not None:
            self._fade.finished.disconnect(self.dismiss)
            self._fade.stop()
            self._fade.deleteLater()
            self._fade = None
            self.setGraphicsEffect(None)  # deletes the effect

    def enterEvent(self, event: QEnterEvent) -> None:  # noqa: N802 - Qt override
        self._timer.stop()
        self._stop_fade()
        super().enterEvent(event)

    def leaveEvent(self, event: QEvent) -> None:  # noqa: N802 - Qt override
        if self.isVisible():
            self._timer.start()
        super().leaveEvent(event)

    # --- where it sits ------------------------------------------------------------------------

    # The parent's resizes (to stay in its corner) and the window's activation (to
    # start the clock again) matter only while the toast is up, so it filters
    # their events from its show to its hide, and no longer.

    def showEvent(self, event: QEvent) -> None:  # noqa: N802 - Qt override
        self._watch()
        super().showEvent(event)

    def hideEvent(self, event: QEvent) -> None:  # noqa: N802 - Qt override
        self._unwatch()
        super().hideEvent(event)

    def _watch(self) -> None:
        parent, window = self.parentWidget(), self.window()
        if parent is None or self._watching == (parent, window):
            return
        self._unwatch()
        self._watching = (parent, window)
        parent.installEventFilter(self)
        if window is not parent:
            window.installEventFilter(self)

    def _unwatch(self) -> None:
        # Also called in the window's teardown, when the attribute may be gone.
        watching = getattr(self, "_watching", None) or (self.parentWidget(), self.window())
        self._watching = None
        for widget in watching:
            if widget is not None and shiboken6.isValid(widget):
                widget.removeEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt override
        # Qt may still call this while the window is torn down, after the cycle
        # collector has emptied this object's attributes: then it passes events on.
        watching = getattr(self, "_watching", None)
        if watching is None:
            return False
        parent, window = watching
        if watched is parent and event.type() == QEvent.Type.Resize:
            self._place()
        if (
            watched is window
            and event.type() == QEvent.Type.WindowActivate
            and self.isVisible()
            and self._fade is None
        ):
            self._timer.start()  # a full few seconds to read it on coming back
        return False

    def keep_clear_of(self, widget: QWidget | None) -> None:
        """Sit above ``widget`` (the desk's action buttons) instead of covering it."""
        self._clear_of = widget
        if self.isVisible():
            self._place()

    def _place(self) -> None:
        parent = self.parentWidget()
        if parent is None:
            return
        self.setFixedWidth(max(200, min(WIDTH, parent.width() - 2 * MARGIN)))
        height = self.heightForWidth(self.width())
        self.setFixedHeight(height if height > 0 else self.sizeHint().height())
        bottom = parent.height() - MARGIN
        clear = self._clear_of
        if clear is not None and clear.isVisible() and parent.isAncestorOf(clear):
            top_of_clear = clear.mapTo(parent, clear.rect().topLeft()).y()
            if top_of_clear < bottom:
                bottom = top_of_clear - MARGIN // 2
        self.move(
            max(0, parent.width() - self.width() - MARGIN),
            max(0, bottom - self.height()),
        )


def _describe(notice: LeadNoticeRow) -> str:
    """ "Jane Doe — Acme Ltd", or what the notice said when the lead is gone."""
    parts = [p for p in (notice.lead_name, notice.company) if p]
    return " — ".join(parts) if parts else notice.message


def _names(notices: list[LeadNoticeRow], total: int) -> str:
    """ "Jane Doe, Sam Lee and 3 more": two names, then how many others."""
    shown = [n.lead_name or n.company for n in notices if n.lead_name or n.company][:2]
    if not shown:
        return f"{total} leads"
    rest = total - len(shown)
    if rest <= 0:
        return " and ".join(shown)
    return f"{', '.join(shown)} and {rest} more"
