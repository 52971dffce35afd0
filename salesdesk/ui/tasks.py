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

Nothing Qt ever lives or dies on the worker (a Qt object's destructor off the
GUI thread can crash the app). By design:

* the worker is handed a plain function, its plain arguments and an outbox (a
  queue and a wake-up socket) — never the runner, a widget or a bound method
  of one; :meth:`TaskRunner.submit` refuses a call that carries a Qt object;
* answers wait in the outbox and a :class:`QSocketNotifier` on the GUI thread
  picks them up, so the worker needs no Qt object to reach the main thread;
* Python's cycle collector runs on whichever thread allocates when a threshold
  trips, and frees whatever garbage the GUI thread left — Qt objects in
  cycles through their views' lambdas included. While a runner is alive,
  automatic collection is off and the runner collects on the GUI thread, by
  the same thresholds (pyqtgraph's ``GarbageCollector`` does the same).

Usage::

    runner.submit(
        leads.my_current_leads, db, actor,
        on_done=self._on_leads_loaded, on_error=self._on_failed,
        key="desk.lists", busy=[self._refresh_button],
    )
"""

from __future__ import annotations

import contextlib
import functools
import gc
import itertools
import logging
import queue
import socket
import threading
import time
import weakref
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import shiboken6
from PySide6.QtCore import QObject, QSocketNotifier, QTimer, Signal
from PySide6.QtWidgets import QWidget

log = logging.getLogger("salesdesk.ui.tasks")

# How often the GUI thread checks whether the cycle collector is due.
COLLECT_MS = 200

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
    on_skipped: Callable[[Task], None] | None = None

    def cancel(self) -> None:
        self.cancelled = True
        if self.future is not None and self.future.cancel() and self.on_skipped is not None:
            # Never started: report it anyway, so its busy widgets are released
            # and `idle` becomes true again.
            self.on_skipped(self)
            self.on_skipped = None


class Progress:
    """How far a long task on the worker has got, and whether the person asked it to stop.

    Plain Python, since the worker may not touch Qt: the task reports through
    :meth:`report` (an import's or an export's ``progress`` callback) and asks
    :meth:`stop_requested` between batches; the window polls :attr:`done` and
    :attr:`total` on a timer and calls :meth:`stop` for its Stop button.
    """

    def __init__(self) -> None:
        self.done = 0
        self.total = 0  # 0 while unknown
        self._stop = threading.Event()

    def report(self, done: int, total: int | None = None) -> None:
        self.done = done
        if total is not None:
            self.total = total

    def stop(self) -> None:
        self._stop.set()

    def stop_requested(self) -> bool:
        return self._stop.is_set()


@dataclass(frozen=True, slots=True)
class _Outcome:
    task_id: int
    result: Any = None
    error: BaseException | None = None


class _Outbox:
    """Where answers wait for the GUI thread: a queue, and a byte on a socket to wake it.

    Plain Python on purpose: the worker holds this, and nothing Qt.
    """

    def __init__(self) -> None:
        self.answers: queue.SimpleQueue[_Outcome] = queue.SimpleQueue()
        self.wake_reader, self._wake_writer = socket.socketpair()
        self.wake_reader.setblocking(False)
        self._wake_writer.setblocking(False)

    def post(self, outcome: _Outcome) -> None:
        """Leave an answer (any thread) and wake the GUI thread."""
        self.answers.put(outcome)
        # Full buffer: a wake-up is pending anyway. Closed: the runner is gone.
        with contextlib.suppress(OSError):
            self._wake_writer.send(b"\0")

    def take_all(self) -> list[_Outcome]:
        """The answers waiting now, oldest first (GUI thread)."""
        with contextlib.suppress(OSError):
            while self.wake_reader.recv(4096):
                pass
        taken = []
        with contextlib.suppress(queue.Empty):
            while True:
                taken.append(self.answers.get_nowait())
        return taken

    def close(self) -> None:
        self.wake_reader.close()
        self._wake_writer.close()


def _work(outbox: _Outbox, task_id: int, fn: Callable[..., Any], args: Any, kwargs: Any) -> None:
    """What the worker runs: the call, its answer into the outbox. Nothing Qt."""
    try:
        outcome = _Outcome(task_id, result=fn(*args, **kwargs))
    except BaseException as exc:  # noqa: BLE001 - every failure is delivered
        outcome = _Outcome(task_id, error=exc)
    outbox.post(outcome)


def _qt_objects_in(fn: Callable[..., Any], args: Iterable[Any]) -> list[str]:
    """Qt objects a call would carry to the worker: bound to, closed over, or passed.

    One level deep — the mistakes that happen: ``self._probe`` of a QObject, a
    lambda over ``self``, a widget as an argument. Services never take Qt
    values, so any wrapped Qt object (widget, model, QDate) is refused.
    """
    parts: list[Any] = [fn, *args]
    while isinstance(fn, functools.partial):
        parts += [fn.func, *fn.args, *fn.keywords.values()]
        fn = fn.func
    parts.append(getattr(fn, "__self__", None))
    for cell in getattr(fn, "__closure__", None) or ():
        with contextlib.suppress(ValueError):  # an empty cell
            parts.append(cell.cell_contents)
    return [
        type(p).__name__
        for p in parts
        if isinstance(p, shiboken6.Shiboken.Object) and not isinstance(p, type)
    ]


class _AutomaticCollection:
    """Python's automatic cycle collection, off while any task runner is alive.

    Process-wide because the collector is: the first runner turns it off, the
    last one to stop turns it back on (if it was on). Runners collect on the
    GUI thread meanwhile (:meth:`TaskRunner._collect`).
    """

    _lock = threading.Lock()
    _holds = 0
    _was_enabled = False

    @classmethod
    def hold(cls) -> None:
        with cls._lock:
            if cls._holds == 0:
                cls._was_enabled = gc.isenabled()
                gc.disable()
            cls._holds += 1

    @classmethod
    def release(cls) -> None:
        with cls._lock:
            cls._holds -= 1
            if cls._holds == 0 and cls._was_enabled:
                gc.enable()


def _collect_due_generation() -> None:
    """Collect as Python would have by now: the oldest generation past its threshold."""
    counts, thresholds = gc.get_count(), gc.get_threshold()
    if thresholds[0] == 0 or counts[0] <= thresholds[0]:
        return
    generation = 0
    if counts[1] > thresholds[1]:
        generation = 2 if counts[2] > thresholds[2] else 1
    gc.collect(generation)


def _release_once(flag: list[bool]) -> None:
    if not flag[0]:
        flag[0] = True
        _AutomaticCollection.release()


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

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="salesdesk-db")
        self._ids = itertools.count(1)
        self._tasks: dict[int, Task] = {}
        self._latest_by_key: dict[str, Task] = {}
        self._busy_counts: dict[int, tuple[QWidget, int, bool]] = {}
        self._db_unavailable = False
        self._closed = False
        # Answers (a cancellation's too) are picked up from the event loop, so a
        # callback never runs in the middle of submit().
        self._outbox = _Outbox()
        self._wake = QSocketNotifier(
            self._outbox.wake_reader.fileno(), QSocketNotifier.Type.Read, self
        )
        self._wake.activated.connect(self._on_wake)
        _AutomaticCollection.hold()
        self._released = [False]
        self._collector = QTimer(self)
        self._collector.setInterval(COLLECT_MS)
        self._collector.timeout.connect(_collect_due_generation)
        self._collector.start()
        # A runner dropped without shutdown() still gives collection back.
        weakref.finalize(self, _release_once, self._released)
        weakref.finalize(self, self._outbox.close)

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

        Raises:
            TypeError: ``fn`` or its arguments carry a Qt object (see the module's
                docstring); pass the plain values it needs instead.
        """
        carried = _qt_objects_in(fn, (*args, *kwargs.values()))
        if carried:
            raise TypeError(
                f"{getattr(fn, '__qualname__', fn)!r} would carry Qt objects "
                f"({', '.join(carried)}) to the worker thread; pass plain values"
            )
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
            on_skipped=self._on_skipped,
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
        task.future = self._executor.submit(_work, self._outbox, task.id, fn, args, kwargs)
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
        args_of: Callable[[], tuple[Any, ...]] | None = None,
    ) -> QTimer:
        """Submit ``fn`` every ``interval_ms`` unless its previous run is still out.

        Returns the (started) timer; stop it or delete ``parent`` to end the
        repetition. Skipping a round while the last one is pending keeps a slow
        database from piling up work. ``args_of``, if given, is called on the
        main thread each round for the arguments that follow ``args`` (values
        that change between rounds, read here rather than on the worker).
        """
        timer = QTimer(parent or self)
        timer.setInterval(interval_ms)

        def tick() -> None:
            if not self._closed and not self.is_running(key):
                more = args_of() if args_of is not None else ()
                self.submit(fn, *args, *more, on_done=on_done, on_error=on_error, key=key)

        timer.timeout.connect(tick)
        timer.start()
        return timer

    def shutdown(self, wait: bool = True) -> None:
        """Stop taking work; a call already running finishes (done once, never half).

        Automatic garbage collection comes back (if this was the last runner) once
        the worker has stopped: at once with ``wait``, else when its call ends.
        """
        if self._closed:
            return
        self._closed = True
        for task in list(self._tasks.values()):
            task.cancel()
        running = [t.future for t in self._tasks.values() if t.future and not t.future.done()]
        self._executor.shutdown(wait=wait, cancel_futures=True)
        self._collector.stop()
        released = self._released
        if wait or not running:
            _release_once(released)
        else:
            # Runs on the worker as its last call ends (or here, if it just did):
            # a plain function and a list, nothing Qt.
            running[-1].add_done_callback(lambda _f: _release_once(released))

    # --- the main-thread side -------------------------------------------------------

    def _on_skipped(self, task: Task) -> None:
        self._outbox.post(_Outcome(task.id))

    def _on_wake(self) -> None:
        for outcome in self._outbox.take_all():
            self._on_delivered(outcome)

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
