"""A demo floor: a small team, three pools, and leads in every state.

Deterministic (a fixed seed), so screenshots and first starts look the same.
Every demo account's password is ``demo1234``.
"""

from __future__ import annotations

import random
from datetime import timedelta

from sqlalchemy import func, select

from salesdesk.db import Database
from salesdesk.models import Role, Routing, User
from salesdesk.services import actions, allocation, leads, rules, team
from salesdesk.services.auth import actor_of
from salesdesk.services.errors import CapReachedError
from salesdesk.services.records import Actor

DEMO_PASSWORD = "demo1234"

PEOPLE = [
    ("admin", "Ada Admin", Role.ADMIN, "ada@example.com"),
    ("manager", "Morgan Manager", Role.MANAGER, "morgan@example.com"),
    ("alice", "Alice Walker", Role.REP, "alice@example.com"),
    ("bob", "Bob Singh", Role.REP, "bob@example.com"),
    ("carol", "Carol Nguyen", Role.REP, "carol@example.com"),
    ("dave", "Dave Okafor", Role.REP, "dave@example.com"),
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
    "Tomás",
    "Hannah",
    "Yusuf",
    "Grace",
    "Felix",
]
LAST = [
    "Smith",
    "García",
    "Müller",
    "Johnson",
    "Rossi",
    "Kowalski",
    "Brown",
    "Dubois",
    "Tanaka",
    "O'Brien",
    "Novak",
    "Silva",
    "Andersen",
    "Patel",
    "Fischer",
    "Lee",
]
COMPANIES = [
    "Northwind Traders",
    "Contoso Ltd",
    "Fabrikam",
    "Tailspin Toys",
    "Litware",
    "Adventure Works",
    "Blue Yonder Air",
    "Wide World Importers",
    "Proseware",
    "Coho Winery",
    "Alpine Ski House",
    "Margie's Travel",
    "",
]
SOURCES = ["Website", "Webinar", "Trade show", "Referral", "Cold list"]


def has_data(db: Database) -> bool:
    with db.read() as session:
        return (session.scalar(select(func.count()).select_from(User)) or 0) > 0


def build_demo_floor(db: Database, lead_count: int = 240, seed: int = 7) -> None:
    """Fill an empty database with the demo team, pools and leads."""
    rnd = random.Random(seed)
    users = {
        username: team.add_user(db, None, username, name, DEMO_PASSWORD, role.value, email)
        for username, name, role, email in PEOPLE
    }
    admin = Actor(users["admin"].id, "admin", "Ada Admin", Role.ADMIN.value)
    rules.update_rules(
        db,
        admin,
        {
            "admin_emails": ["appointments@example.com"],
            "company_name": "Northstar Solar",
        },
    )
    reps = [users[u] for u in ("alice", "bob", "carol", "dave")]
    inbound = team.add_pool(db, None, "Inbound", Routing.NEXT.value)
    webinar = team.add_pool(db, None, "Webinar follow-up", Routing.ROUND_ROBIN.value)
    partners = team.add_pool(db, None, "Partner referrals", Routing.WEIGHTED.value)
    team.set_members(db, None, inbound.id, {r.id: 1 for r in reps})
    team.set_members(db, None, webinar.id, {reps[0].id: 1, reps[1].id: 1, reps[2].id: 1})
    team.set_members(db, None, partners.id, {reps[1].id: 5, reps[2].id: 3, reps[3].id: 2})

    def new_lead(i: int) -> leads.NewLead:
        first, last = rnd.choice(FIRST), rnd.choice(LAST)
        company = rnd.choice(COMPANIES)
        domain = (company.split() or ["mail"])[0].lower().strip("'") + ".example"
        return leads.NewLead(
            first_name=first,
            last_name=last,
            company=company,
            email=f"{first.lower()}.{last.lower().replace(chr(39), '')}{i}@{domain}",
            phone=f"+1 555 {rnd.randint(100, 999)} {rnd.randint(1000, 9999)}",
            source=rnd.choice(SOURCES),
            score=rnd.randint(0, 100),
            priority=1 if rnd.random() < 0.1 else 0,
        )

    manager = Actor(users["manager"].id, "manager", "Morgan Manager", Role.MANAGER.value)
    pushed = max(1, lead_count // 20)
    pools = [(inbound.id, lead_count - 2 * pushed), (webinar.id, pushed), (partners.id, pushed)]
    i = 0
    for pool_id, count in pools:
        batch = [new_lead(i + k) for k in range(count)]
        i += count
        with db.write() as session:
            leads.insert_leads(
                session, batch, pool_id, db.now(), rules.load_rules(session), manager.id
            )

    # A working floor: each rep has pulled a few, called some, booked others.
    now = db.now()
    for rep in reps:
        actor = Actor(rep.id, rep.username, rep.display_name, rep.role)
        held = []
        for _ in range(6):
            try:
                lead = allocation.claim_next_lead(db, actor).lead
            except CapReachedError:  # a big demo's push pools can fill a rep first
                break
            if lead is not None:
                held.append(lead)
        if len(held) >= 4:
            actions.log_contact(db, actor, held[0].id)
            actions.add_note(db, actor, held[0].id, "Interested in a quote; call after lunch.")
            actions.schedule_call_back(
                db, actor, held[1].id, now + timedelta(days=rnd.randint(1, 5), hours=2)
            )
            actions.confirm_email(db, actor, held[2].id)
            if rep.username in ("alice", "carol"):
                actions.make_appointment(db, actor, held[3].id)
            else:
                actions.mark_dead(db, actor, held[3].id, "Not the decision maker")


def demo_actor(db: Database, username: str) -> Actor:
    with db.read() as session:
        user = session.scalar(select(User).where(User.username == username))
        assert user is not None, f"no demo user {username}"
        return actor_of(user)
