"""Next under load: claims/s and latency of ``claim_next_lead`` beside a raw claim.

Usage::

    python benchmarks/next_claim.py            # full run (a few minutes)
    python benchmarks/next_claim.py --quick    # smaller pool, shorter runs
    python benchmarks/next_claim.py --engine postgresql --levels 32,128 --seconds 20

PostgreSQL: a pool of 1,000,000 leads; at each level of concurrent reps
(separate processes) a raw single-statement ``UPDATE … (SELECT … FOR UPDATE SKIP
LOCKED LIMIT 1) RETURNING`` claim loop and ``claim_next_lead`` run with the same
number of processes, on the same table, in halves in the order raw, Next, Next,
raw (see :func:`alternated`), and the ratio is printed. SQLite: ``claim_next_lead``
at 1 and 8 processes beside a raw ``BEGIN IMMEDIATE`` loop that relies on
SQLite's own busy handler, in the same order.

Each rep process is a distinct user in the pool. A rep process moves on to a
fresh user after every ``--per-rep`` claims, so the cap check counts a
realistic number of held leads (a real rep holds tens, not tens of thousands).
Every claim's latency is measured in the process that made it; throughput is
also bucketed per second to show decay. Afterwards the lead ids handed out are
checked against each other and against the database for double claims.

The machine is shared and noisy: compare the ratios printed beside each figure,
not the absolute numbers across runs.
"""

from __future__ import annotations

import argparse
import array
import multiprocessing as mp
import os
import platform
import shutil
import sqlite3
import sys
import tempfile
import time
import traceback
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _pg import libpq_url, postgres_server, psycopg_url, show_settings  # noqa: E402

POOL_NAME = "Bench"
REP_CAP = 1000  # high: the cap is checked on every claim but never refuses here
PG_SETTINGS = {
    "max_connections": "300",
    "shared_buffers": "1GB",
    "maintenance_work_mem": "512MB",
    "max_wal_size": "4GB",
}
PG_SHOWN = [
    "max_connections",
    "shared_buffers",
    "synchronous_commit",
    "autovacuum_naptime",
    "autovacuum_vacuum_cost_delay",
    "max_wal_size",
]

RAW_PG_CLAIM = """
UPDATE leads SET status = 'current', owner_id = %(owner)s, assigned_at = %(now)s
WHERE id = (
    SELECT id FROM leads
    WHERE pool_id = %(pool)s AND status = 'pool'
    ORDER BY priority DESC, score DESC, created_at DESC, id DESC
    LIMIT 1 FOR UPDATE SKIP LOCKED)
RETURNING id
"""

RAW_SQLITE_CLAIM = """
UPDATE leads SET status = 'current', owner_id = :owner, assigned_at = :now
WHERE id = (
    SELECT id FROM leads
    WHERE pool_id = :pool AND status = 'pool'
    ORDER BY priority DESC, score DESC, created_at DESC, id DESC
    LIMIT 1)
RETURNING id
"""


# --- building the floor ------------------------------------------------------------------


@dataclass(frozen=True)
class Floor:
    url: str  # SQLAlchemy URL
    pool_id: int
    rep_ids: tuple[int, int]  # [first, last] user ids of reps who use claim_next_lead
    raw_ids: tuple[int, int]  # [first, last] user ids the raw loop stamps as owners
    last_pool_lead: int  # leads after this one are the floor's history, not the pool


# A floor that has been working for a while: besides the pool, leads held by
# other reps (current, call backs to come, dead). Without them the planner's
# statistics would say that no lead is ever current, which no real floor has.
HISTORY_REPS = 2000
HISTORY_LEADS = 100_000
CREATED_EVENTS = (
    "INSERT INTO lead_events (lead_id, kind, at, to_status, details)"
    " SELECT id, 'created', created_at, 'pool', '{}' FROM leads"
)


