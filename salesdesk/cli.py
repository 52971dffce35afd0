"""The ``salesdesk`` command: the desktop app by default, admin commands by name.

Every command takes ``--db URL`` (default: the configured database, else the
embedded SQLite file). Bad input ends with one line on stderr and a non-zero
exit code — never a traceback.
"""

from __future__ import annotations

import argparse
import getpass
import logging
import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy.exc import DBAPIError

from salesdesk import __version__
from salesdesk.config import Secrets, check_database_url, resolve_database_url, with_password
from salesdesk.db import Database
from salesdesk.services.errors import SalesDeskError

if TYPE_CHECKING:
    from salesdesk.services.records import JobsSummary
    from salesdesk.services.sender import DeliverySummary

log = logging.getLogger("salesdesk")


def open_database(url: str | None, migrate: bool = True, create: bool = False) -> Database:
    """The database a command works on; ``create``: an SQLite file may be made for it."""
    from salesdesk import migrations

    resolved = resolve_database_url(url)
    check_database_url(resolved, must_exist=not create)
    db = Database(with_password(resolved, Secrets()))
    if migrate:
        migrations.upgrade(db)
    return db


def _cmd_db_upgrade(args: argparse.Namespace) -> int:
    db = open_database(args.db, migrate=False, create=True)
    from salesdesk import migrations

    migrations.upgrade(db)
    print(f"database is up to date ({db.dialect})")
    return 0


def _read_password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\n")
    if args.password:
        return str(args.password)
    if not sys.stdin.isatty():
        raise SalesDeskError("Give a password with --password-stdin (no terminal to ask on).")
    first = getpass.getpass("Password: ")
    if first != getpass.getpass("Again: "):
        raise SalesDeskError("The two passwords differ.")
    return first


def _cmd_users_add(args: argparse.Namespace) -> int:
    from salesdesk.services import team

    db = open_database(args.db)
    user = team.add_user(
        db,
        None,
        args.username,
        args.name or args.username,
        _read_password(args),
        role=args.role,
        email=args.email,
        cap=args.cap,
    )
    print(f"added {user.role} {user.username} (id {user.id})")
    return 0


def _cmd_pools_add(args: argparse.Namespace) -> int:
    from salesdesk.services import team

    db = open_database(args.db)
    pool = team.add_pool(db, None, args.name, routing=args.routing)
    if args.members:
        weights = _parse_members(db, args.members)
        pool = team.set_members(db, None, pool.id, weights)
    if pool.routing == "weighted":
        members = ", ".join(f"{m.display_name} ({m.weight})" for m in pool.members)
    else:
        members = ", ".join(m.display_name for m in pool.members)
    print(f"added pool {pool.name} ({pool.routing}): {members or 'no members'}")
    return 0


def _parse_members(db: Database, spec: str) -> dict[int, int]:
    """``alice:5,bob:3`` or ``alice,bob`` (weight 1) to user ids and weights."""
    from sqlalchemy import select

    from salesdesk.models import User

    weights: dict[int, int] = {}
    with db.read() as session:
        for item in filter(None, (p.strip() for p in spec.split(","))):
            name, _, weight = item.partition(":")
            user_id = session.scalar(select(User.id).where(User.username == name.strip().lower()))
            if user_id is None:
                raise SalesDeskError(f"There is no user called '{name}'.")
            try:
                weights[user_id] = int(weight) if weight else 1
            except ValueError:
                raise SalesDeskError(f"The share for {name} must be a whole number.") from None
    return weights


def _cmd_import(args: argparse.Namespace) -> int:
    from salesdesk.services import importing

    mapping: dict[str, str] = {}
    for item in args.map or []:
        column, sep, field = item.partition("=")
        if not sep:
            raise SalesDeskError(f'--map takes COLUMN=FIELD, e.g. "Mobile=phone" (got {item!r}).')
        mapping[column.strip()] = field.strip()
    db = open_database(args.db)
    summary = importing.import_csv(
        db, None, Path(args.file), pool=args.pool, mapping=mapping or None, source=args.source
    )
    # Every row that did not go in as it was, in the file's order.
    for row in sorted(summary.rejected + summary.kept_aside, key=lambda r: r.line):
        print(f"line {row.line}: {row.reason}")
    print(
        f"imported {summary.imported}, duplicates {summary.duplicates}, "
        f"rejected {len(summary.rejected)}"
    )
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from salesdesk.services import demo

    db = open_database(args.db, create=True)
    if demo.has_data(db):
        raise SalesDeskError("This database already has users; the demo needs an empty one.")
    demo.build_demo_floor(db, lead_count=args.leads)
    print(
        f"demo floor ready: sign in as admin, manager, alice, bob, carol or dave "
        f"(password {demo.DEMO_PASSWORD})"
    )
    return 0


