"""Next under real concurrency: many OS processes clicking at once, on both engines.

The claims run in 32 separate processes (started by ``forkserver``, so none
inherits an engine from this one), each holding its own connection, all
released together from a start line. What is proven, per engine:

* thousands of claims from one pool by 32 reps never hand a lead to two reps,
  and the pool is emptied completely;
* a rep hammered from several processes ends with exactly their cap, and every
  extra click is refused with :class:`CapReachedError` (nothing else);
* one rep clicking in several windows at once gets exactly one lead with cap 1
  or one-lead-at-a-time on, and exactly five with cap 5;
* on SQLite no click ever meets "database is locked".

The worker pool is shared by the whole module: starting 32 interpreters is the
expensive part, so each process does many claims over several rounds.
"""

from __future__ import annotations

import multiprocessing
import time
from collections import Counter, defaultdict
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, wait
from pathlib import Path

import pytest
from sqlalchemy import func, select

from salesdesk.db import Database
from salesdesk.models import Lead, LeadEvent, LeadStatus
from salesdesk.services import rules
from salesdesk.services.records import Actor
from tests.services import _claimers
from tests.services._claimers import ClaimJob, ClaimReport

pytestmark = pytest.mark.slow

WORKERS = 32
# Leads in the one-pool race. SQLite runs one writer at a time, so its claims
# queue behind each other (about 10 ms of CPU each here): 1,000 keep the file
# near a minute on two busy cores; PostgreSQL claims in parallel.
POOL_SIZES = {"sqlite": 1000, "postgresql": 3000}
ROUND_TIMEOUT = 180.0


