"""What every window and view of one signed-in session shares.

``app.py`` builds one :class:`AppContext` and passes it down; nothing in the UI
reaches for a global or a singleton. Views run service calls through
``context.tasks`` (never on the UI thread), announce what they changed with
:meth:`AppContext.announce`, and refresh themselves when ``data_changed``
names a topic they show — whether the change came from this window, another
view, or another client (see ``live.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, QSettings, QUrl, Signal
from PySide6.QtGui import QDesktopServices

from salesdesk.ui.tasks import Task, TaskRunner

if TYPE_CHECKING:  # plain names only; the UI never builds these itself
    from salesdesk.config import Secrets
    from salesdesk.db import Database
    from salesdesk.services.records import Actor

# Topics of ``data_changed``: what a view may need to reload.
LEADS = "leads"  # any lead on the floor (manager views)
MY_LEADS = "my_leads"  # a lead the signed-in person holds, or held a moment ago
NOTIFICATIONS = "notifications"  # the signed-in person's in-app notices
RULES = "rules"  # allocation rules and settings
TEAM = "team"  # people and pools
ALL_TOPICS = frozenset({LEADS, MY_LEADS, NOTIFICATIONS, RULES, TEAM})


class AppContext(QObject):
    """The database, the signed-in person, the task runner and shared signals.

    Args:
        db: the open :class:`~salesdesk.db.Database` (passed to service calls).
        tasks: the one background executor.
        secrets: the keychain wrapper (for the connect dialog).
        settings: local preferences (window geometry, last user).
        embedded: True on the embedded SQLite floor, where this client also runs
            the clock jobs and the mail sender itself.
        open_url: hands a ``tel:`` or ``mailto:`` link to the operating system;
            tests pass a recorder instead of launching a phone app.

    Signals:
        data_changed(frozenset): topics (``LEADS``, ``MY_LEADS`` …) that changed.
        unread_changed(int): the number of unread in-app notifications.
        signed_in(object): an :class:`Actor` signed in.
        lead_notices_arrived(object): a
            :class:`~salesdesk.services.notifications.LeadNoticeSummary` — leads were
            given to (or taken from) this person while the client ran (see ``live.py``).
    """

    data_changed = Signal(object)
    unread_changed = Signal(int)
    signed_in = Signal(object)
    lead_notices_arrived = Signal(object)

    def __init__(
        self,
        db: Database,
        tasks: TaskRunner,
        secrets: Secrets,
        *,
        settings: QSettings | None = None,
        embedded: bool = True,
        open_url: Callable[[QUrl], Any] | None = None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.db = db
        self.tasks = tasks
        self.secrets = secrets
        self.settings = settings if settings is not None else QSettings()
        self.embedded = embedded
        self._open_url = open_url or QDesktopServices.openUrl
        self._actor: Actor | None = None
        self.unread = 0

    # --- the signed-in person -------------------------------------------------------

    @property
    def actor(self) -> Actor:
        if self._actor is None:
            raise RuntimeError("nobody is signed in yet")
        return self._actor

    @property
    def is_signed_in(self) -> bool:
        return self._actor is not None

    def sign_in(self, actor: Actor) -> None:
        self._actor = actor
        self.signed_in.emit(actor)

    # --- calls and changes --------------------------------------------------------------

    def run(self, fn: Callable[..., Any], *args: Any, **options: Any) -> Task:
        """Submit ``fn(db, actor, *args)`` — the shape of most service calls.

        ``options`` are those of :meth:`TaskRunner.submit` (``on_done``, ``key`` …).
        """
        return self.tasks.submit(fn, self.db, self.actor, *args, **options)

    def announce(self, *topics: str | Iterable[str]) -> None:
        """Tell every view that these topics changed (after a mutation, or live)."""
        names: set[str] = set()
        for topic in topics:
            names.update([topic] if isinstance(topic, str) else topic)
        if names:
            self.data_changed.emit(frozenset(names))

    def set_unread(self, count: int) -> None:
        if count != self.unread:
            self.unread = count
            self.unread_changed.emit(count)

    def open_url(self, url: QUrl) -> None:
        self._open_url(url)

    def now(self) -> datetime:
        """Now as naive UTC, from the database's clock (a test's clock in tests)."""
        return self.db.now()
