"""The SQLite write path's housekeeping: the log is folded back outside the writers' queue."""

from __future__ import annotations

import gc
import os
import shutil
import sqlite3
import subprocess
import sys
import threading
import weakref
from pathlib import Path

from sqlalchemy import text

from salesdesk.db import CHECKPOINT_AFTER_PAGES, Database, _Checkpointer


def _rules_in_file_alone(db_path: Path, tmp_path: Path) -> int:
    """Rows of ``rules`` in the database file itself, without its write-ahead log."""
    copy = tmp_path / "file-alone.db"
    shutil.copy(db_path, copy)  # the -wal file is left behind on purpose
    with sqlite3.connect(copy) as lite:
        return lite.execute("SELECT count(*) FROM rules").fetchone()[0]


def _write_rules(db: Database, first: int, count: int, size: int = 1) -> None:
    with db.write() as session:
        session.execute(
            text("INSERT INTO rules (key, value, updated_at) VALUES (:k, :v, '2026-01-01')"),
            [{"k": f"bench_{n}", "v": f'"{"x" * size}"'} for n in range(first, first + count)],
        )


def test_the_log_is_checkpointed_after_a_writer_took_it_past_the_limit(sqlite_db, tmp_path):
    path = Path(sqlite_db.engine.url.database)
    with sqlite3.connect(path) as lite:
        lite.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    before = _rules_in_file_alone(path, tmp_path)

    _write_rules(sqlite_db, 0, 10)
    assert sqlite_db.wait_for_checkpoint()
    assert _rules_in_file_alone(path, tmp_path) == before  # a small write stays in the log

    # About 1.5x the limit in 4 KiB pages, in one transaction.
    _write_rules(sqlite_db, 10, CHECKPOINT_AFTER_PAGES * 3 // 2, size=3000)
    assert sqlite_db.wait_for_checkpoint()
    assert _rules_in_file_alone(path, tmp_path) == before + 10 + CHECKPOINT_AFTER_PAGES * 3 // 2
    with sqlite3.connect(path) as lite:
        busy, in_log, copied = lite.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
    assert in_log == copied  # nothing was left for this checkpoint to do


def test_the_log_shrinks_back_after_a_big_transaction(tmp_path, monkeypatch):
    """An import batch grows the write-ahead log; it must not stay that big for good."""
    from salesdesk import db as db_module
    from salesdesk import migrations

    monkeypatch.setattr(db_module, "SQLITE_LOG_KEEP_BYTES", 512 * 1024)
    path = tmp_path / "log.db"
    database = Database(f"sqlite:///{path}")
    try:
        migrations.upgrade(database)
        log = Path(f"{path}-wal")
        _write_rules(database, 0, CHECKPOINT_AFTER_PAGES * 3 // 2, size=3000)  # ~6 MB
        assert log.stat().st_size > 4 * 1024 * 1024
        assert database.wait_for_checkpoint()
        _write_rules(database, 10_000, 1)  # the next writer starts the checkpointed log over
        assert log.stat().st_size <= 512 * 1024
    finally:
        database.dispose()


def test_the_writer_does_not_wait_for_the_checkpoint(tmp_path, monkeypatch):
    """The checkpoint runs on a thread of its own, and the write returns before it ends."""
    path = tmp_path / "threads.db"
    database = Database(f"sqlite:///{path}")
    ran_on: list[threading.Thread] = []
    release = threading.Event()
    real = database._checkpoint

    def slow_checkpoint() -> None:
        ran_on.append(threading.current_thread())
        release.wait(10)
        real()

    monkeypatch.setattr(database, "_checkpointer", _Checkpointer(slow_checkpoint))
    try:
        with database.write() as session:
            session.execute(text("CREATE TABLE rules (key TEXT, value TEXT, updated_at TEXT)"))
        _write_rules(database, 0, CHECKPOINT_AFTER_PAGES * 3 // 2, size=3000)
        # The write came back while its checkpoint is still held up.
        assert not database.wait_for_checkpoint(timeout=0.2)
        release.set()
        assert database.wait_for_checkpoint()
        assert ran_on and ran_on[0] is not threading.current_thread()
        assert _rules_in_file_alone(path, tmp_path) == CHECKPOINT_AFTER_PAGES * 3 // 2
    finally:
        release.set()
        database.dispose()
    assert not ran_on[0].is_alive()  # dispose() stopped the thread


def test_a_process_that_exits_without_closing_lets_its_checkpoint_finish(tmp_path):
    """A command never disposes its Database: its last checkpoint still runs; it exits cleanly."""
    path = tmp_path / "command.db"
    script = f"""
import atexit
done = []
atexit.register(lambda: print("checkpoints", len(done)))  # runs after SalesDesk's own hook

from sqlalchemy import text
from salesdesk.db import CHECKPOINT_AFTER_PAGES, Database

real = Database._checkpoint
def counted(self):
    real(self)
    done.append(1)
Database._checkpoint = counted

database = Database("sqlite:///{path}")
with database.write() as session:
    session.execute(text("CREATE TABLE rules (key TEXT, value TEXT, updated_at TEXT)"))
with database.write() as session:
    session.execute(
        text("INSERT INTO rules VALUES (:k, :v, '2026-01-01')"),
        [{{"k": str(n), "v": "x" * 3000}} for n in range(CHECKPOINT_AFTER_PAGES * 3 // 2)],
    )
"""
    quiet = {k: v for k, v in os.environ.items() if k != "PYTHONWARNINGS"}
    ran = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, env=quiet
    )
    assert ran.returncode == 0, ran.stderr
    assert ran.stderr == ""
    assert ran.stdout.strip() == "checkpoints 1"


def test_a_database_dropped_without_dispose_stops_its_checkpoint_thread(tmp_path):
    path = tmp_path / "dropped.db"
    database = Database(f"sqlite:///{path}")
    with database.write() as session:
        session.execute(text("CREATE TABLE rules (key TEXT, value TEXT, updated_at TEXT)"))
    _write_rules(database, 0, CHECKPOINT_AFTER_PAGES * 3 // 2, size=3000)
    assert database.wait_for_checkpoint()
    thread = database._checkpointer._thread
    assert thread is not None and thread.is_alive()
    gone = weakref.ref(database)
    del database
    gc.collect()
    assert gone() is None  # the thread did not keep the Database alive
    thread.join(5)
    assert not thread.is_alive()


def test_a_child_forked_during_a_checkpoint_does_not_wait_for_it():
    release, started = threading.Event(), threading.Event()
    ran: list[int] = []

    def held_checkpoint() -> None:
        started.set()
        release.wait(10)
        ran.append(os.getpid())

    checkpointer = _Checkpointer(held_checkpoint)
    checkpointer.ask()
    assert started.wait(5)
    pid = os.fork()  # while the parent's checkpoint runs
    if pid == 0:
        code = 1
        try:
            release.set()  # the child's copy of the event: the parent's thread is not here
            if checkpointer.wait(timeout=1):  # nothing was asked in this process
                checkpointer.ask()  # the child's own thread runs its own checkpoint
                code = 0 if checkpointer.wait(timeout=5) and ran == [os.getpid()] else 2
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    release.set()
    assert checkpointer.wait()
    checkpointer.close()
    assert os.waitstatus_to_exitcode(status) == 0
    assert ran == [os.getpid()]
