"""The background executor: one worker, answers on the main thread, stale answers dropped."""

from __future__ import annotations

import logging
import threading
import time

import pytest
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QPushButton

from salesdesk.services.errors import DatabaseUnavailableError, OneAtATimeError
from salesdesk.ui.tasks import TaskFailure, TaskRunner


@pytest.fixture
def runner(qtbot):
    tasks = TaskRunner()
    yield tasks
    tasks.shutdown(wait=True)
    qtbot.waitUntil(lambda: tasks.idle, timeout=5000)


def test_result_comes_back_on_the_main_thread(qtbot, runner):
    main = threading.get_ident()
    seen: dict[str, int] = {}

    def work(a: int, b: int) -> int:
        seen["worker"] = threading.get_ident()
        return a + b

    got: list[int] = []
    runner.submit(
        work, 2, 3, on_done=lambda r: (got.append(r), seen.update(cb=threading.get_ident()))
    )
    qtbot.waitUntil(lambda: got == [5], timeout=5000)
    assert seen["worker"] != main
    assert seen["cb"] == main


def test_one_worker_runs_calls_in_the_order_asked(qtbot, runner):
    order: list[int] = []
    threads: set[int] = set()

    def work(n: int) -> None:
        threads.add(threading.get_ident())
        time.sleep(0.01 * (3 - n))
        order.append(n)

    for n in range(3):
        runner.submit(work, n)
    qtbot.waitUntil(lambda: runner.idle, timeout=5000)
    assert order == [0, 1, 2]
    assert len(threads) == 1


def test_a_newer_request_with_the_same_key_supersedes_the_stale_one(qtbot, runner):
    gate = threading.Event()
    answers: list[str] = []
    runner.submit(gate.wait, 5, key="other")  # keeps the worker busy
    runner.submit(lambda: "old", on_done=answers.append, key="search")
    runner.submit(lambda: "new", on_done=answers.append, key="search")
    gate.set()
    qtbot.waitUntil(lambda: runner.idle, timeout=5000)
    assert answers == ["new"]


def test_an_answer_that_arrives_after_a_newer_request_is_dropped(qtbot, runner):
    started = threading.Event()
    release = threading.Event()
    answers: list[str] = []

    def slow() -> str:
        started.set()
        release.wait(5)
        return "old"

    runner.submit(slow, on_done=answers.append, key="detail")
    assert started.wait(5)  # the old one is already running: it cannot be cancelled
    runner.submit(lambda: "new", on_done=answers.append, key="detail")
    release.set()
    qtbot.waitUntil(lambda: runner.idle, timeout=5000)
    assert answers == ["new"]


def test_a_known_error_reaches_on_error_with_its_message(qtbot, runner):
    failures: list[TaskFailure] = []

    def refuse() -> None:
        raise OneAtATimeError("Ada Lovelace")

    runner.submit(
        refuse, on_done=lambda r: pytest.fail("no result expected"), on_error=failures.append
    )
    qtbot.waitUntil(lambda: bool(failures), timeout=5000)
    assert failures[0].message.startswith("Finish your current lead first (Ada Lovelace)")
    assert not failures[0].is_bug


def test_an_unexpected_error_is_logged_and_reported_as_a_bug(qtbot, runner, caplog):
    caplog.set_level(logging.ERROR, logger="salesdesk.ui.tasks")
    with qtbot.waitSignal(runner.failed, timeout=5000) as blocker:
        runner.submit(lambda: 1 / 0)
    failure = blocker.args[0]
    assert failure.is_bug
    assert "ZeroDivisionError" in failure.message
    assert "bug" in failure.message
    assert any(r.exc_info and r.exc_info[0] is ZeroDivisionError for r in caplog.records)


def test_a_lost_database_is_announced_and_its_return_too(qtbot, runner):
    def lost() -> None:
        raise DatabaseUnavailableError("connection refused")

    with qtbot.waitSignal(runner.database_unavailable, timeout=5000) as blocker:
        runner.submit(lost, on_error=lambda f: None)
    assert "cannot be reached" in blocker.args[0]
    with qtbot.waitSignal(runner.database_available, timeout=5000):
        runner.submit(lambda: None)


def test_the_button_that_started_a_call_is_disabled_until_it_returns(qtbot, runner):
    button = QPushButton("Next")
    qtbot.addWidget(button)
    gate = threading.Event()
    runner.submit(gate.wait, 5, busy=[button])
    assert not button.isEnabled()
    gate.set()
    qtbot.waitUntil(button.isEnabled, timeout=5000)


def test_a_button_disabled_before_the_call_stays_disabled_after_it(qtbot, runner):
    button = QPushButton("Dead")
    qtbot.addWidget(button)
    button.setEnabled(False)
    runner.submit(lambda: None, busy=[button])
    qtbot.waitUntil(lambda: runner.idle, timeout=5000)
    assert not button.isEnabled()


def test_a_slow_call_does_not_block_the_event_loop(qtbot, runner):
    ticks: list[float] = []
    timer = QTimer()
    timer.setInterval(20)
    timer.timeout.connect(lambda: ticks.append(time.perf_counter()))
    timer.start()
    done: list[bool] = []
    runner.submit(time.sleep, 0.6, on_done=lambda _: done.append(True))
    qtbot.waitUntil(lambda: bool(done), timeout=5000)
    timer.stop()
    assert len(ticks) >= 10  # the loop kept ticking the whole time


def test_an_answer_for_a_deleted_owner_is_dropped(qtbot, runner):
    button = QPushButton()
    calls: list[int] = []
    gate = threading.Event()
    runner.submit(gate.wait, 5, on_done=lambda _: calls.append(1), owner=button)
    button.deleteLater()
    qtbot.waitUntil(lambda: not _valid(button), timeout=5000)
    gate.set()
    qtbot.waitUntil(lambda: runner.idle, timeout=5000)
    assert calls == []


def test_repeat_skips_a_round_while_the_last_is_still_out(qtbot, runner):
    started: list[float] = []
    gate = threading.Event()

    def job() -> None:
        started.append(time.perf_counter())
        gate.wait(5)

    timer = runner.repeat(10, job, key="jobs")
    qtbot.wait(150)
    assert len(started) == 1
    gate.set()
    qtbot.waitUntil(lambda: len(started) >= 2, timeout=5000)
    timer.stop()


def _valid(obj: object) -> bool:
    import shiboken6

    return shiboken6.isValid(obj)
