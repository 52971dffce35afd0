"""The command line, as an admin or a script uses it (run in-process)."""

from __future__ import annotations

from pathlib import Path

import pytest

from salesdesk import cli
from salesdesk.db import Database
from salesdesk.services import allocation, auth, demo, lead_table, leads


@pytest.fixture
def url(tmp_path):
    return f"sqlite:///{tmp_path / 'cli.db'}"


def run(capsys, *argv):
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_db_upgrade_creates_the_schema(capsys, url):
    code, out, _ = run(capsys, "db", "upgrade", "--db", url)
    assert code == 0 and "up to date (sqlite)" in out


def test_users_pools_and_a_claim_from_the_command_line(capsys, url, monkeypatch):
    assert run(capsys, "db", "upgrade", "--db", url)[0] == 0
    assert (
        run(
            capsys,
            "users",
            "add",
            "alice",
            "--name",
            "Alice Walker",
            "--password",
            "s3cret-pass",
            "--db",
            url,
        )[0]
        == 0
    )
    assert run(capsys, "users", "add", "bob", "--password", "s3cret-pass", "--db", url)[0] == 0
    code, out, _ = run(
        capsys,
        "pools",
        "add",
        "Partners",
        "--routing",
        "weighted",
        "--members",
        "alice:3,bob:1",
        "--db",
        url,
    )
    assert code == 0
    assert out.strip() == "added pool Partners (weighted): Alice Walker (3), bob (1)"
    code, out, _ = run(capsys, "pools", "add", "Inbound", "--members", "alice,bob", "--db", url)
    assert out.strip() == "added pool Inbound (next): Alice Walker, bob"  # no shares to show
    db = Database(url)
    alice = auth.login(db, "alice", "s3cret-pass")
    assert allocation.claim_next_lead(db, alice).lead is None


def test_password_from_stdin(capsys, url, monkeypatch):
    import io

    monkeypatch.setattr("sys.stdin", io.StringIO("from-stdin-1\n"))
    run(capsys, "db", "upgrade", "--db", url)
    assert run(capsys, "users", "add", "carol", "--password-stdin", "--db", url)[0] == 0
    assert auth.login(Database(url), "carol", "from-stdin-1").username == "carol"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["users", "add", "x y", "--password", "password1"], "user name is 2 to 63 characters"),
        (["users", "add", "dan", "--password", "short"], "at least 8 characters"),
        (["pools", "add", "P", "--members", "ghost:1"], "There is no user called 'ghost'"),
        (["pools", "add", "P", "--members", "ghost:x"], "There is no user called 'ghost'"),
        (["users", "add", "eve", "--password", "password1", "--email", "bad"], "Not an email"),
    ],
)
def test_bad_input_is_one_line_and_no_traceback(capsys, url, argv, message):
    run(capsys, "db", "upgrade", "--db", url)
    code, _, err = run(capsys, *argv, "--db", url)
    assert code == 2
    assert message in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_demo_builds_a_working_floor_once(capsys, url):
    code, out, _ = run(capsys, "demo", "--leads", "60", "--db", url)
    assert code == 0 and "password demo1234" in out
    db = Database(url)
    manager = auth.login(db, "manager", demo.DEMO_PASSWORD)
    page = lead_table.list_leads(db, manager)
    assert page.total == 60
    statuses = {r.status for r in lead_table.list_leads(db, manager, limit=500).rows}
    assert {"pool", "current", "callback", "appointment", "dead"} <= statuses
    alice = auth.login(db, "alice", demo.DEMO_PASSWORD)
    assert leads.my_current_leads(db, alice) and leads.my_call_backs(db, alice)
    code, _, err = run(capsys, "demo", "--db", url)
    assert code == 2 and "already has users" in err