def _lead_select(engine: str, count: int, pool_id: int) -> str:
    """SQL producing ``count`` synthetic pool leads (score 0–99, 1 % urgent)."""
    if engine == "postgresql":
        source = f"generate_series(1, {count}) AS s(g)"
        prefix = ""
        created = "timestamp '2026-01-01' + g * interval '1 second'"
        phone = "'+1555' || lpad(g::text, 7, '0')"
        pad = "lpad(g::text, 7, '0')"
    else:
        prefix = (
            f"WITH RECURSIVE s(g) AS (SELECT 1 UNION ALL SELECT g + 1 FROM s WHERE g < {count}) "
        )
        source = "s"
        created = "datetime('2026-01-01', '+' || g || ' seconds')"
        pad = "substr('0000000' || g, -7)"
        phone = f"'+1555' || {pad}"
    return (
        f"{prefix}INSERT INTO leads (first_name, last_name, company, email, email_key, phone,"
        " phone_key, source, score, priority, custom, tags, status, pool_id, created_at) "
        f"SELECT 'First' || g, 'Last' || g, 'Company ' || (g % 5000),"
        f" 'lead' || g || '@example.com', 'lead' || g || '@example.com', {phone},"
        f" '1555' || {pad}, 'bench', ((g % 1000) * 7919) % 100,"
        f" CASE WHEN g % 100 = 0 THEN 1 ELSE 0 END, '{{}}', '[]', 'pool', {pool_id}, {created}"
        f" FROM {source}"
    )


def _history_select(engine: str, count: int, pool_id: int, first_owner: int) -> str:
    """``count`` leads held by earlier reps: half current, a tenth call backs, the rest dead."""
    if engine == "postgresql":
        prefix, source = "", f"generate_series(1, {count}) AS s(g)"
        at = "timestamp '2025-12-01' + g * interval '10 seconds'"
        later = "timestamp '2027-01-01'"
    else:
        prefix = (
            f"WITH RECURSIVE s(g) AS (SELECT 1 UNION ALL SELECT g + 1 FROM s WHERE g < {count}) "
        )
        source = "s"
        at = "datetime('2025-12-01', '+' || (g * 10) || ' seconds')"
        later = "'2027-01-01 00:00:00'"
    status = "CASE WHEN g % 10 < 5 THEN 'current' WHEN g % 10 = 5 THEN 'callback' ELSE 'dead' END"
    return (
        f"{prefix}INSERT INTO leads (first_name, last_name, company, email, source, score,"
        " priority, custom, tags, status, pool_id, owner_id, created_at, assigned_at,"
        " last_action_at, call_back_at, dead_at) "
        f"SELECT 'Old' || g, 'Lead' || g, 'Company ' || (g % 5000), 'old' || g || '@example.com',"
        f" 'bench', g % 100, 0, '{{}}', '[]', {status}, {pool_id},"
        f" {first_owner} + g % {HISTORY_REPS}, {at}, {at}, {at},"
        f" CASE WHEN g % 10 = 5 THEN {later} END, CASE WHEN g % 10 > 5 THEN {at} END"
        f" FROM {source}"
    )


def build_floor(
    url: str, engine: str, leads: int, reps: int, raw_owners: int, revision: str = "head"
) -> Floor:
    """Migrate an empty database and fill it: one pool, ``reps`` members, ``leads`` leads."""
    from sqlalchemy import text

    from salesdesk import migrations
    from salesdesk.db import Database

    db = Database(url)
    migrations.upgrade(db, revision)
    users_sql = (
        "INSERT INTO users (username, display_name, role, active, cap, password_hash, created_at)"
        " SELECT :prefix || g, :name || g, 'rep', true, :cap, 'not-a-hash', :now FROM {src}"
    )
    if engine == "postgresql":
        src = "generate_series(1, :n) AS s(g)"
    else:
        users_sql = (
            "WITH RECURSIVE s(g) AS (SELECT 1 UNION ALL SELECT g + 1 FROM s WHERE g < :n) "
            + users_sql
        )
        src = "s"
    now = datetime(2026, 1, 1)
    with db.engine.begin() as conn:
        pool_id = conn.execute(
            text(
                "INSERT INTO pools (name, active, routing, created_at)"
                " VALUES (:name, true, 'next', :now) RETURNING id"
            ),
            {"name": POOL_NAME, "now": now},
        ).scalar_one()
        ids = []
        for prefix, name, n in (
            ("rep", "Rep ", reps),
            ("raw", "Raw ", raw_owners),
            ("old", "Old ", HISTORY_REPS),
        ):
            conn.execute(
                text(users_sql.format(src=src)),
                {"prefix": prefix, "name": name, "cap": REP_CAP, "now": now, "n": n},
            )
            ids.append(
                tuple(
                    conn.execute(
                        text("SELECT min(id), max(id) FROM users WHERE username LIKE :p || '%'"),
                        {"p": prefix},
                    ).one()
                )
            )
        conn.execute(
            text(
                "INSERT INTO pool_members (pool_id, user_id, weight, position, current_weight)"
                " SELECT :pool, id, 1, 0, 0 FROM users WHERE username LIKE 'rep%'"
            ),
            {"pool": pool_id},
        )
        # Bulk load without the indexes of leads and their history, then build them once.
        if engine == "postgresql":
            defs = conn.execute(
                text(
                    "SELECT indexname, indexdef FROM pg_indexes"
                    " WHERE tablename IN ('leads', 'lead_events') AND indexname NOT LIKE 'pk_%'"
                )
            ).all()
        else:
            defs = conn.execute(
                text(
                    "SELECT name, sql FROM sqlite_master WHERE type = 'index'"
                    " AND tbl_name IN ('leads', 'lead_events') AND sql IS NOT NULL"
                )
            ).all()
        for name, _ in defs:
            conn.execute(text(f"DROP INDEX {name}"))
        conn.execute(text(_lead_select(engine, leads, pool_id)))
        last_pool_lead = conn.execute(text("SELECT max(id) FROM leads")).scalar_one()
        conn.execute(text(_history_select(engine, HISTORY_LEADS, pool_id, ids[2][0])))
        # Every lead has its 'created' event, as an import writes: without a history
        # the planner would read the request id probe's tiny table by a full scan.
        conn.execute(text(CREATED_EVENTS))
        for _, sql in defs:
            conn.exec_driver_sql(sql)
    if engine == "postgresql":
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM (ANALYZE) leads, lead_events, users, pool_members")
    else:
        from sqlalchemy.engine import make_url

        # No ANALYZE: the application never runs it on SQLite either.
        lite = sqlite3.connect(make_url(url).database, isolation_level=None)
        lite.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        lite.close()
    db.dispose()
    return Floor(url, pool_id, ids[0], ids[1], last_pool_lead)  # type: ignore[arg-type]


