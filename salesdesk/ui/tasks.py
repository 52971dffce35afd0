"""The one background executor every database call goes through.

Why one worker and not a pool: a SQLAlchemy session must never cross threads,
and with a single worker the order in which a view asks is the order in which
the database answers — a click's write always lands before the refresh that
follows it. Results come back on the main thread by a queued signal, so
callbacks may touch widgets freely.

Two kinds of failure (as in qutebrowser's ``misc/sql.py``):

* a :class:`~salesdesk.services.errors.SalesDeskError` — a known refusal or a
  database that cannot be reached — whose message is shown to the user as is;
* anything else, which is a bug: it is logged with its traceback and the user
  is told, in plain words, that it was a bug and not something they did.

A request made under a ``key`` supersedes the previous request with the same
key (as in Orange3's ``concurrent.py``): if the old one has not started it is
cancelled, and if it has, its answer is dropped — an old answer never paints
over a new one.

Usage::

    runner.submit(
        leads.my_current_leads, db, actor,
        on_done=self._on_leads_loaded, on_error=self._on_failed,
        key="desk.lists", busy=[self._refresh_button],
    )
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import shiboken6
from PySide6.QtCore import QObject, Qt, QTimer, Signal, Slot
from PySide6.QtWidgets import QWidget

log = logging.getLogger("salesdesk.ui.tasks")

BUG_MESSAGE = (
    "Something went wrong inside SalesDesk ({kind}). This is a bug, not something you did; "
    "it has been written to the log. If an action was under way, check the lead before "
    "trying again."
)


@dataclass(frozen=True, slots=True)
class TaskFailure:
    """Why a task did not return a result, in a form a view can show as it is.

    Attributes:
        message: the sentence to show the person at the screen.
        error: the exception itself (for tests and logs).
        is_bug: True when the error was not a known ``SalesDeskError``.
        database_unavailable: True when the database could not be reached.
    """

    message: str
    error: BaseException
    is_bug: bool = False
    database_unavailable: bool = False


@dataclass(eq=False)
class Task:
    """One submitted call; ``cancel()`` drops its answer (and skips it if not started)."""

    id: int
    key: str | None
    name: str
    on_done: Callable[[Any], None] | None = None
    on_error: Callable[[TaskFailure], None] | None = None
    owner: QObject | None = None
    busy: list[QWidget] = field(default_factory=list)
    submitted_at: float = 0.0
    future: Future[Any] | None = None
    cancelled: bool = False
    finished: bool = False

    def cancel(self) -> None:
        self.cancelled = True
        if self.future is not None:
            self.future.cancel()


@dataclass(frozen=True, slots=True)
class _Outcome:
    task_id: int
    result: Any = None
    error: BaseException | None = None


class TaskRunner(QObject):
    """Runs callables on one worker thread and reports back on the main thread.

    Signals:
        task_finished(Task): a task's answer was handled (or dropped); for tests and
            progress indicators.
        failed(TaskFailure): a task failed and had no ``on_error`` of its own; the
            main window shows it.
        database_unavailable(str): a call could not reach the database (for the banner).
        database_available(): a call succeeded after the database had been unavailable.
        busy_changed(bool): the runner went from idle to busy or back.
    """

    task_finished = Signal(object)
    failed = Signal(object)
    database_unavailable = Signal(str)
    database_available = Signal()
    busy_changed = Signal(bool)

    # Emitted from the worker thread; the connection queues it to the main thread.
    _delivered = Signal(object)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="salesdesk-db")
        self._ids = itertools.count(1)
        self._tasks: dict[int, Task] = {}
        self._latest_by_key: dict[str, Task] = {}
        self._busy_counts: dict[int, tuple[QWidget, int, bool]] = {}
        self._db_unavailable = False
        self._closed = False
        # Always queued, even when emitted on the main thread (a cancellation),
        # so a callback never runs in the middle of submit().
        self._delivered.connect(self._on_delivered, Qt.ConnectionType.QueuedConnection)

    # --- submitting --------------------------------------------------------------

    def submit(
        self,
        fn: Callable[..., Any],
        *args: Any,
        on_done: Callable[[Any], None] | None = None,
        on_error: Callable[[TaskFailure], None] | None = None,
        key: str | None = None,
        busy: Iterable[QWidget] = (),
        owner: QObject | None = None,
        **kwargs: Any,
    ) -> Task:
        """Run ``fn(*args, **kwargs)`` on the worker thread.

        Args:
            fn: the call; it must not touch Qt (it runs off the main thread).
            on_done: called on the main thread with the result.
            on_error: called on the main thread with a :class:`TaskFailure`; without
                it the runner emits ``failed``.
            key: a later submit with the same key supersedes this one.
            busy: widgets disabled until this task returns (then restored to the
                state they had before the first task that disabled them).
            owner: when this object is deleted, the answer is dropped. Defaults to
                the object ``on_done`` is bound to, if it is a QObject.
        """
        if owner is None:
            bound = getattr(on_done, "__self__", None) or getattr(on_error, "__self__", None)
            owner = bound if isinstance(bound, QObject) else None
        task = Task(
            id=next(self._ids),
            key=key,
            name=getattr(fn, "__qualname__", repr(fn)),
            on_done=on_done,
            on_error=on_error,
            owner=owner,
            busy=list(busy),
            submitted_at=time.perf_counter(),
        )
        if self._closed:
            # The app is closing; a late timer's request is dropped, not run.
            task.cancelled = task.finished = True
            return task
        if key is not None:
            stale = self._latest_by_key.get(key)
            if stale is not None and not stale.finished:
                stale.cancel()
            self._latest_by_key[key] = task
        was_idle = not self._tasks
        self._tasks[task.id] = task
        for widget in task.busy:
            self._hold(widget)
        task.future = self._executor.submit(self._run, task.id, fn, args, kwargs)
        task.future.add_done_callback(lambda f, tid=task.id: self._on_cancelled(f, tid))
        if was_idle:
            self.busy_changed.emit(True)
        return task

    def is_running(self, key: str) -> bool:
        """True while the latest task submitted under ``key`` has not come back."""
        task = self._latest_by_key.get(key)
        return task is not None and not task.finished

    @property
    def idle(self) -> bool:
        return not self._tasks

    def repeat(
        self,
        interval_ms: int,
        fn: Callable[..., Any],
        *args: Any,
        on_done: Callable[[Any], None] | None = None,
        on_error: Callable[[TaskFailure], None] | None = None,
        key: str,
        parent: QObject | None = None,
    ) -> QTimer:
        """Submit ``fn`` every ``interval_ms`` unless its previous run is still out.

        Returns the (started) timer; stop it or delete ``parent`` to end the
        repetition. Skipping a round while the last one is pending keeps a slow
        database from piling up work.
        """
        timer = QTimer(parent or self)
        timer.setInterval(interval_ms)

        def tick() -> None:
            if not self._closed and not self.is_running(key):
                self.submit(fn, *args, on_done=on_done, on_error=on_error, key=key)

        timer.timeout.connect(tick)
        timer.start()
        return timer

    def shutdown(self, wait: bool = True) -> None:
        """Stop taking work; a call already running finishes (done once, never half)."""
        if self._closed:
            return
        self._closed = True
        for task in list(self._tasks.values()):
            task.cancel()
        self._executor.shutdown(wait=wait, cancel_futures=True)

    # --- the worker side ----------------------------------------------------------

    def _run(self, task_id: int, fn: Callable[..., Any], args: Any, kwargs: Any) -> None:
        try:
            outcome = _Outcome(task_id, result=fn(*args, **kwargs))
        except BaseException as exc:  # noqa: BLE001 - every failure is delivered
            outcome = _Outcome(task_id, error=exc)
        self._deliver(outcome)

    def _on_cancelled(self, future: Future[Any], task_id: int) -> None:
        # A task cancelled before it started never runs _run; report it anyway,
        # so its busy widgets are released and `idle` becomes true again.
        if future.cancelled():
            self._deliver(_Outcome(task_id))

    def _deliver(self, outcome: _Outcome) -> None:
        # The runner may have been deleted while the call ran (the app quit).
        if shiboken6.isValid(self):
            with contextlib.suppress(RuntimeError):
                self._delivered.emit(outcome)

    # --- the main-thread side -------------------------------------------------------

    @Slot(object)
    def _on_delivered(self, outcome: _Outcome) -> None:
        task = self._tasks.pop(outcome.task_id, None)
        if task is None:
            return
        task.finished = True
        for widget in task.busy:
            self._release(widget)
        try:
            if not task.cancelled and _alive(task.owner):
                self._dispatch(task, outcome)
        finally:
            if task.key is not None and self._latest_by_key.get(task.key) is task:
                del self._latest_by_key[task.key]
            self.task_finished.emit(task)
            if not self._tasks:
                self.busy_changed.emit(False)

    def _dispatch(self, task: Task, outcome: _Outcome) -> None:
        error = outcome.error
        if error is None:
            if self._db_unavailable:
                self._db_unavailable = False
                self.database_available.emit()
            log.debug(
                "%s took %.1f ms", task.name, 1000 * (time.perf_counter() - task.submitted_at)
            )
            if task.on_done is not None:
                task.on_done(outcome.result)
            return
        failure = describe_failure(error, task.name)
        if failure.database_unavailable:
            self._db_unavailable = True
            self.database_unavailable.emit(failure.message)
        if task.on_error is not None:
            task.on_error(failure)
        else:
            self.failed.emit(failure)

    def _hold(self, widget: QWidget) -> None:
        key = id(widget)
        if key in self._busy_counts:
            w, count, was_enabled = self._busy_counts[key]
            self._busy_counts[key] = (w, count + 1, was_enabled)
            return
        self._busy_counts[key] = (widget, 1, widget.isEnabled())
        widget.setEnabled(False)

    def _release(self, widget: QWidget) -> None:
        key = id(widget)
        if key not in self._busy_counts:
            return
        w, count, was_enabled = self._busy_counts[key]
        if count > 1:
            self._busy_counts[key] = (w, count - 1, was_enabled)
            return
        del self._busy_counts[key]
        if shiboken6.isValid(w):
            w.setEnabled(was_enabled)


def describe_failure(error: BaseException, task_name: str = "") -> TaskFailure:
    """Sort an exception into a known refusal (shown as is) or a bug (logged)."""
    from salesdesk.services.errors import DatabaseUnavailableError, SalesDeskError

    if isinstance(error, SalesDeskError):
        return TaskFailure(
            message=error.message,
            error=error,
            database_unavailable=isinstance(error, DatabaseUnavailableError),
        )
    log.error("bug in %s", task_name or "a background task", exc_info=error)
    return TaskFailure(
        message=BUG_MESSAGE.format(kind=type(error).__name__), error=error, is_bug=True
    )


def _alive(owner: QObject | None) -> bool:
    return owner is None or shiboken6.isValid(owner)
