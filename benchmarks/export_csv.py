"""Exporting the manager's table to CSV, on the pool table benchmark's floor.

What it measures, per engine, on the floor ``pool_model.py`` builds (1,000,000
leads by default; ``--keep`` reuses one built before):

* :func:`salesdesk.services.lead_export.export_leads` of one pool (about an
  eighth of the floor) in the table's default order, newest first, and of
  the whole floor with ``--all``: rows/s and the process's peak memory;
* the baseline in the same run: one streamed ``SELECT`` of the same rows in the
  same order, written with ``csv.writer`` (no paging, no extra fields, no
  formula check) — the least any export could do. The ratio is what paging by
  keyset, the extra-field pass and the safety checks cost.

Run::

    python benchmarks/export_csv.py --keep /tmp/sdbench          # both engines
    python benchmarks/export_csv.py --leads 200000 --engines sqlite
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import pool_model  # noqa: E402
from sqlalchemy import func, select  # noqa: E402

from salesdesk import migrations  # noqa: E402
from salesdesk.db import Database, sqlite_url  # noqa: E402
from salesdesk.models import Lead  # noqa: E402
from salesdesk.services import lead_export  # noqa: E402
from salesdesk.services.lead_table import LeadFilter  # noqa: E402
from salesdesk.services.lifecycle import lead_rows  # noqa: E402


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def export(db: Database, manager: object, filters: LeadFilter, out: Path) -> tuple[float, int]:
    started = time.perf_counter()
    summary = lead_export.export_leads(db, manager, out, filters)  # type: ignore[arg-type]
    return time.perf_counter() - started, summary.rows


def baseline(db: Database, filters: LeadFilter, out: Path) -> tuple[float, int]:
    """One streamed SELECT in the same order, straight into csv.writer."""
    started = time.perf_counter()
    query = lead_rows().order_by(Lead.created_at.desc(), Lead.id.desc())
    if filters.pool_id is not None:
        query = query.where(Lead.pool_id == filters.pool_id)
    rows = 0
    with db.read() as session, open(out, "w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(lead_export.HEADINGS)
        result = session.execute(query.execution_options(yield_per=2000)).mappings()
        for row in result:
            writer.writerow(
                [
                    row["first_name"],
                    row["last_name"],
                    row["company"],
                    row["email"] or "",
                    row["phone"] or "",
                    row["pool_name"] or "",
                    row["status"],
                    row["owner_name"] or "",
                    row["source"],
                    row["score"],
                    row["priority"],
                    row["created_at"],
                    row["assigned_at"] or "",
                    row["last_action_at"] or "",
                    row["last_contacted_at"] or "",
                    row["call_back_at"] or "",
                    row["email_confirmed_at"] or "",
                    row["appointment_at"] or "",
                    row["dead_at"] or "",
                    "",
                ]
            )
            rows += 1
    return time.perf_counter() - started, rows


def run_engine(engine: str, args: argparse.Namespace) -> None:
    with contextlib.ExitStack() as stack:
        if engine == "sqlite":
            folder = (
                args.keep / "sqlite"
                if args.keep
                else Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="sdex-")))
            )
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / "bench.db"
            built, url = path.exists(), sqlite_url(path)
        else:
            url, built = stack.enter_context(pool_model.postgres(args.keep))
        db = Database(url, clock=lambda: pool_model.NOW)
        stack.callback(db.dispose)
        if built:
            migrations.upgrade(db)
            floor = pool_model.existing_floor(db)
        else:
            floor = pool_model.build_floor(db, args.leads)
        manager = pool_model.the_manager(floor)
        with db.read() as session:
            total = session.scalar(select(func.count()).select_from(Lead)) or 0
        print(f"  {total:,} leads")
        cases = [("one pool", LeadFilter(pool_id=floor.pool_ids[0]))]
        if args.all:
            cases.append(("whole floor", LeadFilter()))
        out = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="sdex-out-")))
        for name, filters in cases:
            before = peak_rss_mib()
            took, rows = export(db, manager, filters, out / "export.csv")
            grew = peak_rss_mib() - before
            size = (out / "export.csv").stat().st_size / 2**20
            base_took, base_rows = baseline(db, filters, out / "baseline.csv")
            assert base_rows == rows, (base_rows, rows)
            print(
                f"  {name:<12} {rows:>9,} rows  export {rows / took:>8,.0f} rows/s ({took:5.1f} s,"
                f" {size:.0f} MiB, peak memory +{grew:.0f} MiB)   baseline"
                f" {rows / base_took:>8,.0f} rows/s ({base_took:5.1f} s)   ratio"
                f" {base_took / took:.2f}",
                flush=True,
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--leads", type=int, default=1_000_000)
    parser.add_argument("--engines", default="sqlite,postgresql")
    parser.add_argument("--keep", type=Path, help="build the floors here once and reuse them")
    parser.add_argument("--all", action="store_true", help="also export the whole floor")
    args = parser.parse_args()
    print(f"CSV export benchmark: machine has {os.cpu_count()} cores (shared: compare the ratio)")
    for engine in args.engines.split(","):
        print(f"\n== {engine} ==", flush=True)
        run_engine(engine, args)


if __name__ == "__main__":
    main()