# --- the rep processes -------------------------------------------------------------------


@dataclass
class Shared:
    """What the main process shares with its rep processes."""

    ready: Any  # mp.Value: processes connected and warmed up
    go: Any  # mp.Event
    start_at: Any  # mp.Value('d'): monotonic time the measured window opens
    next_identity: Any  # mp.Value: next unused rep user (offset from the first)
    release: Any  # mp.Event: the server's CPU was read; connections may close


@dataclass
class WorkerResult:
    slot: int
    latencies: bytes = b""  # array('d') seconds
    ends: bytes = b""  # array('d') monotonic end times
    lead_ids: bytes = b""  # array('q') every lead this process was handed
    owner_ids: bytes = b""  # array('q') the user each of them went to
    cpu: float = 0.0  # CPU seconds this process used inside the measured window
    errors: Counter[str] = field(default_factory=Counter)


def _run_loop(
    slot: int,
    shared: Shared,
    seconds: float,
    warmup: int,
    claim: Callable[[], tuple[int | None, int]],
    out: Any,
) -> None:
    """Warm up, wait for the common start, claim until the window closes, report."""
    result = WorkerResult(slot)
    lat, ends = array.array("d"), array.array("d")
    ids, owners = array.array("q"), array.array("q")

    def one() -> tuple[int | None, float, float]:
        t0 = time.monotonic()
        try:
            lead_id, owner = claim()
        except Exception as exc:  # noqa: BLE001 - every failure is counted and shown
            result.errors[f"{type(exc).__name__}: {str(exc).splitlines()[0][:120]}"] += 1
            return None, t0, time.monotonic()
        t1 = time.monotonic()
        if lead_id is None:
            result.errors["no lead returned (empty pool?)"] += 1
        else:
            ids.append(lead_id)
            owners.append(owner)
        return lead_id, t0, t1

    try:
        for _ in range(warmup):
            one()
        with shared.ready.get_lock():
            shared.ready.value += 1
        shared.go.wait()
        start = shared.start_at.value
        stop = start + seconds
        time.sleep(max(0.0, start - time.monotonic()))
        cpu0 = _cpu_seconds()
        while True:
            lead_id, t0, t1 = one()
            if t1 >= stop:
                break
            if lead_id is not None:
                lat.append(t1 - t0)
                ends.append(t1)
        result.cpu = _cpu_seconds() - cpu0
    except Exception:  # noqa: BLE001
        result.errors["worker crashed: " + traceback.format_exc(limit=3)[-300:]] += 1
        with shared.ready.get_lock():
            shared.ready.value += 1
    result.latencies, result.ends = lat.tobytes(), ends.tobytes()
    result.lead_ids, result.owner_ids = ids.tobytes(), owners.tobytes()
    out.put(result)
    # Keep the connection (and its server process) until the server's CPU is read.
    shared.release.wait(timeout=60)


def _cpu_seconds() -> float:
    times = os.times()
    return times.user + times.system


