"""People and pools: users and roles, pools, members and their shares.

Functions that take ``actor: Actor | None`` accept ``None`` from the command
line only: whoever can run ``salesdesk users add`` already holds the database.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from salesdesk.db import Database
from salesdesk.models import Lead, Pool, PoolMember, Role, Routing, User
from salesdesk.services.auth import ADMINS, MANAGERS, hash_password, require
from salesdesk.services.errors import NotFoundError, ValidationError
from salesdesk.services.leads import EMAIL_RE
from salesdesk.services.lifecycle import give_to, release_to_pool
from salesdesk.services.records import UNCHANGED, Actor, MemberRow, PoolRow, Unchanged, UserRow
from salesdesk.services.rules import follow_up_problem, load_rules, lock_settings

USERNAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{1,62}$")
MIN_PASSWORD = 8


def _user_row(u: User) -> UserRow:
    return UserRow(u.id, u.username, u.display_name, u.email, u.role, u.active, u.cap)


def _check_role(role: str) -> str:
    if role not in {r.value for r in Role}:
        raise ValidationError(f"Role must be rep, manager or admin (not '{role}').", field="role")
    return role


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise ValidationError(
            f"A password needs at least {MIN_PASSWORD} characters.", field="password"
        )


def _check_cap(cap: int | None) -> None:
    if cap is not None and not 1 <= cap <= 1000:
        raise ValidationError("A personal cap must be from 1 to 1000 leads.", field="cap")


def clean_email(email: str | None) -> str | None:
    """A person's email address, stripped; ``None`` for none. Refuses a malformed one."""
    address = (email or "").strip()
    if address and not EMAIL_RE.match(address):
        raise ValidationError(f"Not an email address: {address}", field="email")
    return address or None


def _require_admin(session: Session, actor: Actor | None) -> None:
    if actor is not None:
        require(session, actor, ADMINS)


def add_user(
    db: Database,
    actor: Actor | None,
    username: str,
    display_name: str,
    password: str,
    role: str = Role.REP.value,
    email: str | None = None,
    cap: int | None = None,
) -> UserRow:
    username = username.strip().lower()
    if not USERNAME_RE.match(username):
        raise ValidationError(
            "A user name is 2 to 63 characters: lower-case letters, digits, '.', '_' or '-'.",
            field="username",
        )
    if not display_name.strip():
        raise ValidationError("Enter the person's name.", field="display_name")
    _check_role(role)
    _check_password(password)
    _check_cap(cap)
    email = clean_email(email)
    with db.write() as session:
        _require_admin(session, actor)
        if session.scalar(select(User.id).where(User.username == username)) is not None:
            raise ValidationError(f"The user name '{username}' is taken.", field="username")
        user = User(
            username=username,
            display_name=display_name.strip(),
            email=email,
            role=role,
            active=True,
            cap=cap,
            password_hash=hash_password(password),
            created_at=db.now(),
        )
        session.add(user)
        session.flush()
        return _user_row(user)


def list_users(db: Database, actor: Actor, include_inactive: bool = True) -> list[UserRow]:
    with db.read() as session:
        require(session, actor, MANAGERS)
        query = select(User).order_by(User.display_name)
        if not include_inactive:
            query = query.where(User.active.is_(True))
        return [_user_row(u) for u in session.scalars(query)]


def update_user(
    db: Database,
    actor: Actor,
    user_id: int,
    *,
    display_name: str | None = None,
    email: str | None = None,
    role: str | None = None,
    cap: int | None | Unchanged = UNCHANGED,
) -> UserRow:
    with db.write() as session:
        require(session, actor, ADMINS)
        user = session.get(User, user_id)
        if user is None:
            raise NotFoundError("That person no longer exists.")
        if display_name is not None:
            if not display_name.strip():
                raise ValidationError("Enter the person's name.", field="display_name")
            user.display_name = display_name.strip()
        if email is not None:
            user.email = clean_email(email)
        if role is not None:
            _check_role(role)
            if user.id == actor.id and role != Role.ADMIN.value:
                raise ValidationError("You cannot remove your own admin role.", field="role")
            user.role = role
        if cap is not UNCHANGED:
            _check_cap(cap)
            user.cap = cap
        return _user_row(user)


def set_password(db: Database, actor: Actor | None, user_id: int, password: str) -> None:
    """An admin resets anyone's password; a person may change their own."""
    _check_password(password)
    with db.write() as session:
        if actor is not None and actor.id != user_id:
            require(session, actor, ADMINS)
        user = session.get(User, user_id)
        if user is None:
            raise NotFoundError("That person no longer exists.")
        user.password_hash = hash_password(password)


