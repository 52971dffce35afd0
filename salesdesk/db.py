"""Engines, sessions and transactions for both supported databases.

One :class:`Database` is built by the application (or a command, or a test) and
passed to every service call. It owns the engine and the clock, and hands out
one transaction at a time through :meth:`Database.write` and
:meth:`Database.read`; a service call is exactly one of those blocks.

Engine specifics live here and nowhere else:

* **SQLite** (the embedded default): WAL, a busy timeout, foreign keys on, and
  writes start with ``BEGIN IMMEDIATE`` so a write transaction holds the write
  lock from its first statement. SQLite's own busy handler sleeps and polls,
  which lets one process starve another for seconds under load; so before
  ``BEGIN IMMEDIATE`` a writer also queues in a first-come, first-served
  ticket queue of ``fcntl`` locks on a file beside the database
  (:class:`_FairWriteLock`), which hands the turn to the next writer the
  moment it is released. Correctness still comes from ``BEGIN IMMEDIATE``
  (the queue only orders the writers), and a process outside it is still safe.
  Folding the write-ahead log back into the file (a checkpoint) is left to a
  thread of its own (:class:`_Checkpointer`), so no writer waits for it.
* **PostgreSQL** (a team): a connection pool that pings a connection only after
  it sat idle (a ping per click is a round trip per click), READ COMMITTED, and
  row locks taken by the services themselves (``FOR UPDATE [SKIP LOCKED]``).
"""

from __future__ import annotations

import atexit
import contextlib
import os
import sqlite3
import struct
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, DisconnectionError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from salesdesk.services.errors import DatabaseUnavailableError

try:  # POSIX only; on Windows SQLite's busy handler alone orders writers.
    import fcntl
except ImportError:  # pragma: no cover - exercised on Windows only
    fcntl = None  # type: ignore[assignment]

Clock = Callable[[], datetime]

SQLITE_BUSY_TIMEOUT_MS = 10_000
# SQLite folds its write-ahead log back into the database file ("checkpoint") when
# the log passes 1,000 pages, inside whichever commit crosses it — and with fsync,
# a few ms that every queued writer then waits out. Here a writer that has just left
# the queue checks the log and, when it passed that same size, asks this process's
# checkpoint thread to fold it back (_Checkpointer); SQLite's own checkpoint stays
# only as the backstop for a much larger log.
CHECKPOINT_AFTER_PAGES = 1_000
SQLITE_AUTOCHECKPOINT_PAGES = 10_000  # ~40 MB of log
# The log file keeps the size of the largest transaction it ever held (an import
# batch: up to ~50 MB) unless told otherwise; once checkpointed, the next writer
# that starts it over cuts it back to this.
SQLITE_LOG_KEEP_BYTES = 16 * 1024 * 1024
# A pooled PostgreSQL connection idle for longer than this is pinged before use.
PING_AFTER_IDLE_S = 10.0


def utcnow() -> datetime:
    """The current time as naive UTC, the form every timestamp is stored in."""
    return datetime.now(UTC).replace(tzinfo=None, microsecond=0)


def sqlite_url(path: Path | str) -> str:
    return f"sqlite:///{Path(path)}"


