"""Qt objects are created, held and destroyed on the GUI thread only, never on the worker.

A Qt object whose C++ destructor runs on the task runner's worker thread can
crash the app (a screenshot run did, in the settings dialog). Two ways it could
get there: the worker held the last reference to it (a callable bound to a
widget, the runner itself), or Python's cycle collector ran on the worker — the
collector runs on whichever thread happens to allocate when a threshold trips,
and frees whatever garbage cycles the GUI thread left behind.
"""

from __future__ import annotations

import gc
import sys
import threading
import types
import weakref
from collections.abc import Iterator
from typing import Any

import pytest
from PySide6.QtCore import QObject
from shiboken6 import Shiboken

from salesdesk.services import allocation
from salesdesk.ui.live import LiveWatcher
from salesdesk.ui.manager.manager_view import ManagerView
from salesdesk.ui.settings.settings_dialog import SettingsDialog
from salesdesk.ui.tasks import TaskRunner
from tests.ui.conftest import wait_idle


@pytest.fixture
def gc_threshold() -> Iterator[None]:
    """Python's default thresholds, whatever the session set."""
    before = gc.get_threshold()
    gc.set_threshold(700, 10, 10)
    yield
    gc.set_threshold(*before)


def _churn(done: threading.Event) -> int:
    # Plenty of container allocations: enough to trip every generation's threshold.
    kept = [[n] for n in range(50_000)]
    done.set()
    return len(kept)


def test_garbage_left_by_the_gui_thread_is_not_collected_on_the_worker(qtbot, gc_threshold):
    runner = TaskRunner()
    main = threading.get_ident()
    collections_on: list[str] = []

    def watch(phase: str, _info: dict[str, Any]) -> None:
        if phase == "start":
            collections_on.append(threading.current_thread().name)

    destroyed_on: list[int] = []
    gc.callbacks.append(watch)
    try:
        # From here the GUI thread allocates a few dozen objects, far from the
        # threshold, and then waits; the worker allocates thousands.
        gc.collect()
        widget_ish = QObject()  # Python-owned: its wrapper going away deletes it
        widget_ish.me = widget_ish  # a reference cycle, as a view's lambdas make
        # Run where the wrapper dies, which is where it deletes the C++ object.
        weakref.finalize(widget_ish, lambda: destroyed_on.append(threading.get_ident()))
        del widget_ish
        done = threading.Event()
        runner.submit(_churn, done)
        # The GUI thread stays still (allocates nothing) while the worker allocates.
        assert done.wait(10)
        wait_idle(qtbot, runner)
        assert destroyed_on == []
        assert set(collections_on) <= {threading.main_thread().name}, collections_on
        # Once the GUI thread has allocated past the threshold, the runner collects it there.
        kept = [[n] for n in range(2000)]
        qtbot.waitUntil(lambda: bool(destroyed_on), timeout=5000)
    finally:
        gc.callbacks.remove(watch)
        runner.shutdown(wait=True)
    assert destroyed_on == [main]
    assert len(kept) == 2000


def test_automatic_collection_is_back_once_every_runner_is_shut_down(qtbot):
    assert gc.isenabled()
    first, second = TaskRunner(), TaskRunner()
    assert not gc.isenabled()
    first.shutdown(wait=True)
    assert not gc.isenabled()  # the second one's worker still runs
    second.shutdown(wait=True)
    assert gc.isenabled()


# --- what the worker is handed -------------------------------------------------------------


def qt_objects_reachable(*roots: object) -> list[str]:
    """Qt wrappers reachable from ``roots``, not counting modules and classes.

    A task's callable reaches its module's globals, and through them every
    module; those are not what the worker holds for the task, so the walk
    stops at modules, their namespaces, and classes.
    """
    stop = {id(vars(m)) for m in list(sys.modules.values()) if isinstance(m, types.ModuleType)}
    seen: set[int] = set()
    stack = list(roots)
    found: list[str] = []
    while stack:
        obj = stack.pop()
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        if isinstance(obj, types.ModuleType | type) or id(obj) in stop:
            continue
        if isinstance(obj, Shiboken.Object):
            found.append(type(obj).__name__)
            continue
        stack.extend(gc.get_referents(obj))
    return found


class WorkerWatch:
    """Records everything the runner hands its executor (what the worker will hold)."""

    def __init__(self, runner: TaskRunner) -> None:
        self.handed: list[tuple[Any, ...]] = []
        executor = runner._executor
        original = executor.submit

        def submit(fn: Any, /, *args: Any, **kwargs: Any) -> Any:
            future = original(fn, *args, **kwargs)
            self.handed.append((fn, args, kwargs, future))
            return future

        executor.submit = submit  # type: ignore[method-assign]

    def qt_objects(self) -> list[str]:
        return qt_objects_reachable(*self.handed)


def test_the_worker_is_never_handed_a_qt_object(qtbot, desk, ui_floor, make_context):
    watch = WorkerWatch(desk.context.tasks)
    ui_floor.leads(desk.pool, 3)
    desk.view.refresh()
    desk.view.take_next()
    desk.wait()
    live = LiveWatcher(desk.context, poll_ms=20, jobs_ms=20)
    live.start()
    qtbot.wait(100)
    live.poll()
    desk.wait()
    live.stop()
    allocation.claim_next_lead(desk.db, desk.rep)

    admin = make_context(ui_floor.admin)
    manager = ManagerView(admin)
    qtbot.addWidget(manager)
    manager.show()
    dialog = SettingsDialog(admin)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitUntil(lambda: dialog.snapshot is not None, timeout=10_000)
    desk.wait()

    assert len(watch.handed) > 10
    assert watch.qt_objects() == []