def deactivate_user(db: Database, actor: Actor, user_id: int, leads_to: int | None = None) -> int:
    """Deactivate a person; their current leads and call backs go to the pool or to ``leads_to``.

    Returns how many leads moved.
    """
    with db.write() as session:
        admin = require(session, actor, ADMINS)
        if user_id == admin.id:
            raise ValidationError("You cannot deactivate yourself.")
        user = session.execute(
            select(User).where(User.id == user_id).with_for_update()
        ).scalar_one_or_none()
        if user is None:
            raise NotFoundError("That person no longer exists.")
        target = None
        if leads_to is not None:
            target = session.get(User, leads_to)
            if target is None or not target.active or target.id == user_id:
                raise ValidationError("Choose another active person to take the leads.")
        user.active = False
        now = db.now()
        held = session.scalars(
            select(Lead)
            .where(Lead.owner_id == user_id, Lead.status.in_(("current", "callback")))
            .order_by(Lead.id)
            .with_for_update()
        ).all()
        for lead in held:
            if target is None:
                release_to_pool(session, lead, kind="owner_left", actor_id=admin.id, at=now)
            else:
                give_to(
                    session,
                    lead,
                    target.id,
                    kind="reassigned",
                    actor_id=admin.id,
                    at=now,
                    details={"reason": "owner deactivated"},
                )
        return len(held)


def reactivate_user(db: Database, actor: Actor, user_id: int) -> UserRow:
    with db.write() as session:
        require(session, actor, ADMINS)
        user = session.get(User, user_id)
        if user is None:
            raise NotFoundError("That person no longer exists.")
        user.active = True
        return _user_row(user)


# --- pools ---------------------------------------------------------------------


def _check_routing(routing: str) -> str:
    if routing not in {r.value for r in Routing}:
        raise ValidationError(
            f"Routing must be next, round_robin, weighted or manual (not '{routing}').",
            field="routing",
        )
    return routing


def _check_follow_up(session: Session, days: int | None) -> None:
    """A follow-up is off (``None``) or 1 to 365 days, and fires before the lead goes back."""
    if days is None:
        return
    if not 1 <= days <= 365:
        raise ValidationError(
            "Follow-up reminder must be 1 to 365 days, or off.", field="follow_up_days"
        )
    lock_settings(session)  # the rules read next are the latest, and stay so until commit
    rules = load_rules(session)
    problem = follow_up_problem(days, rules.idle_days, rules.keep_days)
    if problem:
        raise ValidationError(problem, field="follow_up_days")


def _pool_row(session: Session, pool: Pool) -> PoolRow:
    members = session.execute(
        select(PoolMember.user_id, User.display_name, PoolMember.weight, User.active)
        .join(User, User.id == PoolMember.user_id)
        .where(PoolMember.pool_id == pool.id)
        .order_by(PoolMember.position, User.display_name)
    )
    return PoolRow(
        pool.id,
        pool.name,
        pool.active,
        pool.routing,
        pool.follow_up_days,
        tuple(MemberRow(*m) for m in members),
    )


def add_pool(
    db: Database,
    actor: Actor | None,
    name: str,
    routing: str = Routing.NEXT.value,
    follow_up_days: int | None = None,
) -> PoolRow:
    name = " ".join(name.split())
    if not name:
        raise ValidationError("Give the pool a name.", field="name")
    _check_routing(routing)
    with db.write() as session:
        _require_admin(session, actor)
        if session.scalar(select(Pool.id).where(func.lower(Pool.name) == name.lower())):
            raise ValidationError(f"There is already a pool called '{name}'.", field="name")
        _check_follow_up(session, follow_up_days)
        pool = Pool(
            name=name,
            routing=routing,
            active=True,
            follow_up_days=follow_up_days,
            created_at=db.now(),
        )
        session.add(pool)
        session.flush()
        return _pool_row(session, pool)


def find_pool(db: Database, name: str) -> PoolRow:
    with db.read() as session:
        pool = session.scalar(select(Pool).where(func.lower(Pool.name) == name.strip().lower()))
        if pool is None:
            raise NotFoundError(f"There is no pool called '{name}'.")
        return _pool_row(session, pool)


def list_pools(db: Database, actor: Actor | None) -> list[PoolRow]:
    with db.read() as session:
        if actor is not None:
            require(session, actor)
        return [_pool_row(session, p) for p in session.scalars(select(Pool).order_by(Pool.name))]