@pytest.fixture(scope="module")
def claimers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ProcessPoolExecutor]:
    """32 warm worker processes, all started before any test claims anything."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload([_claimers.__name__])
    executor = ProcessPoolExecutor(WORKERS, mp_context=context)
    sync = tmp_path_factory.mktemp("warm-up")
    futures = [executor.submit(_claimers.pid_of_worker, str(sync), i) for i in range(WORKERS)]
    _start_when_ready(sync, futures)
    pids = {f.result(timeout=ROUND_TIMEOUT) for f in futures}
    assert len(pids) == WORKERS, "every warm-up call must run in a process of its own"
    yield executor
    executor.shutdown(wait=True, cancel_futures=True)


def _start_when_ready(sync: Path, futures: Sequence[Future]) -> None:
    """Open the start line once every worker waits at it (or one has already failed)."""
    deadline = time.monotonic() + ROUND_TIMEOUT
    while len(list(sync.glob("ready-*"))) < len(futures):
        if any(f.done() for f in futures):
            break  # a worker failed before the line: release the others, report below
        assert time.monotonic() < deadline, "the workers never reached the start line"
        time.sleep(0.005)
    (sync / "go").touch()


def run_round(
    executor: ProcessPoolExecutor,
    db: Database,
    sync: Path,
    actors: Sequence[Actor],
    attempts: int,
) -> list[ClaimReport]:
    """One process per entry of ``actors``, all clicking Next together; every report back."""
    assert len(actors) <= WORKERS
    sync.mkdir()
    url = db.url.render_as_string(hide_password=False)
    jobs = [
        ClaimJob(url, a.id, a.username, db.now(), attempts, str(sync), i)
        for i, a in enumerate(actors)
    ]
    futures = [executor.submit(_claimers.claim_round, job) for job in jobs]
    _start_when_ready(sync, futures)
    done, not_done = wait(futures, timeout=ROUND_TIMEOUT)
    assert not not_done, f"{len(not_done)} workers were still claiming after {ROUND_TIMEOUT}s"
    reports = [f.result() for f in futures]  # a dead process raises BrokenProcessPool here
    assert len({r.pid for r in reports}) == len(actors), "each job ran in a process of its own"
    return reports


def assert_clean(reports: Sequence[ClaimReport]) -> None:
    """No process crashed and no click met a locked or unreachable database."""
    crashes = [r.crash for r in reports if r.crash]
    assert not crashes, crashes[0]
    unavailable = [m for r in reports for m in r.unavailable]
    assert not unavailable, f"{len(unavailable)} clicks failed, e.g. {unavailable[0]}"


def claimed_events(db: Database) -> dict[int, list[int | None]]:
    """lead id -> the ``to_owner_id`` of each of its ``claimed`` events."""
    with db.read() as session:
        rows = session.execute(
            select(LeadEvent.lead_id, LeadEvent.to_owner_id).where(LeadEvent.kind == "claimed")
        )
        events: dict[int, list[int | None]] = defaultdict(list)
        for lead_id, owner in rows:
            events[lead_id].append(owner)
        return events


def current_counts(db: Database) -> Counter[int]:
    with db.read() as session:
        return Counter(
            dict(
                session.execute(
                    select(Lead.owner_id, func.count())
                    .where(Lead.status == LeadStatus.CURRENT.value)
                    .group_by(Lead.owner_id)
                ).all()
            )
        )


def test_32_reps_empty_one_pool_without_any_lead_twice(db, floor, claimers, tmp_path):
    reps = [floor.rep(f"rep{i:02d}", cap=1000) for i in range(WORKERS)]
    pool = floor.pool(members=reps)
    lead_ids = floor.leads(pool, POOL_SIZES[db.dialect])

    reports = run_round(claimers, db, tmp_path / "sync", reps, attempts=10_000)

    assert_clean(reports)
    assert all(not r.refusals for r in reports), [r.refusals for r in reports if r.refusals]
    assert all(r.empty for r in reports), "each worker stops only when Next says 'empty'"
    returned = [lead for r in reports for lead in r.claimed]
    assert len(returned) == len(set(returned)), "a lead was handed out twice"
    assert sorted(returned) == sorted(lead_ids), "every lead is claimed, and only those"
    busy = sum(1 for r in reports if r.claimed)
    assert busy >= WORKERS // 2, f"only {busy} of {WORKERS} processes got a lead: no contention"

    claimed_by = {lead: r.actor_id for r in reports for lead in r.claimed}
    with db.read() as session:
        rows = session.execute(select(Lead.id, Lead.status, Lead.owner_id)).all()
    assert len(rows) == len(lead_ids)
    for lead_id, status, owner_id in rows:
        assert status == LeadStatus.CURRENT.value
        assert owner_id == claimed_by[lead_id], f"lead {lead_id}: owner differs from the claimer"
    events = claimed_events(db)
    assert set(events) == set(lead_ids)
    bad = {lead: owners for lead, owners in events.items() if owners != [claimed_by[lead]]}
    assert not bad, f"leads without exactly one 'claimed' event for their owner: {bad}"


def test_caps_hold_when_each_rep_is_hammered_from_four_processes(db, floor, claimers, tmp_path):
    caps = [1, 2, 3, 5, 8, 1, 2, 3]
    reps = [floor.rep(f"capped{i}", cap=cap) for i, cap in enumerate(caps)]
    pool = floor.pool(members=reps)
    floor.leads(pool, 200)
    clickers = [rep for rep in reps for _ in range(4)]  # 32 processes, four per rep
    attempts = 12  # more than any cap: every process keeps clicking past it

    reports = run_round(claimers, db, tmp_path / "sync", clickers, attempts)

    assert_clean(reports)
    assert not any(r.empty for r in reports), "the pool never ran dry in this test"
    refusal_kinds = set().union(*(r.refusals for r in reports))
    assert refusal_kinds == {"CapReachedError"}, refusal_kinds
    held = current_counts(db)
    events = claimed_events(db)
    for rep, cap in zip(reps, caps, strict=True):
        mine = [r for r in reports if r.actor_id == rep.id]
        got = [lead for r in mine for lead in r.claimed]
        refused = sum(r.refusals["CapReachedError"] for r in mine)
        assert len(got) == len(set(got)) == cap, f"{rep.username} (cap {cap}) got {len(got)}"
        assert refused == 4 * attempts - cap
        assert held[rep.id] == cap
        assert sum(owners.count(rep.id) for owners in events.values()) == cap
    assert all(len(owners) == 1 for owners in events.values())


@pytest.mark.parametrize(
    ("rule", "expected", "refusal"),
    [
        ({"cap": 1}, 1, "CapReachedError"),
        ({"one_at_a_time": True}, 1, "OneAtATimeError"),
        ({"cap": 5}, 5, "CapReachedError"),
    ],
    ids=["cap-1", "one-at-a-time", "cap-5"],
)
def test_one_rep_clicking_in_eight_windows_at_once(
    db, floor, claimers, tmp_path, rule, expected, refusal
):
    rules.update_rules(db, floor.admin, rule)
    alice = floor.rep("alice")
    bob = floor.rep("bob")  # a bystander: his leads must stay where they are
    pool = floor.pool(members=[alice, bob])
    floor.leads(pool, 50)
    windows = 8
    attempts = 4

    reports = run_round(claimers, db, tmp_path / "sync", [alice] * windows, attempts)

    assert_clean(reports)
    got = [lead for r in reports for lead in r.claimed]
    assert len(got) == len(set(got)) == expected
    refusals = sum((r.refusals for r in reports), Counter())
    assert refusals == Counter({refusal: windows * attempts - expected})
    assert current_counts(db) == Counter({alice.id: expected})
    events = claimed_events(db)
    assert sorted(events) == sorted(got)
    assert all(owners == [alice.id] for owners in events.values())