class _FairWriteLock:
    """A first-come, first-served queue of the processes writing one SQLite file (POSIX).

    SQLite's busy handler sleeps and retries, so under load one writer can
    lose every race for seconds; a single blocking ``fcntl`` lock is no fairer,
    as the kernel wakes every waiter at once and lets them race again. This is
    a ticket queue made of ``fcntl`` byte-range locks on ``<database>.write-lock``:

    * taking a ticket: under a lock on the first 8 bytes (the counter), read
      and bump the counter, and lock this ticket's own byte;
    * waiting: lock (then free) the byte of the ticket just before, which its
      holder frees when its transaction ends — the kernel wakes exactly that
      one successor, in ticket order;
    * leaving: free this ticket's byte.

    A process that dies frees its bytes, so the queue moves on. Threads of one
    process queue on a ``threading.Lock`` first, because ``fcntl`` locks
    belong to the process, not to the thread.
    """

    _COUNTER_BYTES = 8
    _FIRST_SLOT = 4096
    _SLOTS = 1 << 24  # tickets wrap around far beyond any queue's length

    def __init__(self, path: Path) -> None:
        self._path = path
        self._thread_lock = threading.Lock()
        self._fd: int | None = None

    @contextlib.contextmanager
    def held(self) -> Iterator[None]:
        if fcntl is None:
            yield
            return
        with self._thread_lock:
            if self._fd is None or self._fd_pid != os.getpid():
                self._fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o600)
                self._fd_pid = os.getpid()
            fd = self._fd
            ticket = self._take_ticket(fd)
            mine = self._FIRST_SLOT + ticket % self._SLOTS
            try:
                before = self._FIRST_SLOT + (ticket - 1) % self._SLOTS
                fcntl.lockf(fd, fcntl.LOCK_EX, 1, before)  # wait for the one before
                fcntl.lockf(fd, fcntl.LOCK_UN, 1, before)
                yield
            finally:
                fcntl.lockf(fd, fcntl.LOCK_UN, 1, mine)

    def _take_ticket(self, fd: int) -> int:
        fcntl.lockf(fd, fcntl.LOCK_EX, self._COUNTER_BYTES, 0)
        try:
            stored = os.pread(fd, self._COUNTER_BYTES, 0)
            ticket = int.from_bytes(stored, "little") if len(stored) == 8 else 0
            os.pwrite(fd, ((ticket + 1) % self._SLOTS).to_bytes(8, "little"), 0)
            fcntl.lockf(fd, fcntl.LOCK_EX, 1, self._FIRST_SLOT + ticket % self._SLOTS)
        finally:
            fcntl.lockf(fd, fcntl.LOCK_UN, self._COUNTER_BYTES, 0)
        return ticket

    _fd_pid: int = -1


class _LogGauge:
    """How many pages of the write-ahead log are not in the database file yet.

    Read from the WAL-index (the ``-shm`` file), whose layout SQLite documents
    ("WAL-index Format" in its file format): ``mxFrame``, the log's last valid
    frame, at byte 16, and ``nBackfill``, the frames already copied back, at
    byte 96, both in the machine's byte order. It is read without a lock, so
    a value may be a moment old: good enough to decide when to checkpoint,
    and nothing else relies on it.
    """

    _U32 = struct.Struct("=I")

    def __init__(self, path: Path) -> None:
        self._path = path
        self._fd: int | None = None
        self._fd_pid = -1

    def pending(self) -> int:
        try:
            if self._fd is None or self._fd_pid != os.getpid():
                self._fd = os.open(self._path, os.O_RDONLY)
                self._fd_pid = os.getpid()
            header = os.pread(self._fd, 100, 0)
        except (OSError, AttributeError):  # no log yet; no pread (Windows)
            return 0
        if len(header) < 100:
            return 0
        last_frame: int = self._U32.unpack_from(header, 16)[0]
        copied: int = self._U32.unpack_from(header, 96)[0]
        return max(0, last_frame - copied)


class _Checkpointer:
    """Folds a SQLite file's write-ahead log back into the file, on a thread of its own.

    A writer that took the log past :data:`CHECKPOINT_AFTER_PAGES` asks for a
    checkpoint (:meth:`ask`) and returns at once: the copying runs here, beside
    whatever the process does next — the next batch of an import read and
    checked, a rep's next click — instead of after the write that crossed the
    limit (0.4–0.8 s of 6–9 s per 100,000 imported rows; session 10). Asks
    that arrive while a checkpoint runs make one more, not one each.

    The checkpoint is ``PASSIVE``: it waits for no one, writers go on appending
    to the log meanwhile, and one that finds others in the way does what it
    can (the next one, or SQLite's own backstop, catches up). The thread is
    started at the first ask (a forked child starts its own), and a process
    that exits first lets the checkpoint asked for finish.
    """

    def __init__(self, checkpoint: Callable[[], None]) -> None:
        self._checkpoint = checkpoint
        self._changed = threading.Condition()
        self._asked = False
        self._running = False
        self._closed = False
        self._thread: threading.Thread | None = None

    def ask(self) -> None:
        with self._changed:
            if self._closed:
                return
            self._asked = True
            if self._thread is None or not self._thread.is_alive():
                self._running = False
                thread = threading.Thread(
                    target=self._serve, name="salesdesk-checkpoint", daemon=True
                )
                try:
                    thread.start()
                except RuntimeError:  # no thread to be had: SQLite's own backstop remains
                    self._asked = False
                    return
                self._thread = thread
                _STARTED.add(self)
            self._changed.notify_all()

    def forget_thread(self) -> None:
        """In a forked child: the parent's thread and its lock state did not come along."""
        self._changed = threading.Condition()
        self._asked = self._running = False
        self._thread = None

    def wait(self, timeout: float = 10.0) -> bool:
        """Until every checkpoint asked for so far has run; False if ``timeout`` passed first."""
        with self._changed:
            return self._changed.wait_for(lambda: not (self._asked or self._running), timeout)

    def close(self, timeout: float = 10.0) -> None:
        """Stop the thread once the checkpoint running or asked for is done."""
        with self._changed:
            self._closed = True
            self._changed.notify_all()
            thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    def _serve(self) -> None:
        while True:
            with self._changed:
                self._changed.wait_for(lambda: self._asked or self._closed)
                if not self._asked:  # closed, with nothing left to do
                    return
                self._asked, self._running = False, True
            # Failing is harmless: the next ask, or SQLite's own backstop, catches up.
            with contextlib.suppress(Exception):
                self._checkpoint()
            with self._changed:
                self._running = False
                self._changed.notify_all()


