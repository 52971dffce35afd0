"""A demo floor: a small team, three pools, and a fortnight of work behind it.

The floor is *replayed*, not stamped: leads arrive in imports over the past
five weeks, and the last six working days are played through the real
services with the database clock set to each moment — reps pull leads with
Next and call them, set call backs, confirm emails, book appointments and
mark leads dead; push pools route what arrives; each morning's clock jobs
bring due call backs back and return leads left alone too long. So every
date a newcomer sees — Added, Assigned, Contacted, Call back — differs as on
a real floor, some call backs fall due later today and some next week, and
every history reads as it happened.

Deterministic: a fixed seed, and every moment counted back from the clock's
"now" (so screenshots taken at a fixed clock are the same on every run).
Every demo account's password is ``demo1234``.
"""

from __future__ import annotations

import random
import unicodedata
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, time, timedelta
from functools import partial

from sqlalchemy import func, select

from salesdesk.db import Database
from salesdesk.models import Role, Routing, User
from salesdesk.services import actions, allocation, jobs, leads, rules, team
from salesdesk.services.auth import actor_of, verify_password
from salesdesk.services.errors import CapReachedError, SalesDeskError
from salesdesk.services.records import Actor, LeadRow

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


NOTES = [
    "Interested in a quote; call after lunch.",
    "Asked for the brochure by email first.",
    "Wants to talk to their partner before deciding.",
    "Roof faces south-west; about 40 m² usable.",
    "Comparing us with two other installers.",
    "Busy this week, call back next.",
]
DEAD_REASONS = ["Not the decision maker", "Already has panels", "Renting, not owning", ""]
# What a rep does after a call, dealt in turn from a shuffled deck, so every
# rep shows each outcome within a few leads whatever the seed and the date.
OUTCOMES = ["keep"] * 5 + ["call_back", "call_back", "email", "email", "dead", "appointment"]
WORKING_DAYS = 6  # played through before today
IMPORT_WEEKS = 5  # leads arrived over this long
DAY_START, DAY_END = time(8, 0), time(17, 30)
# The times of day a call back is set for.
CALL_BACK_SLOTS = (time(10, 0), time(11, 30), time(14, 0), time(15, 30), time(16, 45))


def has_data(db: Database) -> bool:
    with db.read() as session:
        return (session.scalar(select(func.count()).select_from(User)) or 0) > 0


def demo_password_works(db: Database) -> bool:
    """Whether this floor's demo rep still signs in with the demo password.

    Then the login window says the password, whoever's computer opened the
    floor first; once someone changes it, it says nothing.
    """
    with db.read() as session:
        stored = session.scalar(
            select(User.password_hash).where(User.username == "alice", User.active.is_(True))
        )
    return stored is not None and verify_password(DEMO_PASSWORD, stored)


@contextmanager
def _clock_kept(db: Database) -> Iterator[Callable[[datetime], None]]:
    """Lets the builder set the database clock to each moment it replays, then restores it."""
    real = db.clock

    def set_to(moment: datetime) -> None:
        db.clock = lambda: moment

    try:
        yield set_to
    finally:
        db.clock = real


def _weekdays_before(day: datetime, count: int) -> list[datetime]:
    """The ``count`` working days (Monday to Friday) before ``day``, oldest first."""
    found: list[datetime] = []
    d = day
    while len(found) < count:
        d -= timedelta(days=1)
        if d.weekday() < 5:
            found.append(d)
    return found[::-1]


def _ascii(text: str) -> str:
    """``müller`` -> ``muller``: demo email addresses a mail client would accept as typed."""
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()


def build_demo_floor(db: Database, lead_count: int = 240, seed: int = 7) -> None:
    """Fill an empty database with the demo team, pools and a replayed fortnight of work."""
    with _clock_kept(db) as set_clock:
        _Replay(db, lead_count, random.Random(seed), set_clock).run()


