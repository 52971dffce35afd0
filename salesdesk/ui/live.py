"""Live views: notice other people's changes, and run the floor's clock on the embedded default.

Every few seconds the watcher asks :func:`salesdesk.services.desk.changes_since`
(a primary-key probe, the same on SQLite and PostgreSQL) whether anything
moved, and announces the topics that did; each view decides whether to
reload. A manager reassigning a rep's lead therefore reaches that rep's desk
within one poll, with no refresh button pressed.

When a probe sees that this person's leads moved (or their unread count did),
the same round also asks for the lead notices newer than the last one seen and
hands them on as ``context.lead_notices_arrived`` (the toast). The first round
only sets that starting point, so what was there at start-up never toasts, and
the marker only moves forward, so no notice toasts twice.

On the embedded SQLite floor there is no ``salesdesk worker``, so this client
runs the clock jobs itself (call backs coming due, keep period, routing) on
the same worker thread as every other call — one short transaction. When the
mail sender is installed it delivers the outbox too, but on a worker of its
own: talking to a slow or absent mail server can take seconds, and a rep's
click must never queue behind it.
"""

from __future__ import annotations

import contextlib
import logging
from typing import Any

from PySide6.QtCore import QObject, QTimer

from salesdesk.ui.context import LEADS, MY_LEADS, NOTIFICATIONS, AppContext
from salesdesk.ui.tasks import TaskFailure, TaskRunner

log = logging.getLogger("salesdesk.ui.live")

POLL_MS = 2000
JOBS_MS = 30_000


def run_clock_jobs(db: Any) -> Any:
    """One round of the clock jobs (call backs due, keep period, idle, routing)."""
    from salesdesk.services import jobs

    return jobs.run_due_jobs(db)


def mail_sender() -> Any:
    """``sender.deliver_due`` when the mail module is installed, else None."""
    try:
        from salesdesk.services import sender
    except ImportError:
        return None
    return getattr(sender, "deliver_due", None)


class LiveWatcher(QObject):
    """Polls for changes and (embedded floor) runs the clock jobs.

    Args:
        context: the signed-in session.
        poll_ms: how often to ask whether anything changed.
        jobs_ms: how often to run the clock jobs; 0 never (a team's server runs them).
    """

    def __init__(
        self,
        context: AppContext,
        poll_ms: int = POLL_MS,
        jobs_ms: int | None = None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent or context)
        self._context = context
        self._marker: int | None = None
        self._latest_note = 0
        self._notice_marker: int | None = None  # newest notice seen; None until the first probe
        self._recheck_notices = False
        self._poll_ms = poll_ms
        self._jobs_ms = (JOBS_MS if context.embedded else 0) if jobs_ms is None else jobs_ms
        self._timers: list[QTimer] = []
        self._mail: TaskRunner | None = None

    def start(self) -> None:
        """Begin polling (and jobs); the first probe only sets the starting point."""
        if self._timers:
            return
        self.poll()
        self._timers.append(
            self._context.tasks.repeat(
                self._poll_ms,
                probe_changes,
                on_done=self._on_changes,
                on_error=self._on_error,
                key="live.poll",
                parent=self,
                args_of=self._probe_args,
            )
        )
        if self._jobs_ms > 0:
            self.run_jobs()
            self._timers.append(
                self._context.tasks.repeat(
                    self._jobs_ms,
                    run_clock_jobs,
                    self._context.db,
                    on_done=self._on_jobs_done,
                    on_error=self._on_error,
                    key="live.jobs",
                    parent=self,
                )
            )

            deliver = mail_sender()
            if deliver is not None:
                self._mail = TaskRunner(self)
                self._timers.append(
                    self._mail.repeat(
                        self._jobs_ms,
                        deliver,
                        self._context.db,
                        self._context.secrets,
                        on_error=self._on_error,
                        key="live.mail",
                        parent=self,
                    )
                )

    def stop(self) -> None:
        for timer in self._timers:
            timer.stop()
        self._timers.clear()
        if self._mail is not None:
            self._mail.shutdown(wait=False)  # a round under way finishes on its own
            self._mail = None

    def poll(self) -> None:
        """Probe now (after a reconnect, or in tests)."""
        self._context.tasks.submit(
            probe_changes,
            *self._probe_args(),
            on_done=self._on_changes,
            on_error=self._on_error,
            key="live.poll",
        )

    def run_jobs(self) -> None:
        self._context.tasks.submit(
            run_clock_jobs,
            self._context.db,
            on_done=self._on_jobs_done,
            on_error=self._on_error,
            key="live.jobs",
        )

    def _probe_args(self) -> tuple[Any, ...]:
        # Read on the main thread; the worker gets plain values, never this object.
        return (
            self._context.db,
            self._context.actor,
            self._marker,
            self._latest_note,
            self._notice_marker,
            self._recheck_notices,
            self._context.unread,
        )

    def _on_changes(self, probe: Any) -> None:
        changes, notices = probe
        first = self._marker is None
        self._marker = changes.marker
        self._latest_note = changes.latest_note
        topics = set()
        if changes.unread != self._context.unread:
            topics.add(NOTIFICATIONS)
        self._context.set_unread(changes.unread)
        if not first:
            if changes.floor_changed:
                topics.add(LEADS)
            if changes.mine_changed:
                topics.add(MY_LEADS)
        self._context.announce(topics)
        if notices is not None:
            self._on_lead_notices(notices)

    def _on_lead_notices(self, summary: Any) -> None:
        if summary.after != self._notice_marker:
            # Asked from a marker that has moved on since: those notices may have
            # been shown already. Ask again from where we are next round.
            self._recheck_notices = True
            return
        self._recheck_notices = False
        self._notice_marker = summary.marker
        if summary.gained or summary.lost or summary.due:
            self._context.lead_notices_arrived.emit(summary)

    def _on_jobs_done(self, summary: Any) -> None:
        if summary != type(summary)():
            log.info("clock jobs: %s", summary)
            self.poll()

    def _on_error(self, failure: TaskFailure) -> None:
        # A lost database is already on the banner; a bug goes to the window.
        if failure.is_bug:
            self._context.tasks.failed.emit(failure)


def probe_changes(
    db: Any,
    actor: Any,
    marker: int | None,
    latest_note: int,
    notice_marker: int | None,
    recheck_notices: bool,
    unread: int,
) -> Any:
    """What changed since ``marker``, and the lead notices if they may have (worker thread)."""
    from salesdesk.services.desk import changes_since
    from salesdesk.services.errors import NotAllowedError
    from salesdesk.services.notifications import lead_notices_since

    changes = changes_since(db, actor, marker, latest_note)
    notices = None
    # A lead notice is written with the lead event that moved the lead to or
    # from this person, so a quiet round asks nothing more.
    if notice_marker is None or recheck_notices or changes.mine_changed or changes.unread != unread:
        # A deactivated account is refused; the desk's own reload tells them so.
        with contextlib.suppress(NotAllowedError):
            notices = lead_notices_since(db, actor, notice_marker)
    return changes, notices