# Checkpointers with a thread, closed when the process exits (a command that never
# disposes its Database), so that a checkpoint under way is not cut off.
_STARTED: weakref.WeakSet[_Checkpointer] = weakref.WeakSet()


@atexit.register
def _close_checkpointers() -> None:
    for checkpointer in list(_STARTED):
        checkpointer.close()


def _forget_checkpoint_threads() -> None:
    for checkpointer in list(_STARTED):
        checkpointer.forget_thread()


if hasattr(os, "register_at_fork"):  # POSIX
    os.register_at_fork(after_in_child=_forget_checkpoint_threads)


class Database:
    """The shared database: an engine, a clock, and transactions.

    Args:
        url: a SQLAlchemy URL (``sqlite:///path`` or ``postgresql+psycopg://…``).
        clock: returns "now" as naive UTC; tests pass a controllable one.
        pool_size: connections kept open on PostgreSQL.
    """

    def __init__(self, url: str, *, clock: Clock = utcnow, pool_size: int = 5) -> None:
        parsed = make_url(url)
        if parsed.drivername == "postgresql":
            parsed = parsed.set(drivername="postgresql+psycopg")
        self.url = parsed
        self.clock = clock
        self.is_sqlite = parsed.get_backend_name() == "sqlite"
        self._write_lock: _FairWriteLock | None = None
        self._log: _LogGauge | None = None
        self._checkpointer = _Checkpointer(_weak_call(self, Database._checkpoint))
        # A Database dropped without dispose() still stops its checkpoint thread.
        weakref.finalize(self, self._checkpointer.close)
        # Next's own connection and cursor per thread (PostgreSQL): see autocommit_cursor().
        self._own = threading.local()
        self._own_lock = threading.Lock()
        self._owned: list[Any] = []
        if self.is_sqlite:
            self.engine = self._sqlite_engine(parsed.render_as_string(hide_password=False))
        else:
            self.engine = create_engine(
                parsed,
                pool_size=pool_size,
                max_overflow=pool_size,
                pool_recycle=1800,
            )
            _ping_after_idle(self.engine)
        self._writer = self.engine.execution_options(salesdesk_write=True)
        self._write_sessions = sessionmaker(self._writer, expire_on_commit=False)
        self._read_sessions = sessionmaker(self.engine, expire_on_commit=False)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def now(self) -> datetime:
        return self.clock()

    def _sqlite_engine(self, url: str) -> Engine:
        database = make_url(url).database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
            self._write_lock = _FairWriteLock(Path(database + ".write-lock"))
            if hasattr(os, "pread"):  # reading the log's size needs pread (POSIX)
                self._log = _LogGauge(Path(database + "-shm"))
        engine = create_engine(
            url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000, "check_same_thread": False}
        )
        checkpoints_after_queue = self._log is not None

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_connection, _record):  # type: ignore[no-untyped-def]
            # Hand transaction control to the "begin" hook below.
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            if checkpoints_after_queue:  # else SQLite's own checkpoint at 1,000 pages
                cursor.execute(f"PRAGMA wal_autocheckpoint={SQLITE_AUTOCHECKPOINT_PAGES}")
            cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
            cursor.execute(f"PRAGMA journal_size_limit={SQLITE_LOG_KEEP_BYTES}")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _on_begin(conn):  # type: ignore[no-untyped-def]
            write = conn.get_execution_options().get("salesdesk_write", False)
            conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

        return engine

    @contextlib.contextmanager
    def _queued(self) -> Iterator[None]:
        """A SQLite writer's turn in the queue; afterwards, now and then, a checkpoint asked for."""
        if self._write_lock is None:
            yield
            return
        with self._write_lock.held():
            yield
        if self._log is not None and self._log.pending() >= CHECKPOINT_AFTER_PAGES:
            self._checkpointer.ask()

    def wait_for_checkpoint(self, timeout: float = 10.0) -> bool:
        """Until the checkpoints writers asked for have run (SQLite; at once elsewhere).

        "Run", not "copied everything": a checkpoint that found a reader in the
        way did what it could. For tests.
        """
        return self._checkpointer.wait(timeout)

    def _checkpoint(self) -> None:
        """Copy the log's committed pages into the database file (:class:`_Checkpointer`'s thread).

        ``PASSIVE`` waits for no one: writers go on appending to the log
        meanwhile, and a checkpoint that finds others in the way does what it
        can. Failing is harmless (the next one, or SQLite's backstop, catches up).
        """
        pooled = self.engine.raw_connection()
        lite: Any = pooled.driver_connection
        try:
            lite.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
        except sqlite3.Error:
            pass
        finally:
            pooled.close()

    @contextlib.contextmanager
    def write(self) -> Iterator[Session]:
        """One read-write transaction: commits on success, rolls back on any error."""
        lock = self._queued()
        with lock, _translate_errors(), self._write_sessions() as session, session.begin():
            yield session

    @contextlib.contextmanager
    def write_connection(self) -> Iterator[Connection]:
        """The same transaction as :meth:`write`, on a Core connection without a Session.

        For the one hot path that runs a few hand-written statements and no ORM
        (Next): a Session and its identity map cost more CPU than the claim
        itself. Everything else uses :meth:`write`.
        """
        lock = self._queued()
        with lock, _translate_errors(), self._writer.begin() as connection:
            yield connection

    @contextlib.contextmanager
    def driver_connection(self) -> Iterator[Any]:
        """A pooled connection of the database driver itself (psycopg or sqlite3).

        For Next only: with a hundred reps clicking at once, the CPU that
        SQLAlchemy spends per statement outweighs the statement. The caller
        runs one transaction and commits it; anything left open is rolled
        back. A lost or locked database is reported as
        :class:`DatabaseUnavailableError`, as everywhere else, and a lost
        connection is dropped from the pool.
        """
        pooled = self.engine.raw_connection()
        dbapi = self.engine.dialect.loaded_dbapi
        try:
            yield pooled.driver_connection
        except dbapi.OperationalError as exc:
            if self.engine.dialect.is_disconnect(exc, pooled.dbapi_connection, None):
                pooled.invalidate(exc)
            raise DatabaseUnavailableError(_first_line(exc)) from exc
        finally:
            with contextlib.suppress(Exception):
                pooled.rollback()
            pooled.close()

    @contextlib.contextmanager
    def autocommit_cursor(self) -> Iterator[Any]:
        """A cursor on this thread's own PostgreSQL connection, in autocommit, kept between calls.

        For Next only, whose whole transaction is one call of a database
        function: taking a connection from the pool, resetting it and giving
        it back cost the client as much CPU as the call itself, and a new
        cursor per call (what ``connection.execute`` makes) a third of what
        was left. The connection is taken out of the pool once per thread; one
        that sat idle is pinged before use (as pooled ones are), and a lost one
        is closed, reported as :class:`DatabaseUnavailableError` and replaced
        on the next call.
        """
        own = self._own
        driver = getattr(own, "driver", None)
        if driver is not None and driver.closed:  # closed by dispose(), or by the driver
            self._drop_own()
            driver = None
        if driver is not None and time.monotonic() - own.used >= PING_AFTER_IDLE_S:
            try:
                driver.execute("SELECT 1")
            except Exception:  # noqa: BLE001 - any failure means "use a new connection"
                self._drop_own()
                driver = None
        if driver is None:
            with _translate_errors():
                pooled = self.engine.raw_connection()
            driver = cast(Any, pooled.driver_connection)
            pooled.detach()  # ours now: the pool neither resets nor counts it
            driver.autocommit = True
            own.driver, own.cursor = driver, driver.cursor()
            with self._own_lock:
                self._owned.append(driver)
        try:
            yield own.cursor
        except self.engine.dialect.loaded_dbapi.OperationalError as exc:
            self._drop_own()
            raise DatabaseUnavailableError(_first_line(exc)) from exc
        finally:
            own.used = time.monotonic()

    def _drop_own(self) -> None:
        driver = getattr(self._own, "driver", None)
        self._own.driver = self._own.cursor = None
        if driver is not None:
            with self._own_lock:
                if driver in self._owned:
                    self._owned.remove(driver)
            with contextlib.suppress(Exception):
                driver.close()

    @contextlib.contextmanager
    def sqlite_write(self) -> Iterator[Any]:
        """One write transaction on the bare ``sqlite3`` connection (SQLite only).

        For Next on SQLite, where the write lock is held for the whole claim
        and every microsecond of Python inside it is a microsecond every other
        writer waits: the same fair lock and ``BEGIN IMMEDIATE`` as
        :meth:`write`, committed on success and rolled back on any error.
        """
        # The connection is taken from the pool before queueing: nobody waits on that.
        with self.driver_connection() as lite, self._queued():
            lite.execute("BEGIN IMMEDIATE")
            try:
                yield lite
            except BaseException:
                if lite.in_transaction:
                    lite.execute("ROLLBACK")
                raise
            lite.execute("COMMIT")

    @contextlib.contextmanager
    def read(self) -> Iterator[Session]:
        """One read-only transaction (a consistent snapshot on both engines)."""
        with _translate_errors(), self._read_sessions() as session, session.begin():
            yield session

    def dispose(self) -> None:
        """Close every connection and stop the checkpoint thread: the end of this Database."""
        self._checkpointer.close()
        with self._own_lock:
            owned, self._owned = self._owned, []
        for driver in owned:
            with contextlib.suppress(Exception):
                driver.close()
        self.engine.dispose()