def _cmd_mail_password(args: argparse.Namespace) -> int:
    """Keep the SMTP password in this computer's keychain (run on the worker's machine)."""
    from salesdesk.config import Secrets
    from salesdesk.services import mail_server, rules

    db = open_database(args.db)
    current = rules.get_rules(db)
    if not current.mail_host or not current.mail_user:
        raise SalesDeskError("Set the mail server and user name in Settings first.")
    password = _read_password(args)
    if not password:
        raise SalesDeskError("Enter the mail password.")
    secrets = Secrets()
    if not secrets.keychain_available:
        raise SalesDeskError(
            "This computer has no password keychain, so the mail password cannot be kept "
            "for the worker. Install a keychain service (e.g. gnome-keyring) and try again."
        )
    secrets.set(mail_server.password_account(current.mail_user, current.mail_host), password)
    print(f"mail password for {current.mail_user} on {current.mail_host} kept in the keychain")
    return 0


def _cmd_worker(args: argparse.Namespace) -> int:
    from salesdesk.services import jobs

    db = open_database(args.db)
    sender = _load_sender()
    while True:
        try:
            summary = jobs.run_due_jobs(db)
            delivered = sender(db) if sender else None
            if args.once or summary != jobs.JobsSummary():
                print(_round_line(summary, delivered), flush=True)
        except SalesDeskError as exc:
            if args.once:
                raise
            log.warning("%s (retrying in %ss)", exc, args.interval)
        if args.once:
            return 0
        time.sleep(args.interval)


def _round_line(summary: JobsSummary, delivered: DeliverySummary | None) -> str:
    """One worker round in words: ``jobs: 2 call backs due, 1 idle lead returned; mail: ...``."""
    done = [
        _counted(summary.callbacks_due, "call back came due", "call backs came due"),
        _counted(
            summary.expired,
            "lead back to the pool (keep period)",
            "leads back to the pool (keep period)",
        ),
        _counted(
            summary.idle, "lead back to the pool (no action)", "leads back to the pool (no action)"
        ),
        _counted(summary.routed, "waiting lead routed", "waiting leads routed"),
        _counted(summary.follow_ups, "follow-up reminder", "follow-up reminders"),
        _counted(summary.digests, "digest", "digests"),
    ]
    line = "jobs: " + (", ".join(d for d in done if d) or "nothing due")
    if delivered is not None:
        if delivered.skipped:
            mail = delivered.skipped
        else:
            mail = ", ".join(
                [f"{delivered.sent} sent"]
                + ([f"{delivered.retrying} to retry"] if delivered.retrying else [])
                + ([f"{delivered.failed} failed"] if delivered.failed else [])
                + ([delivered.problem] if delivered.problem else [])
            )
        line += f"; mail: {mail}"
    return line


def _counted(n: int, one: str, many: str) -> str:
    return "" if n == 0 else f"1 {one}" if n == 1 else f"{n} {many}"


def _number_in(
    convert: Callable[[str], float], low: int, high: int, unit: str, kind: str
) -> Callable[[str], float]:
    """An argparse type: a number from ``low`` to ``high``, refused in words otherwise."""

    def check(text: str) -> float:
        try:
            value = convert(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"'{text}' is not {kind}") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"choose from {low} to {high} {unit}")
        return value

    return check


_positive_seconds = _number_in(float, 1, 3600, "seconds", "a number of seconds")
_lead_count = _number_in(int, 1, 100_000, "leads", "a whole number")


def _load_sender():  # type: ignore[no-untyped-def]
    """The outbox sender, when the mail module that delivers is installed."""
    try:
        from salesdesk.services import sender
    except ImportError:
        return None
    return getattr(sender, "deliver_due", None)