def test_worker_once_runs_the_jobs(capsys, url):
    run(capsys, "db", "upgrade", "--db", url)
    code, out, _ = run(capsys, "worker", "--once", "--db", url)
    assert code == 0
    assert (
        out.strip()
        == "jobs: nothing due; mail: No mail server is set up; mail waits in the outbox."
    )


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["worker", "--once", "--db", "bogus://x"], "SQLite and PostgreSQL, not 'bogus'"),
        (["worker", "--once", "--db", "postgres://u@h/d"], "postgresql:// rather than postgres://"),
        (["worker", "--once", "--db", "not a url"], "not a database address"),
        (["worker", "--once", "--db", "sqlite:////no/such/dir/x.db"], "no database at /no/such"),
        (["import", "x.csv", "--pool", "P", "--db", "sqlite:////tmp/nowhere-sd.db"], "no database"),
    ],
)
def test_a_database_address_that_cannot_be_used_is_refused_in_words(capsys, argv, message):
    code, out, err = run(capsys, *argv)
    assert code == 2 and message in err and out == ""
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert not Path("/no/such/dir/x.db").exists() and not Path("/tmp/nowhere-sd.db").exists()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["worker", "--interval", "-1"], "choose from 1 to 3600 seconds"),
        (["worker", "--interval", "soon"], "'soon' is not a number of seconds"),
        (["demo", "--leads", "-5"], "choose from 1 to 100000 leads"),
    ],
)
def test_bad_numbers_are_refused_before_anything_runs(capsys, url, argv, message):
    with pytest.raises(SystemExit) as exit_:
        cli.main([*argv, "--db", url])
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and message in err and "Traceback" not in err
    assert not Path(url.removeprefix("sqlite:///")).exists()


def test_a_worker_round_in_words():
    from salesdesk.services.records import JobsSummary
    from salesdesk.services.sender import DeliverySummary

    line = cli._round_line(
        JobsSummary(callbacks_due=1, idle=3), DeliverySummary(sent=2, retrying=1)
    )
    assert line == (
        "jobs: 1 call back came due, 3 leads back to the pool (no action); mail: 2 sent, 1 to retry"
    )


def test_an_unreachable_database_is_one_plain_line(capsys, tmp_path):
    url = f"sqlite:///{tmp_path / 'no' / 'such' / 'dir' / 'x.db'}"
    (tmp_path / "no").write_text("a file where a folder should be")
    code, _, err = run(capsys, "db", "upgrade", "--db", url)
    assert code == 2
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_mail_password_goes_to_the_keychain_not_the_database(capsys, url, monkeypatch):
    import io

    import keyring
    from keyring.backend import KeyringBackend

    from salesdesk.services import mail_server, rules

    class MemoryKeyring(KeyringBackend):
        priority = 1

        def __init__(self):
            self.kept = {}

        def get_password(self, service, username):
            return self.kept.get((service, username))

        def set_password(self, service, username, password):
            self.kept[(service, username)] = password

        def delete_password(self, service, username):
            self.kept.pop((service, username), None)

    run(capsys, "db", "upgrade", "--db", url)
    code, _, err = run(capsys, "mail", "password", "--password", "x", "--db", url)
    assert code == 2 and "Set the mail server" in err
    db = Database(url)
    admin = team_admin(db)
    rules.update_rules(
        db,
        admin,
        {
            "mail_host": "smtp.example.com",
            "mail_user": "desk",
            "mail_from_address": "desk@example.com",
        },
    )
    previous = keyring.get_keyring()
    memory = MemoryKeyring()
    keyring.set_keyring(memory)
    try:
        monkeypatch.setattr("sys.stdin", io.StringIO("smtp-secret\n"))
        code, out, _ = run(capsys, "mail", "password", "--password-stdin", "--db", url)
    finally:
        keyring.set_keyring(previous)
    assert code == 0 and "kept in the keychain" in out
    account = mail_server.password_account("desk", "smtp.example.com")
    assert memory.kept[("salesdesk", account)] == "smtp-secret"
    assert b"smtp-secret" not in Path(url.removeprefix("sqlite:///")).read_bytes()


def team_admin(db):
    from salesdesk.services import team

    row = team.add_user(db, None, "root-admin", "Root", "password1", role="admin")
    return auth.Actor(row.id, row.username, row.display_name, row.role)