def _weak_call(owner: Any, method: Callable[[Any], None]) -> Callable[[], None]:
    """``method(owner)`` while ``owner`` lives, without keeping it alive."""
    ref = weakref.ref(owner)

    def call() -> None:
        alive = ref()
        if alive is not None:
            method(alive)

    return call


def _ping_after_idle(engine: Engine) -> None:
    """Check a pooled PostgreSQL connection before use, but only after it sat idle.

    SQLAlchemy's ``pool_pre_ping`` costs a round trip on every checkout, which
    on a busy floor is one more round trip per click than the click needs. A
    connection that was in use a moment ago is alive; one that sat in the pool
    for a while may have been dropped by the server, a restart or a firewall,
    so that one is pinged, and replaced when the ping fails.
    """

    @event.listens_for(engine, "checkin")
    def _on_checkin(_dbapi_connection, record):  # type: ignore[no-untyped-def]
        record.info["salesdesk_idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _on_checkout(dbapi_connection, record, _proxy):  # type: ignore[no-untyped-def]
        idle_since = record.info.get("salesdesk_idle_since")
        if idle_since is None or time.monotonic() - idle_since < PING_AFTER_IDLE_S:
            return
        try:
            with dbapi_connection.cursor() as cursor:
                cursor.execute("SELECT 1")
            dbapi_connection.rollback()
        except Exception as exc:  # noqa: BLE001 - any failure means "use a new connection"
            raise DisconnectionError(str(exc)) from exc


@contextlib.contextmanager
def _translate_errors() -> Iterator[None]:
    """Turn a lost or locked database into a known error a person can read."""
    try:
        yield
    except OperationalError as exc:
        raise DatabaseUnavailableError(_short(exc)) from exc
    except DBAPIError as exc:
        if exc.connection_invalidated:
            raise DatabaseUnavailableError(_short(exc)) from exc
        raise


def _short(exc: DBAPIError) -> str:
    return _first_line(exc.orig or exc)


def _first_line(exc: BaseException) -> str:
    first = str(exc).strip().splitlines()
    return first[0] if first else type(exc).__name__