class _Replay:
    """Plays the demo floor's past, moment by moment, through the real services."""

    def __init__(
        self,
        db: Database,
        lead_count: int,
        rnd: random.Random,
        set_clock: Callable[[datetime], None],
    ) -> None:
        self.db = db
        self.rnd = rnd
        self.set_clock = set_clock
        self.now = db.now()
        self.today = datetime.combine(self.now.date(), time())
        self.lead_count = lead_count
        self.n = 0
        self.decks: dict[int, list[str]] = {}

    # --- the team ---

    def run(self) -> None:
        days = _weekdays_before(self.today, WORKING_DAYS)
        imports = _weekdays_before(self.today, IMPORT_WEEKS * 5)
        self.set_clock(datetime.combine(imports[0].date(), time(7, 30)) - timedelta(days=3))
        self._build_team()
        pushed = max(1, self.lead_count // 20)
        self._plan_imports(imports, days, pushed)
        # Up to three new leads a day per rep on the default floor; fewer on a small one.
        self.claims_a_day = max(1, min(3, round(3 * self.lead_count / 240)))
        with self.db.read() as session:
            self.idle_days = rules.load_rules(session).idle_days or 365
        for day in imports:
            if day < days[0]:  # before the fortnight replayed: only the imports
                for at, pool_id, size in self.imports.get(day, []):
                    self._at(datetime.combine(day.date(), at))
                    self._import(pool_id, size)
        for day in [*days, self.today] if self.today.weekday() < 5 else days:
            self._play_day(day)
        self._at(self.now)
        jobs.run_due_jobs(self.db)
        self._every_rep_has_a_call_back_waiting()

    def _build_team(self) -> None:
        db = self.db
        users = {
            username: team.add_user(db, None, username, name, DEMO_PASSWORD, role.value, email)
            for username, name, role, email in PEOPLE
        }
        self.admin = Actor(users["admin"].id, "admin", "Ada Admin", Role.ADMIN.value)
        self.manager = Actor(users["manager"].id, "manager", "Morgan Manager", Role.MANAGER.value)
        rules.update_rules(
            db,
            self.admin,
            {"admin_emails": ["appointments@example.com"], "company_name": "Northstar Solar"},
        )
        reps = [users[u] for u in ("alice", "bob", "carol", "dave")]
        self.reps = [Actor(r.id, r.username, r.display_name, r.role) for r in reps]
        self.inbound = team.add_pool(db, None, "Inbound", Routing.NEXT.value)
        self.webinar = team.add_pool(db, None, "Webinar follow-up", Routing.ROUND_ROBIN.value)
        self.partners = team.add_pool(db, None, "Partner referrals", Routing.WEIGHTED.value)
        team.set_members(db, None, self.inbound.id, {r.id: 1 for r in reps})
        team.set_members(db, None, self.webinar.id, {r.id: 1 for r in reps[:3]})
        team.set_members(db, None, self.partners.id, {reps[1].id: 5, reps[2].id: 3, reps[3].id: 2})

    # --- leads arriving ---

    def _new_lead(self) -> leads.NewLead:
        rnd = self.rnd
        first, last = rnd.choice(FIRST), rnd.choice(LAST)
        company = rnd.choice(COMPANIES)
        domain = _ascii((company.split() or ["mail"])[0].lower()).replace("'", "") + ".example"
        self.n += 1
        local = _ascii(f"{first.lower()}.{last.lower().replace(chr(39), '')}")
        return leads.NewLead(
            first_name=first,
            last_name=last,
            company=company,
            email=f"{local}{self.n}@{domain}",
            phone=f"+1 555 {rnd.randint(100, 999)} {rnd.randint(1000, 9999)}",
            source=rnd.choice(SOURCES),
            score=rnd.randint(0, 100),
            priority=1 if rnd.random() < 0.1 else 0,
        )

    def _plan_imports(self, import_days: list[datetime], days: list[datetime], pushed: int) -> None:
        """Who arrives when: the inbound list over five weeks, the push pools lately.

        Most inbound leads come in the older weeks (the backlog reps still pull
        from); a webinar's attendees arrive in one batch; partner referrals
        trickle in over the last days, so the push pools' routing shows.
        """
        rnd = self.rnd
        inbound = self.lead_count - 2 * pushed
        weights = [rnd.uniform(0.5, 1.5) for _ in import_days]
        total = sum(weights)
        sizes = [int(inbound * w / total) for w in weights]
        sizes[-1] += inbound - sum(sizes)
        self.imports: dict[datetime, list[tuple[time, int, int]]] = {}
        for day, size in zip(import_days, sizes, strict=True):
            if size:
                at = time(rnd.randint(7, 10), rnd.choice((5, 15, 30, 45)))
                self.imports.setdefault(day, []).append((at, self.inbound.id, size))
        webinar_day = days[-3]
        self.imports.setdefault(webinar_day, []).append((time(16, 10), self.webinar.id, pushed))
        trickle = days[-5:]
        for k in range(pushed):
            day = trickle[k % len(trickle)]
            at = time(rnd.randint(9, 15), rnd.choice((0, 20, 40)))
            self.imports.setdefault(day, []).append((at, self.partners.id, 1))

    def _import(self, pool_id: int, size: int) -> None:
        batch = [self._new_lead() for _ in range(size)]
        with self.db.write() as session:
            leads.insert_leads(
                session, batch, pool_id, self.db.now(), rules.load_rules(session), self.manager.id
            )

    # --- a working day ---

    def _at(self, moment: datetime) -> bool:
        """Set the clock to ``moment``; False (and nothing set) if it is still to come."""
        if moment > self.now:
            return False
        self.set_clock(moment)
        return True

    def _play_day(self, day: datetime) -> None:
        rnd = self.rnd
        agenda: list[tuple[datetime, int, Callable[[], object]]] = []
        agenda.append(
            (day + timedelta(hours=7, minutes=55), 0, partial(jobs.run_due_jobs, self.db))
        )
        for at, pool_id, size in self.imports.get(day, []):
            agenda.append(
                (datetime.combine(day.date(), at), 1, partial(self._import, pool_id, size))
            )
        start = datetime.combine(day.date(), DAY_START)
        length = int((datetime.combine(day.date(), DAY_END) - start).total_seconds() // 60)
        for order, rep in enumerate(self.reps):
            touches = self.claims_a_day + rnd.randint(1, 3)
            minutes = sorted(rnd.sample(range(5, length), touches))
            for m in minutes:
                last = m == minutes[-1]
                agenda.append(
                    (
                        start + timedelta(minutes=m),
                        2 + order,
                        partial(self._touch, rep, last),
                    )
                )
        self.claimed: dict[int, int] = {r.id: 0 for r in self.reps}
        for moment, _order, act in sorted(agenda, key=lambda a: (a[0], a[1])):
            if not self._at(moment):
                break
            act()

    def _touch(self, rep: Actor, last: bool) -> None:
        """One thing a rep does — call a new lead, pull another, or follow one up — then
        a call or two that keep their other leads from lapsing (all of them at the day's end)."""
        now = self.db.now()
        self._one_thing(rep, now)
        self._call_before_they_lapse(rep, now, None if last else 2)

    def _one_thing(self, rep: Actor, now: datetime) -> None:
        held = leads.my_current_leads(self.db, rep)
        fresh = [lead for lead in held if lead.last_contacted_at is None]
        if fresh:
            self._work(rep, fresh[0])
            return
        stale = [
            lead
            for lead in held
            if (lead.last_action_at or lead.assigned_at or now) < now - timedelta(hours=20)
        ]
        if stale and self.rnd.random() < 0.5:  # follow-ups and new leads, mixed through the day
            self._work(rep, min(stale, key=lambda lead: lead.last_action_at or now))
            return
        if self.claimed[rep.id] < self.claims_a_day:
            self.claimed[rep.id] += 1
            try:
                lead = allocation.claim_next_lead(self.db, rep).lead
            except CapReachedError:
                lead = None
            if lead is not None:
                self._work(rep, lead)
                return
        if stale:
            self._work(rep, min(stale, key=lambda lead: lead.last_action_at or now))

    def _call_before_they_lapse(self, rep: Actor, now: datetime, most: int | None) -> None:
        """Call the leads that would go back to the pool before the next working morning.

        A rep keeps the leads they hold by calling them; a Friday without
        that would empty every desk on Monday. Now and then one slips (as on
        any floor), and its history says it went back to the pool.
        """
        morning = datetime.combine(now.date(), DAY_START) + timedelta(days=1)
        while morning.weekday() >= 5:
            morning += timedelta(days=1)
        deadline = morning + timedelta(hours=1) - timedelta(days=self.idle_days)
        lapsing = sorted(
            (
                lead
                for lead in leads.my_current_leads(self.db, rep)
                if (lead.last_action_at or lead.assigned_at or now) < deadline
            ),
            key=lambda lead: lead.last_action_at or lead.assigned_at or now,
        )
        for step, lead in enumerate(lapsing[:most], start=1):
            if self.rnd.random() < 0.1:
                continue  # this one slips
            if not self._at(now + timedelta(minutes=4 * step)):
                return
            self._work(rep, lead, follow_up=True)

    def _work(self, rep: Actor, lead: LeadRow, follow_up: bool = False) -> None:
        """A call, sometimes a note, then what came of it (a follow-up call mostly nothing yet)."""
        db, rnd = self.db, self.rnd
        try:
            actions.log_contact(db, rep, lead.id)
            if rnd.random() < 0.35:
                actions.add_note(db, rep, lead.id, rnd.choice(NOTES))
            outcome = "keep" if follow_up and rnd.random() < 0.6 else self._deal(rep)
            if outcome == "call_back":
                actions.schedule_call_back(db, rep, lead.id, self._call_back_time())
            elif outcome == "email" and lead.email_confirmed_at is None:
                actions.confirm_email(db, rep, lead.id)
            elif outcome == "dead":
                actions.mark_dead(db, rep, lead.id, rnd.choice(DEAD_REASONS))
            elif outcome == "appointment":
                actions.make_appointment(db, rep, lead.id)
        except SalesDeskError:  # a rule refused (the demo is a floor, not a test)
            pass

    def _deal(self, rep: Actor) -> str:
        deck = self.decks.setdefault(rep.id, [])
        if not deck:
            deck.extend(OUTCOMES)
            self.rnd.shuffle(deck)
        return deck.pop()

    def _call_back_time(self) -> datetime:
        """A slot on one of the next five working days — sometimes later the same day."""
        now = self.db.now()
        day = datetime.combine(now.date(), time())
        slots = [
            datetime.combine((day + timedelta(days=d)).date(), slot)
            for d in range(0, 8)
            if (day + timedelta(days=d)).weekday() < 5
            for slot in CALL_BACK_SLOTS
        ]
        later = [s for s in slots if s > now + timedelta(minutes=30)]
        return self.rnd.choice(later[: len(CALL_BACK_SLOTS) * 5])

    def _every_rep_has_a_call_back_waiting(self) -> None:
        """Now: a rep with no call back waiting sets one, so the Call backs list is never bare."""
        for rep in self.reps:
            if leads.my_call_backs(self.db, rep):
                continue
            held = leads.my_current_leads(self.db, rep)
            called = [lead for lead in held if lead.last_contacted_at is not None] or held
            if called:
                actions.schedule_call_back(self.db, rep, called[0].id, self._call_back_time())


def demo_actor(db: Database, username: str) -> Actor:
    with db.read() as session:
        user = session.scalar(select(User).where(User.username == username))
        assert user is not None, f"no demo user {username}"
        return actor_of(user)