def _cmd_gui(args: argparse.Namespace) -> int:
    check_database_url(resolve_database_url(args.db))  # a new SQLite file is the first start
    try:
        from salesdesk.ui.app import run
    except ImportError as exc:
        raise SalesDeskError(f"The desktop client cannot start here: {exc}") from None
    return int(run(args.db))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="salesdesk", description="SalesDesk: lead allocation for a sales call floor."
    )
    parser.add_argument("--version", action="version", version=f"salesdesk {__version__}")
    parser.add_argument(
        "--db", metavar="URL", help="database URL (default: configured, else embedded)"
    )
    parser.set_defaults(func=_cmd_gui)
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")

    def command(name: str, help_text: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_text, description=help_text)
        sub.add_argument(
            "--db",
            metavar="URL",
            default=argparse.SUPPRESS,
            help="database URL (default: configured, else embedded)",
        )
        return sub

    db_cmd = command("db", "database maintenance")
    db_sub = db_cmd.add_subparsers(metavar="ACTION", required=True)
    upgrade = db_sub.add_parser("upgrade", help="apply schema migrations")
    upgrade.add_argument("--db", metavar="URL", default=argparse.SUPPRESS)
    upgrade.set_defaults(func=_cmd_db_upgrade)

    users = command("users", "manage people")
    users_sub = users.add_subparsers(metavar="ACTION", required=True)
    add = users_sub.add_parser("add", help="add a person")
    add.add_argument("username")
    add.add_argument("--db", metavar="URL", default=argparse.SUPPRESS)
    add.add_argument("--name", help="full name shown in the app")
    add.add_argument("--role", choices=["rep", "manager", "admin"], default="rep")
    add.add_argument("--email")
    add.add_argument("--cap", type=int, help="personal cap on current leads")
    add.add_argument("--password", help="(visible in the process list; prefer --password-stdin)")
    add.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    add.set_defaults(func=_cmd_users_add)

    pools = command("pools", "manage pools")
    pools_sub = pools.add_subparsers(metavar="ACTION", required=True)
    padd = pools_sub.add_parser("add", help="add a pool")
    padd.add_argument("name")
    padd.add_argument("--db", metavar="URL", default=argparse.SUPPRESS)
    padd.add_argument(
        "--routing", choices=["next", "round_robin", "weighted", "manual"], default="next"
    )
    padd.add_argument("--members", help="user names, with shares for weighted: alice:5,bob:3")
    padd.set_defaults(func=_cmd_pools_add)

    imp = command("import", "import leads from a CSV file")
    imp.add_argument("file")
    imp.add_argument("--pool", required=True, help="the pool the leads go into")
    imp.add_argument(
        "--map",
        action="append",
        metavar="COLUMN=FIELD",
        help='map a column to a field, e.g. --map "Mobile=phone" (repeatable)',
    )
    imp.add_argument("--source", help="source to record on every lead (default: the file name)")
    imp.set_defaults(func=_cmd_import)

    demo = command("demo", "fill an empty database with a demo team and leads")
    demo.add_argument("--leads", type=_lead_count, default=240, help="how many (1-100000)")
    demo.set_defaults(func=_cmd_demo)

    mail = command("mail", "mail server set-up for this computer")
    mail_sub = mail.add_subparsers(metavar="ACTION", required=True)
    mpass = mail_sub.add_parser("password", help="keep the SMTP password in the OS keychain")
    mpass.add_argument("--db", metavar="URL", default=argparse.SUPPRESS)
    mpass.add_argument("--password", help="(visible in the process list; prefer --password-stdin)")
    mpass.add_argument("--password-stdin", action="store_true", help="read it from stdin")
    mpass.set_defaults(func=_cmd_mail_password)

    worker = command("worker", "run clock jobs and deliver mail (for a team on PostgreSQL)")
    worker.add_argument("--once", action="store_true", help="one round, then exit")
    worker.add_argument(
        "--interval", type=_positive_seconds, default=30.0, help="seconds between rounds (1-3600)"
    )
    worker.set_defaults(func=_cmd_worker)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(
        level=os.environ.get("SALESDESK_LOG", "WARNING"),
        format="%(levelname)s %(name)s: %(message)s",
    )
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except SalesDeskError as exc:
        print(f"salesdesk: {exc}", file=sys.stderr)
        return 2
    except (OSError, DBAPIError) as exc:
        # The database file's folder is unusable, or the server cannot be reached.
        detail = exc.orig if isinstance(exc, DBAPIError) else exc
        first_line = (str(detail).strip().splitlines() or [type(detail).__name__])[0]
        print(f"salesdesk: cannot open the database: {first_line}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