def _postgres_cpu(postmaster: int) -> dict[int, float] | None:
    """CPU seconds used so far by the server ``postmaster`` and its children (Linux only)."""
    proc = Path("/proc")
    if not proc.is_dir():
        return None
    ticks = os.sysconf("SC_CLK_TCK")
    used = {}
    for stat in proc.glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        fields = text[text.rindex(")") + 2 :].split()
        pid = int(stat.parent.name)
        if pid == postmaster or int(fields[1]) == postmaster:
            used[pid] = (int(fields[11]) + int(fields[12])) / ticks  # utime + stime
    return used


def postmaster_pid(url: str) -> int | None:
    """The PostgreSQL server's main process, when it runs on this machine (Linux)."""
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.connect() as conn:
        backend = conn.execute(text("SELECT pg_backend_pid()")).scalar_one()
        try:
            stat = Path(f"/proc/{backend}/stat").read_text()
        except OSError:
            stat = ""
    engine.dispose()
    return int(stat[stat.rindex(")") + 2 :].split()[1]) if stat else None


def _cpu_between(before: dict[int, float], after: dict[int, float]) -> float:
    """CPU used between two snapshots by the processes alive at the second one."""
    return sum(t - before.get(pid, 0.0) for pid, t in after.items())


def _next_identity(shared: Shared, floor: Floor) -> int:
    with shared.next_identity.get_lock():
        offset = shared.next_identity.value
        shared.next_identity.value += 1
    first, last = floor.rep_ids
    return first + offset % (last - first + 1)


def app_worker(
    slot: int, floor: Floor, shared: Shared, seconds: float, per_rep: int, warmup: int, out: Any
) -> None:
    """One rep at a desk clicking Next as fast as the service answers."""
    from salesdesk.db import Database
    from salesdesk.services.allocation import claim_next_lead
    from salesdesk.services.records import Actor

    db = Database(floor.url, pool_size=1)
    state = {"actor": None, "held": per_rep}

    def claim() -> tuple[int | None, int]:
        if state["held"] >= per_rep:
            uid = _next_identity(shared, floor)
            state["actor"], state["held"] = Actor(uid, f"rep{uid}", f"Rep {uid}", "rep"), 0
        actor = state["actor"]
        # Each click carries its own request id, as the desk's do.
        result = claim_next_lead(db, actor, request_id=uuid.uuid4().hex)
        state["held"] += 1
        return (result.lead.id if result.lead else None), actor.id

    try:
        _run_loop(slot, shared, seconds, warmup, claim, out)
    finally:
        db.dispose()


def raw_pg_worker(
    slot: int, floor: Floor, shared: Shared, seconds: float, per_rep: int, warmup: int, out: Any
) -> None:
    """The baseline: one prepared single-statement SKIP LOCKED claim, autocommit."""
    import psycopg

    conn = psycopg.connect(libpq_url(floor.url), autocommit=True)
    cursor = conn.cursor()  # one cursor for every claim, as Next's own connection keeps
    owner = floor.raw_ids[0] + slot % (floor.raw_ids[1] - floor.raw_ids[0] + 1)
    params = {"owner": owner, "pool": floor.pool_id, "now": datetime(2026, 3, 2, 9)}

    def claim() -> tuple[int | None, int]:
        row = cursor.execute(RAW_PG_CLAIM, params, prepare=True).fetchone()
        return (row[0] if row else None), owner

    try:
        _run_loop(slot, shared, seconds, warmup, claim, out)
    finally:
        conn.close()


