"""Worker side of the concurrency tests: code that runs in the claiming processes.

It lives in its own importable module (not in the test file) because the
processes are started with the ``forkserver`` method: a fresh interpreter that
imports this module once and forks each worker from there, so no worker ever
inherits a SQLAlchemy engine or an open connection from the test process.

A worker keeps one :class:`~salesdesk.db.Database` per URL across jobs, so the
cost of starting Python, importing SQLAlchemy and connecting is paid once per
process, not once per claim.
"""

from __future__ import annotations

import os
import time
import traceback
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

# Imported here, in the fork server, so that no worker pays for them: the
# engines' drivers and dialects load lazily on the first create_engine().
import psycopg  # noqa: F401
import sqlalchemy.dialects.postgresql.psycopg  # noqa: F401
import sqlalchemy.dialects.sqlite.pysqlite  # noqa: F401

from salesdesk.db import Database
from salesdesk.services import allocation
from salesdesk.services.errors import DatabaseUnavailableError, SalesDeskError
from salesdesk.services.records import Actor

# How long a worker waits for the others before giving up on a round (seconds).
START_TIMEOUT = 120.0


@dataclass(frozen=True)
class FixedClock:
    """A picklable clock that always says the same time (the test's "now")."""

    at: datetime

    def __call__(self) -> datetime:
        return self.at


@dataclass(frozen=True)
class ClaimJob:
    """What one worker does in one round: up to ``attempts`` clicks on Next as ``actor``.

    The worker stops early when Next says the pool is empty. ``sync_dir`` holds
    the start line: each worker writes ``ready-<index>`` once it is connected,
    then waits for the file ``go``, so every claim of the round starts together.
    """

    url: str
    actor_id: int
    username: str
    now: datetime
    attempts: int
    sync_dir: str
    index: int


@dataclass
class ClaimReport:
    """What one worker saw; a crash is reported, never raised, so no round is lost."""

    index: int
    pid: int
    actor_id: int
    claimed: list[int] = field(default_factory=list)
    from_callback: int = 0
    empty: bool = False
    refusals: Counter[str] = field(default_factory=Counter)
    unavailable: list[str] = field(default_factory=list)
    crash: str | None = None
    seconds: float = 0.0


_databases: dict[str, Database] = {}


def _database(url: str, now: datetime) -> Database:
    db = _databases.get(url)
    if db is None:
        for old in _databases.values():
            old.dispose()
        _databases.clear()
        db = _databases[url] = Database(url, pool_size=1)
    db.clock = FixedClock(now)
    return db


def _wait_for_start(sync_dir: Path, index: int) -> None:
    (sync_dir / f"ready-{index}").touch()
    go = sync_dir / "go"
    deadline = time.monotonic() + START_TIMEOUT
    while not go.exists():
        if time.monotonic() > deadline:
            raise TimeoutError("the other workers never became ready")
        time.sleep(0.0005)


def pid_of_worker(sync_dir: str, index: int) -> int:
    """A no-op round used to start (and warm) every worker before the tests time anything."""
    _wait_for_start(Path(sync_dir), index)
    return os.getpid()


def claim_round(job: ClaimJob) -> ClaimReport:
    """Click Next ``job.attempts`` times (or until the pool is empty); report every outcome.

    A refusal (a :class:`SalesDeskError`) is counted and the worker clicks on;
    "database unavailable" or any other exception ends the worker's round.
    """
    report = ClaimReport(index=job.index, pid=os.getpid(), actor_id=job.actor_id)
    actor = Actor(job.actor_id, job.username, job.username.title(), "rep")
    try:
        db = _database(job.url, job.now)
        with db.read() as session:  # connect before the start line, not after it
            session.connection()
        _wait_for_start(Path(job.sync_dir), job.index)
        started = time.perf_counter()
        for _ in range(job.attempts):
            try:
                result = allocation.claim_next_lead(db, actor)
            except DatabaseUnavailableError as exc:
                report.unavailable.append(exc.message)
                break  # already a failure; retrying would only slow the round down
            except SalesDeskError as exc:
                report.refusals[type(exc).__name__] += 1
                continue
            if result.lead is None:
                report.empty = True
                break
            report.claimed.append(result.lead.id)
            report.from_callback += result.from_callback
        report.seconds = time.perf_counter() - started
    except BaseException:  # noqa: BLE001 - any other exception is the bug under test
        report.crash = traceback.format_exc()
    return report
