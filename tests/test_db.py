"""The SQLite write path's housekeeping: the log is folded back outside the writers' queue."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

from sqlalchemy import text

from salesdesk.db import CHECKPOINT_EVERY_WRITES, Database


def _rules_in_file_alone(db_path: Path, tmp_path: Path) -> int:
    """Rows of ``rules`` in the database file itself, without its write-ahead log."""
    copy = tmp_path / "file-alone.db"
    shutil.copy(db_path, copy)  # the -wal file is left behind on purpose
    with sqlite3.connect(copy) as lite:
        return lite.execute("SELECT count(*) FROM rules").fetchone()[0]


def _write_rule(db: Database, n: int) -> None:
    with db.write() as session:
        session.execute(
            text("INSERT INTO rules (key, value, updated_at) VALUES (:k, '1', '2026-01-01')"),
            {"k": f"bench_{n}"},
        )


def test_each_process_checkpoints_after_its_own_writes_not_inside_a_commit(sqlite_db, tmp_path):
    path = Path(sqlite_db.engine.url.database)
    with sqlite3.connect(path) as lite:
        lite.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    before = _rules_in_file_alone(path, tmp_path)
    sqlite_db._writes_since_checkpoint = 0

    for n in range(CHECKPOINT_EVERY_WRITES - 1):
        _write_rule(sqlite_db, n)
    assert _rules_in_file_alone(path, tmp_path) == before  # all still in the log

    _write_rule(sqlite_db, CHECKPOINT_EVERY_WRITES)
    assert _rules_in_file_alone(path, tmp_path) == before + CHECKPOINT_EVERY_WRITES