def raw_sqlite_worker(
    slot: int, floor: Floor, shared: Shared, seconds: float, per_rep: int, warmup: int, out: Any
) -> None:
    """The SQLite baseline: BEGIN IMMEDIATE + one UPDATE … RETURNING, busy handler only."""
    from sqlalchemy.engine import make_url

    conn = sqlite3.connect(make_url(floor.url).database, timeout=10, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    owner = floor.raw_ids[0] + slot % (floor.raw_ids[1] - floor.raw_ids[0] + 1)
    params = {"owner": owner, "pool": floor.pool_id, "now": "2026-03-02 09:00:00"}

    def claim() -> tuple[int | None, int]:
        conn.execute("BEGIN IMMEDIATE")
        try:
            row = conn.execute(RAW_SQLITE_CLAIM, params).fetchone()
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        return (row[0] if row else None), owner

    try:
        _run_loop(slot, shared, seconds, warmup, claim, out)
    finally:
        conn.close()


# --- running one level -------------------------------------------------------------------


@dataclass
class RunStats:
    label: str
    procs: int
    seconds: float
    claims: int
    per_second: list[int]
    p50: float
    p99: float
    p999: float
    worst: float
    errors: Counter[str]
    lead_ids: array.array  # type: ignore[type-arg]
    owner_ids: array.array  # type: ignore[type-arg]
    client_cpu: float  # CPU seconds of the rep processes in the window
    server_cpu: float | None  # CPU seconds of PostgreSQL in the window (None: SQLite)
    latencies: list[float] = field(default_factory=list, repr=False)  # sorted, seconds

    @property
    def rate(self) -> float:
        return self.claims / self.seconds

    @property
    def level_ratio(self) -> float:
        """Slowest full second over the fastest (1.0 = perfectly level)."""
        full = self.per_second
        return min(full) / max(full) if full and max(full) else 0.0

    @property
    def trend(self) -> float:
        """Claims/s in the last third of the run over the first third.

        Less sensitive than :attr:`level_ratio` to a neighbour's burst on a
        shared machine, and it shows the direction: decay reads below 1.
        """
        third = max(1, len(self.per_second) // 3)
        first, last = self.per_second[:third], self.per_second[-third:]
        return (sum(last) / sum(first)) if sum(first) else 0.0


def _quantile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return float("nan")
    return sorted_values[min(len(sorted_values) - 1, int(q * len(sorted_values)))]


def run_level(
    ctx: Any,
    label: str,
    target: Callable[..., None],
    floor: Floor,
    procs: int,
    seconds: float,
    per_rep: int,
    shared_identity: Any,
    warmup: int = 6,
    postmaster: int | None = None,
) -> RunStats:
    shared = Shared(
        ctx.Value("i", 0), ctx.Event(), ctx.Value("d", 0.0), shared_identity, ctx.Event()
    )
    out = ctx.Queue()
    workers = [
        ctx.Process(target=target, args=(i, floor, shared, seconds, per_rep, warmup, out))
        for i in range(procs)
    ]
    for w in workers:
        w.start()
    deadline = time.monotonic() + 120 + procs
    while shared.ready.value < procs:
        if time.monotonic() > deadline or not any(w.is_alive() for w in workers):
            break
        time.sleep(0.05)
    start = time.monotonic() + 0.3
    shared.start_at.value = start
    shared.go.set()
    server_cpu = None
    if postmaster is not None:
        time.sleep(max(0.0, start - time.monotonic()))
        before = _postgres_cpu(postmaster)
        time.sleep(max(0.0, start + seconds - time.monotonic()))
        after = _postgres_cpu(postmaster)
        if before is not None and after is not None:
            server_cpu = _cpu_between(before, after)
    shared.release.set()  # the rep processes may disconnect now
    results = [out.get(timeout=seconds + 300) for _ in workers]
    for w in workers:
        w.join(timeout=30)

    latencies: list[float] = []
    buckets = [0] * int(seconds)
    errors: Counter[str] = Counter()
    ids, owners = array.array("q"), array.array("q")
    for r in results:
        lat, ends = array.array("d"), array.array("d")
        lat.frombytes(r.latencies)
        ends.frombytes(r.ends)
        latencies.extend(lat)
        for t in ends:
            b = int(t - start)
            if 0 <= b < len(buckets):
                buckets[b] += 1
        ids.frombytes(r.lead_ids)
        owners.frombytes(r.owner_ids)
        errors.update(r.errors)
    return _stats(
        label,
        procs,
        seconds,
        latencies,
        buckets,
        errors,
        ids,
        owners,
        sum(r.cpu for r in results),
        server_cpu,
    )


def _stats(
    label: str,
    procs: int,
    seconds: float,
    latencies: list[float],
    per_second: list[int],
    errors: Counter[str],
    ids: array.array,  # type: ignore[type-arg]
    owners: array.array,  # type: ignore[type-arg]
    client_cpu: float,
    server_cpu: float | None,
) -> RunStats:
    latencies = sorted(latencies)
    return RunStats(
        label=label,
        procs=procs,
        seconds=seconds,
        claims=len(latencies),
        per_second=per_second,
        p50=_quantile(latencies, 0.50),
        p99=_quantile(latencies, 0.99),
        p999=_quantile(latencies, 0.999),
        worst=latencies[-1] if latencies else float("nan"),
        errors=errors,
        lead_ids=ids,
        owner_ids=owners,
        client_cpu=client_cpu,
        server_cpu=server_cpu,
        latencies=latencies,
    )


def merged(first: RunStats, second: RunStats) -> RunStats:
    """Two runs of the same loop as one: claims, seconds, latencies and CPU together."""
    ids, owners = array.array("q", first.lead_ids), array.array("q", first.owner_ids)
    ids.extend(second.lead_ids)
    owners.extend(second.owner_ids)
    server = (
        None
        if first.server_cpu is None or second.server_cpu is None
        else first.server_cpu + second.server_cpu
    )
    return _stats(
        first.label,
        first.procs,
        first.seconds + second.seconds,
        first.latencies + second.latencies,
        first.per_second + second.per_second,
        first.errors + second.errors,
        ids,
        owners,
        first.client_cpu + second.client_cpu,
        server,
    )


def alternated(
    baseline: Callable[[float], RunStats], app: Callable[[float], RunStats], seconds: float
) -> tuple[RunStats, RunStats]:
    """The baseline and the app in halves, in the order A B B A, each pair merged.

    This machine's speed drifts with its host (the same statement has run 1.7x
    faster at one hour than at the next). Run one after the other, the second
    loop meets a different machine than the first; in A B B A order a drift
    that is steady over the minute weighs the same on both.
    """
    half = seconds / 2
    a1, b1 = baseline(half), app(half)
    b2, a2 = app(half), baseline(half)
    return merged(a1, a2), merged(b1, b2)


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:7.2f}"


def print_run(stats: RunStats, baseline: RunStats | None = None) -> None:
    line = (
        f"  {stats.label:<22} {stats.procs:>4} procs  {stats.rate:8.0f} claims/s"
        f"  p50 {_ms(stats.p50)}  p99 {_ms(stats.p99)}  p99.9 {_ms(stats.p999)}"
        f"  max {_ms(stats.worst)} ms  level {stats.level_ratio:4.2f}"
        f"  trend {stats.trend:4.2f}"
    )
    if baseline is not None and baseline.rate and baseline.p99:
        line += (
            f"  | vs raw: {stats.rate / baseline.rate:4.2f}x claims/s,"
            f" p99 {stats.p99 / baseline.p99:4.2f}x"
        )
    print(line, flush=True)
    if stats.claims:
        cpu = f"client {stats.client_cpu / stats.claims * 1e3:.2f}"
        if stats.server_cpu is not None:
            cpu += f" + server {stats.server_cpu / stats.claims * 1e3:.2f}"
        print(f"  {'':<22} CPU ms per claim: {cpu}", flush=True)
    print(f"  {'':<22} per second: {' '.join(str(b) for b in stats.per_second)}", flush=True)
    for message, n in stats.errors.most_common(5):
        print(f"  {'':<22} ! {n} x {message}", flush=True)


# --- checking for double claims ------------------------------------------------------------


def check_claims(floor: Floor, runs: list[RunStats], app_labels: set[str]) -> int:
    """Every lead handed out once, to the user who asked, and recorded so in the database."""
    from sqlalchemy import create_engine, text

    handed: dict[int, int] = {}
    duplicates = 0
    app_claims = 0
    for run in runs:
        for lead_id, owner in zip(run.lead_ids, run.owner_ids, strict=True):
            if lead_id in handed:
                duplicates += 1
            handed[lead_id] = owner
            app_claims += run.label in app_labels
    engine = create_engine(floor.url)
    with engine.connect() as conn:
        current = dict(
            conn.execute(
                text("SELECT id, owner_id FROM leads WHERE status = 'current' AND id <= :last"),
                {"last": floor.last_pool_lead},
            ).all()
        )
        events = conn.execute(
            text("SELECT count(*), count(DISTINCT lead_id) FROM lead_events WHERE kind = 'claimed'")
        ).one()
    engine.dispose()
    wrong_owner = sum(1 for i, o in handed.items() if current.get(i) != o)
    unaccounted = len(set(current) - set(handed))
    print(
        f"  double claims: {duplicates} handed twice; {events[0] - events[1]} leads with two"
        f" 'claimed' events; {wrong_owner} handed out but not owned so in the database;"
        f" {unaccounted} current in the database but never handed out;"
        f" {events[0]} claim events for {app_claims} Next claims",
        flush=True,
    )
    return duplicates + (events[0] - events[1]) + wrong_owner + unaccounted


# --- the two engines -----------------------------------------------------------------------


def _maintain(url: str) -> None:
    """Between runs: clean the claim index and flush, so each run starts alike."""
    from sqlalchemy import create_engine

    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.exec_driver_sql("VACUUM leads")
        conn.exec_driver_sql("CHECKPOINT")
    engine.dispose()


def _checkpoint(url: str) -> None:
    """Between SQLite runs: fold the WAL back into the database, so each run starts alike."""
    from sqlalchemy.engine import make_url

    lite = sqlite3.connect(make_url(url).database, isolation_level=None, timeout=30)
    lite.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    lite.close()


def run_postgresql(args: argparse.Namespace, ctx: Any) -> tuple[list[RunStats], int]:
    from sqlalchemy import create_engine

    print(f"\nPostgreSQL — {args.leads:,} leads in one pool", flush=True)
    runs: list[RunStats] = []
    with postgres_server(PG_SETTINGS) as admin_url:
        name = "salesdesk_bench"
        admin = create_engine(psycopg_url(admin_url, "postgres"), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        admin.dispose()
        url = psycopg_url(admin_url, name)
        t0 = time.monotonic()
        floor = build_floor(url, "postgresql", args.leads, args.users, max(args.levels))
        print(f"  built in {time.monotonic() - t0:.0f} s; settings: {show_settings(url, PG_SHOWN)}")
        identity = ctx.Value("q", 0)
        postmaster = postmaster_pid(url)

        def loop(label: str, worker: Any, per_rep: int, procs: int) -> Any:
            def run(seconds: float) -> RunStats:
                _maintain(url)  # each run from a clean index
                return run_level(
                    ctx, label, worker, floor, procs, seconds, per_rep, identity,
                    postmaster=postmaster,
                )  # fmt: skip

            return run

        def pair(procs: int, seconds: float, suffix: str = "") -> None:
            """The raw statement and Next at the same concurrency; in halves, A B B A."""
            raw_loop = loop("raw SKIP LOCKED" + suffix, raw_pg_worker, 0, procs)
            app_loop = loop("claim_next_lead" + suffix, app_worker, args.per_rep, procs)
            if suffix:  # the sustained run: one long run each, to see decay
                raw, app = raw_loop(seconds), app_loop(seconds)
            else:
                raw, app = alternated(raw_loop, app_loop, seconds)
            print_run(raw)
            print_run(app, raw)
            runs.extend([raw, app])

        for procs in args.levels:
            pair(procs, args.seconds)
        if args.sustain:
            print(f"  sustained, {args.sustain:g} s each:", flush=True)
            pair(args.sustain_procs, args.sustain, " (long)")
        bad = check_claims(floor, runs, {"claim_next_lead", "claim_next_lead (long)"})
    return runs, bad


def run_sqlite(args: argparse.Namespace, ctx: Any) -> tuple[list[RunStats], int]:
    from salesdesk.db import sqlite_url

    print(f"\nSQLite — {args.sqlite_leads:,} leads in one pool", flush=True)
    runs: list[RunStats] = []
    folder = Path(tempfile.mkdtemp(prefix="sdb-sqlite-", dir="/tmp"))
    try:
        url = sqlite_url(folder / "bench.db")
        t0 = time.monotonic()
        floor = build_floor(url, "sqlite", args.sqlite_leads, args.users, max(args.sqlite_levels))
        print(f"  built in {time.monotonic() - t0:.0f} s; WAL, synchronous=NORMAL, {folder}")
        identity = ctx.Value("q", 0)

        def loop(label: str, worker: Any, per_rep: int, procs: int) -> Any:
            def run(seconds: float) -> RunStats:
                _checkpoint(url)
                return run_level(ctx, label, worker, floor, procs, seconds, per_rep, identity)

            return run

        for procs in args.sqlite_levels:
            raw, app = alternated(
                loop("raw BEGIN IMMEDIATE", raw_sqlite_worker, 0, procs),
                loop("claim_next_lead", app_worker, args.per_rep, procs),
                args.seconds,
            )
            print_run(raw)
            print_run(app, raw)
            runs += [raw, app]
        bad = check_claims(floor, runs, {"claim_next_lead"})
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return runs, bad


# --- verdict ---------------------------------------------------------------------------------


def verdict(pg: list[RunStats], pg_bad: int, lite: list[RunStats], lite_bad: int) -> None:
    print("\nTargets", flush=True)

    def say(ok: bool, text: str) -> None:
        print(f"  [{'ok' if ok else 'MISSED'}] {text}", flush=True)

    by_level = {}
    for i in range(0, len(pg), 2):
        if pg[i].label == "raw SKIP LOCKED":
            by_level[pg[i].procs] = (pg[i], pg[i + 1])
    for procs in (32, 128):
        if procs in by_level:
            raw, app = by_level[procs]
            ratio, p99 = app.rate / raw.rate, app.p99 / raw.p99
            say(ratio >= 0.6, f"PG {procs} reps: {ratio:.2f}x the raw claims/s (>= 0.6)")
            say(p99 <= 2.0, f"PG {procs} reps: p99 {p99:.2f}x the raw p99 (<= 2)")
    if pg:
        say(pg_bad == 0, f"PG double claims / mismatches: {pg_bad}")
        worst = min(pg, key=lambda r: r.level_ratio)
        say(
            worst.level_ratio >= 0.7,
            f"PG level: slowest second / fastest >= 0.7 in every run"
            f" (worst {worst.level_ratio:.2f}, {worst.label} at {worst.procs})",
        )
        for run in pg:
            if run.label.endswith("(long)"):
                say(
                    run.trend >= 0.85,
                    f"PG no decay: last third / first third of the {run.seconds:g} s run"
                    f" {run.trend:.2f} ({run.label}; >= 0.85)",
                )
    for run in lite:
        if run.label == "claim_next_lead" and run.procs == 8:
            locked = sum(n for m, n in run.errors.items() if "locked" in m)
            say(run.rate >= 1000, f"SQLite 8 procs: {run.rate:.0f} claims/s (>= 1,000)")
            say(locked == 0, f"SQLite 8 procs: {locked} 'database is locked'")
            say(run.p999 <= 0.1, f"SQLite 8 procs: p99.9 {run.p999 * 1000:.1f} ms (<= 100)")
    if lite:
        say(lite_bad == 0, f"SQLite double claims / mismatches: {lite_bad}")


def _load() -> str:
    """The machine's load average: other work on a shared machine skews every figure."""
    try:
        return " ".join(f"{x:.1f}" for x in os.getloadavg())
    except OSError:
        return "unknown"


def _levels(text: str) -> list[int]:
    return [int(x) for x in text.split(",") if x.strip()]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="100k leads, 4 s runs, fewer levels")
    parser.add_argument("--engine", choices=("both", "postgresql", "sqlite"), default="both")
    parser.add_argument("--leads", type=int, help="PostgreSQL pool size (1,000,000)")
    parser.add_argument("--sqlite-leads", type=int, help="SQLite pool size (1,000,000)")
    parser.add_argument("--levels", type=_levels, help="PostgreSQL reps (1,8,32,128)")
    parser.add_argument("--sqlite-levels", type=_levels, help="SQLite reps (1,8)")
    parser.add_argument("--seconds", type=float, help="length of each run (15)")
    parser.add_argument("--sustain", type=float, help="a longer raw + Next run (30 s; 0 = off)")
    parser.add_argument("--sustain-procs", type=int, default=32)
    parser.add_argument("--per-rep", type=int, default=100, help="claims before a fresh rep")
    parser.add_argument("--users", type=int, default=20_000, help="rep users to create")
    args = parser.parse_args(argv)
    quick = args.quick
    args.leads = args.leads or (100_000 if quick else 1_000_000)
    args.sqlite_leads = args.sqlite_leads or (100_000 if quick else 1_000_000)
    args.levels = args.levels or ([1, 8, 32] if quick else [1, 8, 32, 128])
    args.sqlite_levels = args.sqlite_levels or [1, 8]
    args.seconds = args.seconds or (4.0 if quick else 15.0)
    args.sustain = (0.0 if quick else 30.0) if args.sustain is None else args.sustain

    ctx = mp.get_context("forkserver")
    ctx.set_forkserver_preload(["salesdesk.services.allocation", "psycopg", "_pg"])
    started = datetime.now(UTC)
    print(
        f"next_claim benchmark — {started:%Y-%m-%d %H:%M} UTC, {platform.node()},"
        f" {os.cpu_count()} CPUs, Python {platform.python_version()},"
        f" SQLite {sqlite3.sqlite_version}; each run {args.seconds:g} s;"
        f" load average at start {_load()}",
        flush=True,
    )
    pg: list[RunStats] = []
    lite: list[RunStats] = []
    pg_bad = lite_bad = 0
    if args.engine in ("both", "postgresql"):
        pg, pg_bad = run_postgresql(args, ctx)
    if args.engine in ("both", "sqlite"):
        lite, lite_bad = run_sqlite(args, ctx)
    verdict(pg, pg_bad, lite, lite_bad)
    print(
        f"\ntotal {(datetime.now(UTC) - started).total_seconds():.0f} s;"
        f" load average at end {_load()}",
        flush=True,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
