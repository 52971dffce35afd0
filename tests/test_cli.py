"""The command line, as an admin or a script uses it (run in-process)."""

from __future__ import annotations

import pytest

from salesdesk import cli
from salesdesk.db import Database
from salesdesk.services import allocation, auth, demo, leads


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
    db = Database(url)
    alice = auth.login(db, "alice", "s3cret-pass")
    assert allocation.claim_next_lead(db, alice).lead is None


def test_password_from_stdin(capsys, url, monkeypatch):
    import io

    monkeypatch.setattr("sys.stdin", io.StringIO("from-stdin-1\n"))
    assert run(capsys, "users", "add", "carol", "--password-stdin", "--db", url)[0] == 0
    assert auth.login(Database(url), "carol", "from-stdin-1").username == "carol"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["users", "add", "x y", "--password", "password1"], "user name is 2 to 63 characters"),
        (["users", "add", "dan", "--password", "short"], "at least 8 characters"),
        (["pools", "add", "P", "--members", "ghost:1"], "There is no user called 'ghost'"),
        (["pools", "add", "P", "--members", "ghost:x"], "There is no user called 'ghost'"),
    ],
)
def test_bad_input_is_one_line_and_no_traceback(capsys, url, argv, message):
    code, _, err = run(capsys, *argv, "--db", url)
    assert code == 2
    assert message in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_demo_builds_a_working_floor_once(capsys, url):
    code, out, _ = run(capsys, "demo", "--leads", "60", "--db", url)
    assert code == 0 and "password demo1234" in out
    db = Database(url)
    manager = auth.login(db, "manager", demo.DEMO_PASSWORD)
    page = leads.list_leads(db, manager)
    assert page.total == 60
    statuses = {r.status for r in leads.list_leads(db, manager, limit=500).rows}
    assert {"pool", "current", "callback", "appointment", "dead"} <= statuses
    alice = auth.login(db, "alice", demo.DEMO_PASSWORD)
    assert leads.my_current_leads(db, alice) and leads.my_call_backs(db, alice)
    code, _, err = run(capsys, "demo", "--db", url)
    assert code == 2 and "already has users" in err


def test_worker_once_runs_the_jobs(capsys, url):
    run(capsys, "db", "upgrade", "--db", url)
    code, out, _ = run(capsys, "worker", "--once", "--db", url)
    assert code == 0 and out.startswith("jobs: JobsSummary(")


def test_an_unreachable_database_is_one_plain_line(capsys, tmp_path):
    url = f"sqlite:///{tmp_path / 'no' / 'such' / 'dir' / 'x.db'}"
    (tmp_path / "no").write_text("a file where a folder should be")
    code, _, err = run(capsys, "db", "upgrade", "--db", url)
    assert code == 2
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
