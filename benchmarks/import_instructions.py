"""An import's work, counted in instructions: the whole import, and SQLite's part.

Usage::

    python benchmarks/import_instructions.py                 # 20,000 rows, this checkout
    python benchmarks/import_instructions.py --code ../old   # another checkout of SalesDesk
    python benchmarks/import_instructions.py --engine postgresql   # the client's work

``import_csv.py`` measures rows per second, and on this shared machine the
clock moves with the host by a third from one minute to the next: its SQLite
baseline ran at 23,503 and 35,091 rows/s a minute apart. The number of
instructions does not move. This script generates ``import_csv.py``'s file
(semicolon-separated Windows-1252 with a few bad rows and duplicates), migrates
a fresh SQLite database, and runs ``importing.import_csv`` once under valgrind's
``callgrind``, counting only inside that call (it is made through
``functools.reduce``, a C function callgrind can switch on at). It prints the
instructions per row of the whole import and of what ran inside sqlite3's
``execute`` / ``executemany`` (SQLite itself and the binding of parameters);
the rest is Python: reading and checking rows, building parameters,
SQLAlchemy.

With ``--engine postgresql`` the import runs against a private server (or
``SALESDESK_BENCH_PG_URL``) started outside valgrind, so what is counted is
the client's work alone: reading and checking rows, COPY's formatting,
psycopg and SQLAlchemy. The server's work, most of a PostgreSQL import's
time, is another process's and is not counted.

What it leaves out: waiting for the disk (commits, checkpoints) and anything
another process does. It answers "how much work is an import", not "how many
rows a second": use it to compare two versions of the import path. About two
minutes for 20,000 rows. Needs valgrind (Debian: ``apt install valgrind``);
benchmarks are not part of the test suite, so the project does not install it.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from import_csv import fresh_database, generate, postgres_server, psycopg_url  # noqa: E402

# Run by the child process under valgrind: argv = code folder, CSV, database URL.
CHILD = """
import functools, sys
sys.path.insert(0, sys.argv[1])
from salesdesk.db import Database
from salesdesk.services import importing
db = Database(sys.argv[3])
summary = functools.reduce(
    lambda _a, _b: importing.import_csv(db, None, sys.argv[2], "bench"), [0, 0]
)
print("imported", summary.imported, "duplicates", summary.duplicates)
"""

# callgrind_annotate --inclusive=yes: "1,234,567 (12.3%)  file:function [object]"
_LINE = re.compile(r"^\s*([\d,]+) .*?:(\S+) \[")


def count(code: Path, csv_path: Path, url: str, out: Path) -> dict[str, int]:
    """Instructions inside the import, and inside sqlite3's statement calls."""
    run = subprocess.run(
        [
            "valgrind",
            "--tool=callgrind",
            "--toggle-collect=functools_reduce",
            f"--callgrind-out-file={out}",
            sys.executable,
            "-c",
            CHILD,
            str(code),
            str(csv_path),
            url,
        ],
        capture_output=True,
        text=True,
    )
    if run.returncode != 0 or "imported" not in run.stdout:
        sys.exit(f"the import under callgrind failed:\n{run.stdout}\n{run.stderr[-2000:]}")
    print(f"  {run.stdout.strip()}")
    annotated = subprocess.run(
        ["callgrind_annotate", "--inclusive=yes", str(out)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    found: dict[str, int] = {}
    for line in annotated.splitlines():
        match = _LINE.match(line)
        if match and match.group(2) in ("functools_reduce", "_pysqlite_query_execute"):
            found.setdefault(match.group(2), int(match.group(1).replace(",", "")))
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument(
        "--code", type=Path, default=HERE.parent, help="a SalesDesk checkout (this one)"
    )
    parser.add_argument("--engine", choices=["sqlite", "postgresql"], default="sqlite")
    args = parser.parse_args()
    if shutil.which("valgrind") is None:
        sys.exit("valgrind is not installed (Debian: apt install valgrind).")

    folder = Path(tempfile.mkdtemp(prefix="sdimpi-", dir="/tmp"))
    try:
        gen = generate(folder / "bench_leads.csv", args.rows)
        print(f"{gen.rows:,} rows ({gen.good:,} good), code: {args.code.resolve()}")
        out = folder / "callgrind.out"
        # Migrated with this checkout's code; --code only changes the import.
        if args.engine == "postgresql":
            with postgres_server() as server:
                import psycopg

                with psycopg.connect(server, autocommit=True) as admin:
                    admin.execute("DROP DATABASE IF EXISTS import_instructions")
                    admin.execute("CREATE DATABASE import_instructions")
                url = psycopg_url(server, "import_instructions")
                fresh_database(url).dispose()
                found = count(args.code.resolve(), gen.path, url, out)
        else:
            url = f"sqlite:///{folder / 'import.db'}"
            fresh_database(url).dispose()
            found = count(args.code.resolve(), gen.path, url, out)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    whole = found["functools_reduce"]
    if args.engine == "postgresql":
        print(
            f"instructions per row in this process (the client): {whole / gen.rows:,.0f}"
            f"  (total: {whole:,}; the server's work is another process's, not counted)"
        )
        return
    sqlite = found.get("_pysqlite_query_execute", 0)
    print(
        f"instructions per row: import {whole / gen.rows:,.0f} = "
        f"SQLite and binding {sqlite / gen.rows:,.0f} + Python {(whole - sqlite) / gen.rows:,.0f}"
        f"  (totals: {whole:,} / {sqlite:,})"
    )


if __name__ == "__main__":
    main()
