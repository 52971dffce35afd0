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
  ``BEGIN IMMEDIATE`` a writer also takes a blocking ``fcntl`` lock on a file
  beside the database, which the kernel hands over the moment it is released.
  Correctness still comes from ``BEGIN IMMEDIATE`` (the file lock only orders
  the queue), and a process without the file lock is still safe.
* **PostgreSQL** (a team): a connection pool with pre-ping, READ COMMITTED, and
  row locks taken by the services themselves (``FOR UPDATE [SKIP LOCKED]``).
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from salesdesk.services.errors import DatabaseUnavailableError

try:  # POSIX only; on Windows SQLite's busy handler alone orders writers.
    import fcntl
except ImportError:  # pragma: no cover - exercised on Windows only
    fcntl = None  # type: ignore[assignment]

Clock = Callable[[], datetime]

SQLITE_BUSY_TIMEOUT_MS = 10_000


def utcnow() -> datetime:
    """The current time as naive UTC, the form every timestamp is stored in."""
    return datetime.now(UTC).replace(tzinfo=None, microsecond=0)


def sqlite_url(path: Path | str) -> str:
    return f"sqlite:///{Path(path)}"


class _FairWriteLock:
    """A blocking inter-process lock on ``<database>.write-lock`` (POSIX).

    Threads of one process queue on a ``threading.Lock`` first, because
    ``fcntl`` record locks belong to the process, not to the thread.
    """

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
            fcntl.lockf(self._fd, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.lockf(self._fd, fcntl.LOCK_UN)

    _fd_pid: int = -1


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
        if self.is_sqlite:
            self.engine = self._sqlite_engine(parsed.render_as_string(hide_password=False))
        else:
            self.engine = create_engine(
                parsed,
                pool_size=pool_size,
                max_overflow=pool_size,
                pool_pre_ping=True,
                pool_recycle=1800,
            )
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
        engine = create_engine(
            url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000, "check_same_thread": False}
        )

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_connection, _record):  # type: ignore[no-untyped-def]
            # Hand transaction control to the "begin" hook below.
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _on_begin(conn):  # type: ignore[no-untyped-def]
            write = conn.get_execution_options().get("salesdesk_write", False)
            conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

        return engine

    @contextlib.contextmanager
    def write(self) -> Iterator[Session]:
        """One read-write transaction: commits on success, rolls back on any error."""
        lock = self._write_lock.held() if self._write_lock else contextlib.nullcontext()
        with lock, _translate_errors(), self._write_sessions() as session, session.begin():
            yield session

    @contextlib.contextmanager
    def read(self) -> Iterator[Session]:
        """One read-only transaction (a consistent snapshot on both engines)."""
        with _translate_errors(), self._read_sessions() as session, session.begin():
            yield session

    def dispose(self) -> None:
        self.engine.dispose()


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
    first = str(exc.orig).strip().splitlines()
    return first[0] if first else type(exc.orig).__name__
