"""A lost database connection: a banner, reconnecting, and an action done once or not at all.

Runs against the real test PostgreSQL behind a TCP forwarder that the test
switches off and on — a real outage, nothing mocked.
"""

from __future__ import annotations

import pytest
from PySide6.QtWidgets import QVBoxLayout, QWidget
from sqlalchemy.engine import make_url

from salesdesk.config import Secrets
from salesdesk.db import Database
from salesdesk.services import allocation, leads
from salesdesk.ui.connection_banner import ConnectionBanner
from salesdesk.ui.context import AppContext
from salesdesk.ui.desk.desk_view import DeskView
from salesdesk.ui.message_bar import ERROR
from tests.conftest import Floor, _truncate_all
from tests.ui._tcp_proxy import TcpProxy
from tests.ui.conftest import wait_idle


@pytest.fixture
def pg_direct(pg_template, clock):
    _truncate_all(pg_template)
    db = Database(pg_template, clock=clock)
    yield db
    db.dispose()


@pytest.fixture
def proxy(pg_template):
    url = make_url(pg_template)
    socket_dir = url.query.get("host")
    if socket_dir:
        upstream = f"{socket_dir}/.s.PGSQL.{url.port or 5432}"
    else:
        upstream = (url.host or "127.0.0.1", url.port or 5432)
    forwarder = TcpProxy(upstream)
    forwarder.start()
    yield forwarder
    forwarder.stop()


@pytest.fixture
def pg_client(pg_template, proxy, clock):
    url = make_url(pg_template)
    through = url.set(host="127.0.0.1", port=proxy.port, query={})
    db = Database(through.render_as_string(hide_password=False), clock=clock)
    yield db
    db.dispose()


def test_lost_connection_shows_a_banner_and_an_action_is_done_once(
    qtbot, pg_direct, pg_client, proxy, tasks, settings
):
    floor = Floor(pg_direct)
    alice = floor.rep("alice")
    pool = floor.pool(members=[alice])
    floor.leads(pool, 1)
    lead_id = allocation.claim_next_lead(pg_direct, alice).lead.id

    context = AppContext(pg_client, tasks, Secrets(), settings=settings, embedded=False)
    context.sign_in(alice)
    window = QWidget()  # laid out as in the main window: the banner above the desk
    banner = ConnectionBanner(context)
    desk = DeskView(context)
    layout = QVBoxLayout(window)
    layout.addWidget(banner)
    layout.addWidget(desk)
    qtbot.addWidget(window)
    window.show()
    desk.show_lead(lead_id)
    wait_idle(qtbot, tasks)
    assert desk.panel.lead_id == lead_id
    assert banner.isHidden()

    proxy.stop()  # the network goes
    with qtbot.waitSignal(tasks.database_unavailable, timeout=10_000):
        desk.commands.email_confirmed.trigger()
    wait_idle(qtbot, tasks)
    assert banner.isVisible()
    assert "cannot be reached" in banner.text
    assert desk.message_bar.level == ERROR
    assert "nothing was changed" in desk.message_bar.text
    row = leads.get_lead(pg_direct, alice, lead_id).lead
    assert row.email_confirmed_at is None  # clearly not done

    banner.retry()  # still down: the banner stays
    wait_idle(qtbot, tasks)
    assert banner.isVisible()

    proxy.start()  # the network is back
    with qtbot.waitSignal(banner.reconnected, timeout=10_000):
        banner.retry()
    wait_idle(qtbot, tasks)
    assert banner.isHidden()
    assert desk.panel.lead_id == lead_id  # the desk reloaded itself

    desk.commands.email_confirmed.trigger()  # the person tries again
    wait_idle(qtbot, tasks)
    detail = leads.get_lead(pg_direct, alice, lead_id)
    assert detail.lead.email_confirmed_at == pg_direct.now()
    assert [e.kind for e in detail.history].count("email_confirmed") == 1  # done once


def test_next_says_the_database_is_unreachable_and_works_again_once_it_is_back(
    pg_direct, pg_client, proxy
):
    """Next keeps its own connection between clicks (PostgreSQL): when that one
    dies with the network, the click is refused in plain words, and the next
    click after the network is back gets a fresh connection and a lead."""
    from salesdesk.services.errors import DatabaseUnavailableError

    floor = Floor(pg_direct)
    alice = floor.rep("alice", cap=5)
    pool = floor.pool(members=[alice])
    floor.leads(pool, 3)
    first = allocation.claim_next_lead(pg_client, alice, request_id="one").lead

    proxy.stop()  # the network goes, and Next's connection with it
    with pytest.raises(DatabaseUnavailableError):
        allocation.claim_next_lead(pg_client, alice, request_id="two")
    proxy.start()

    again = allocation.claim_next_lead(pg_client, alice, request_id="two")
    assert again.lead is not None and again.lead.id != first.id
    assert len(leads.my_current_leads(pg_direct, alice)) == 2