def update_pool(
    db: Database,
    actor: Actor,
    pool_id: int,
    *,
    name: str | None = None,
    active: bool | None = None,
    routing: str | None = None,
    follow_up_days: int | None | Unchanged = UNCHANGED,
) -> PoolRow:
    with db.write() as session:
        require(session, actor, ADMINS)
        pool = session.get(Pool, pool_id, with_for_update=True)
        if pool is None:
            raise NotFoundError("That pool no longer exists.")
        if name is not None:
            clean = " ".join(name.split())
            if not clean:
                raise ValidationError("Give the pool a name.", field="name")
            clash = session.scalar(
                select(Pool.id).where(func.lower(Pool.name) == clean.lower(), Pool.id != pool_id)
            )
            if clash:
                raise ValidationError(f"There is already a pool called '{clean}'.", field="name")
            pool.name = clean
        if active is not None:
            pool.active = active
        if routing is not None:
            pool.routing = _check_routing(routing)
        if follow_up_days is not UNCHANGED:
            _check_follow_up(session, follow_up_days)
            pool.follow_up_days = follow_up_days
        return _pool_row(session, pool)


def delete_pool(db: Database, actor: Actor, pool_id: int, move_to: int | None = None) -> int:
    """Delete a pool; its leads (waiting or held) move to ``move_to``.

    A pool that still has leads cannot be deleted without saying where they go.
    Returns how many leads moved.
    """
    with db.write() as session:
        require(session, actor, ADMINS)
        pool = session.get(Pool, pool_id, with_for_update=True)
        if pool is None:
            raise NotFoundError("That pool no longer exists.")
        count = session.scalar(select(func.count()).where(Lead.pool_id == pool_id)) or 0
        if count and move_to is None:
            raise ValidationError(
                f"The pool '{pool.name}' still has {count} leads. Choose a pool to move them to "
                "before deleting it."
            )
        if move_to is not None:
            if move_to == pool_id or session.get(Pool, move_to) is None:
                raise ValidationError("Choose another existing pool for its leads.")
            session.execute(update(Lead).where(Lead.pool_id == pool_id).values(pool_id=move_to))
        session.execute(delete(PoolMember).where(PoolMember.pool_id == pool_id))
        session.delete(pool)
        return count


def set_members(
    db: Database, actor: Actor | None, pool_id: int, weights: Mapping[int, int]
) -> PoolRow:
    """Replace a pool's members and their shares.

    A weight of 0 is a choice (the member stays but receives nothing pushed);
    for a weighted pool at least one share must be above zero.
    """
    bad = [w for w in weights.values() if not isinstance(w, int) or w < 0 or w > 1000]
    if bad:
        raise ValidationError("Each share must be a whole number from 0 to 1000.", field="weights")
    with db.write() as session:
        _require_admin(session, actor)
        pool = session.get(Pool, pool_id, with_for_update=True)
        if pool is None:
            raise NotFoundError("That pool no longer exists.")
        if pool.routing == Routing.WEIGHTED.value and weights and not any(weights.values()):
            raise ValidationError(
                "A weighted pool needs at least one member with a share above zero.",
                field="weights",
            )
        known = set(session.scalars(select(User.id).where(User.id.in_(list(weights)))))
        unknown = set(weights) - known
        if unknown:
            raise ValidationError("Some of those people no longer exist.", field="weights")
        existing = {
            m.user_id: m
            for m in session.scalars(select(PoolMember).where(PoolMember.pool_id == pool_id))
        }
        for user_id, old in existing.items():
            if user_id not in weights:
                session.delete(old)
        for position, (user_id, weight) in enumerate(weights.items()):
            member = existing.get(user_id)
            if member is None:
                session.add(
                    PoolMember(
                        pool_id=pool_id,
                        user_id=user_id,
                        weight=weight,
                        position=position,
                        current_weight=0,
                    )
                )
            else:
                member.weight, member.position = weight, position
        session.flush()
        # Shares changed: restart the smooth sequence so the new shares hold from here.
        session.execute(
            update(PoolMember).where(PoolMember.pool_id == pool_id).values(current_weight=0)
        )
        return _pool_row(session, pool)


def pool_counts(db: Database, actor: Actor) -> dict[int, dict[str, int]]:
    """Leads per pool per status (for the manager's overview and the rep's pool sizes)."""
    with db.read() as session:
        require(session, actor)
        rows = session.execute(
            select(Lead.pool_id, Lead.status, func.count()).group_by(Lead.pool_id, Lead.status)
        )
        counts: dict[int, dict[str, int]] = {}
        for pool_id, status, n in rows:
            if pool_id is not None:
                counts.setdefault(pool_id, {})[status] = n
        return counts
