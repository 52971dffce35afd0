"""What the settings dialog asks of the services, composed to run on the worker thread.

The dialog edits a *plan* — every change staged, nothing saved — so Cancel
changes nothing. Save hands the plan to :func:`apply_settings`, which makes
the service calls in a fixed order and stops at the first refusal, saying
which tab, which item and which field it was about. No Qt here: these
functions run off the main thread.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from salesdesk.config import Secrets
from salesdesk.db import Database
from salesdesk.services import lead_table, mail, rules, stats, team
from salesdesk.services.errors import SalesDeskError
from salesdesk.services.lead_table import LeadFilter
from salesdesk.services.records import UNCHANGED, Actor, LeadRow, PoolRow, UserRow

PREVIEW_LEADS = 25
NO_KEYCHAIN = (
    "This computer has no password keychain, so the mail password is kept only until "
    "SalesDesk closes here."
)

# Tabs, as the dialog names them.
RULES, POOLS, USERS, TEMPLATES, MAIL = "rules", "pools", "users", "templates", "mail"


@dataclass(frozen=True, slots=True)
class SettingsSnapshot:
    """Everything the dialog shows, read when it opens."""

    rules: rules.Rules
    rule_help: dict[str, str]
    pools: tuple[PoolRow, ...]
    pool_leads: dict[int, int]  # pool id -> leads in it (any status)
    users: tuple[UserRow, ...]
    held_leads: dict[int, int]  # rep id -> current leads and call backs
    templates: tuple[mail.TemplateDetail, ...]
    preview_leads: tuple[LeadRow, ...]
    mail_password_saved: bool
    keychain_message: str


def load_settings(db: Database, actor: Actor, secrets: Secrets) -> SettingsSnapshot:
    from salesdesk.services import mail_server

    floor_rules = rules.get_rules(db)
    counts = team.pool_counts(db, actor)
    previews = lead_table.list_leads(
        db, actor, LeadFilter(), sort="created_at", limit=PREVIEW_LEADS, with_total=False
    ).rows
    saved = False
    if floor_rules.mail_host and floor_rules.mail_user:
        account = mail_server.password_account(floor_rules.mail_user, floor_rules.mail_host)
        saved = secrets.get(account) is not None
    return SettingsSnapshot(
        rules=floor_rules,
        rule_help=rules.rule_help(),
        pools=tuple(team.list_pools(db, actor)),
        pool_leads={pool_id: sum(by.values()) for pool_id, by in counts.items()},
        users=tuple(team.list_users(db, actor)),
        held_leads={r.user_id: r.current + r.call_backs for r in stats.team_activity(db, actor)},
        templates=tuple(mail.list_templates(db, actor)),
        preview_leads=tuple(r for r in previews if r.email or r.first_name),
        mail_password_saved=saved,
        keychain_message="" if secrets.keychain_available else NO_KEYCHAIN,
    )


# --- previews -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Preview:
    """A template rendered with a real lead, or why it cannot be."""

    subject: str = ""
    body_text: str = ""
    body_html: str = ""
    error: str = ""
    field: str = ""  # "subject", "text body", "HTML body" or "body"


def preview_context(
    name: str, lead: LeadRow | None, rep_email: str, company_name: str
) -> dict[str, Any]:
    """Sample values for every field of ``name``, with the real lead's where it has them."""
    context = mail.sample_context(name)
    if lead is not None:
        for key in mail.LEAD_FIELDS:
            if key in context:
                context[key] = getattr(lead, key) or ""
        if "rep_name" in context and lead.owner_name:
            context["rep_name"] = lead.owner_name
            context["rep_email"] = rep_email
        if "pool_name" in context and lead.pool_name:
            context["pool_name"] = lead.pool_name
    if "company_name" in context:
        context["company_name"] = company_name
    return context


def preview_template(
    name: str, subject: str, body_text: str, body_html: str, context: dict[str, Any]
) -> Preview:
    """Check the template as saving would, then fill it in (runs on the worker)."""
    try:
        mail.check_template(name, subject, body_text, body_html)
        detail = mail.TemplateDetail(
            name, subject, body_text, body_html, mail.TEMPLATE_FIELDS.get(name, ())
        )
        rendered = mail.render(detail, context)
    except SalesDeskError as exc:
        return Preview(error=exc.message, field=getattr(exc, "field", None) or "")
    except Exception as exc:  # noqa: BLE001 - a template's own mistake, told in words
        return Preview(error=f"The template cannot be filled in: {exc}", field="body")
    return Preview(rendered.subject, rendered.body_text, rendered.body_html)


# --- saving -------------------------------------------------------------------------------------


@dataclass(slots=True)
class PoolChange:
    """A pool as the dialog wants it; ``pool_id`` is None for a new pool."""

    key: str  # stable within the dialog ("p12" or "new1")
    pool_id: int | None
    name: str
    active: bool
    routing: str
    follow_up_days: int | None
    members: dict[int, int] | None = None  # user id -> weight; None: unchanged
    changed_fields: tuple[str, ...] = ()  # for an existing pool


@dataclass(slots=True)
class UserChange:
    """A person as the dialog wants them; ``user_id`` is None for a new person."""

    key: str
    user_id: int | None
    username: str
    display_name: str
    email: str
    role: str
    cap: int | None
    password: str = ""  # a new person's, or a reset
    changed_fields: tuple[str, ...] = ()


@dataclass(slots=True)
class SettingsPlan:
    rules: dict[str, Any] = field(default_factory=dict)
    templates: list[mail.TemplateDetail] = field(default_factory=list)
    pools: list[PoolChange] = field(default_factory=list)
    pool_deletes: list[tuple[str, int, str | None]] = field(default_factory=list)  # key, id, to
    users: list[UserChange] = field(default_factory=list)
    deactivations: list[tuple[str, int, int | None]] = field(default_factory=list)  # key, id, to
    reactivations: list[tuple[str, int]] = field(default_factory=list)
    mail_password: str = ""

    @property
    def empty(self) -> bool:
        return not any(
            (
                self.rules,
                self.templates,
                self.pools,
                self.pool_deletes,
                self.users,
                self.deactivations,
                self.reactivations,
                self.mail_password,
            )
        )


@dataclass(frozen=True, slots=True)
class ApplyResult:
    """What Save did; on a refusal, where it was (tab, item key, field) and why."""

    done: tuple[str, ...]
    error: str = ""
    tab: str = ""
    key: str = ""
    field: str = ""

    @property
    def ok(self) -> bool:
        return not self.error


class _Stop(Exception):
    def __init__(self, tab: str, key: str, error: SalesDeskError) -> None:
        super().__init__(error.message)
        self.tab, self.key, self.error = tab, key, error


def apply_settings(db: Database, actor: Actor, plan: SettingsPlan, secrets: Secrets) -> ApplyResult:
    """Make the staged changes: rules, templates, pools, people, then the mail password.

    Each step is one service call (one transaction); the first refusal stops
    the rest, and the result says what had been done before it.
    """
    done: list[str] = []

    def step(tab: str, key: str, what: str, call: Callable[[], Any]) -> Any:
        try:
            result = call()
        except SalesDeskError as exc:
            raise _Stop(tab, key, exc) from exc
        done.append(what)
        return result

    pool_ids: dict[str, int] = {}
    # A pool's follow-up must stay shorter than the idle limit and keep period.
    # Existing pools whose new follow-up fits the rules as they are go before the
    # rules, so lowering both at once works; the rest (new pools, a follow-up
    # that needs the new rules) after them, so raising both at once works too.
    early: list[PoolChange] = []
    if plan.rules and plan.pools:
        now = rules.get_rules(db)
        early = [
            p
            for p in plan.pools
            if p.pool_id is not None
            and not rules.follow_up_problem(p.follow_up_days, now.idle_days, now.keep_days)
        ]
    try:
        for p in early:
            pool_ids[p.key] = _apply_pool(db, actor, p, step)
        if plan.rules:
            step(RULES, "", "rules", lambda: rules.update_rules(db, actor, plan.rules))
        for t in plan.templates:
            step(
                TEMPLATES,
                t.name,
                f"template {t.name}",
                lambda t=t: mail.save_template(
                    db, actor, t.name, t.subject, t.body_text, t.body_html
                ),
            )
        for p in plan.pools:
            if p.key not in pool_ids:
                pool_ids[p.key] = _apply_pool(db, actor, p, step)
        for key, pool_id, move_to in plan.pool_deletes:
            target = pool_ids.get(move_to or "") or _existing_id(move_to)
            step(
                POOLS,
                key,
                f"deleted pool {pool_id}",
                lambda pool_id=pool_id, target=target: team.delete_pool(
                    db, actor, pool_id, move_to=target
                ),
            )
        for u in plan.users:
            _apply_user(db, actor, u, step)
        for key, user_id, leads_to in plan.deactivations:
            step(
                USERS,
                key,
                f"deactivated {user_id}",
                lambda user_id=user_id, leads_to=leads_to: team.deactivate_user(
                    db, actor, user_id, leads_to
                ),
            )
        for key, user_id in plan.reactivations:
            step(
                USERS,
                key,
                f"reactivated {user_id}",
                lambda user_id=user_id: team.reactivate_user(db, actor, user_id),
            )
        if plan.mail_password:
            from salesdesk.services import mail_server

            step(
                MAIL,
                "",
                "mail password",
                lambda: mail_server.store_mail_password(db, actor, plan.mail_password, secrets),
            )
    except _Stop as stop:
        return ApplyResult(
            tuple(done),
            error=stop.error.message,
            tab=stop.tab,
            key=stop.key,
            field=getattr(stop.error, "field", None) or "",
        )
    return ApplyResult(tuple(done))


def _existing_id(key: str | None) -> int | None:
    return int(key[1:]) if key and key.startswith("p") else None


def _apply_pool(db: Database, actor: Actor, p: PoolChange, step: Callable[..., Any]) -> int:
    if p.pool_id is None:
        row = step(
            POOLS,
            p.key,
            f"added pool {p.name}",
            lambda: team.add_pool(db, actor, p.name, p.routing, p.follow_up_days),
        )
        pool_id = row.id
        if not p.active:
            step(
                POOLS,
                p.key,
                f"pool {p.name} inactive",
                lambda: team.update_pool(db, actor, pool_id, active=False),
            )
    else:
        pool_id = p.pool_id
        changes: dict[str, Any] = {}
        if "name" in p.changed_fields:
            changes["name"] = p.name
        if "active" in p.changed_fields:
            changes["active"] = p.active
        if "routing" in p.changed_fields:
            changes["routing"] = p.routing
        if "follow_up_days" in p.changed_fields:
            changes["follow_up_days"] = p.follow_up_days
        if changes:
            step(
                POOLS,
                p.key,
                f"updated pool {p.name}",
                lambda: team.update_pool(db, actor, pool_id, **changes),
            )
    if p.members is not None:
        members = p.members
        step(
            POOLS,
            p.key,
            f"members of {p.name}",
            lambda: team.set_members(db, actor, pool_id, members),
        )
    return int(pool_id)


def _apply_user(db: Database, actor: Actor, u: UserChange, step: Callable[..., Any]) -> None:
    if u.user_id is None:
        step(
            USERS,
            u.key,
            f"added {u.username}",
            lambda: team.add_user(
                db, actor, u.username, u.display_name, u.password, u.role, u.email or None, u.cap
            ),
        )
        return
    user_id = u.user_id
    changes: dict[str, Any] = {}
    if "display_name" in u.changed_fields:
        changes["display_name"] = u.display_name
    if "email" in u.changed_fields:
        changes["email"] = u.email
    if "role" in u.changed_fields:
        changes["role"] = u.role
    changes["cap"] = u.cap if "cap" in u.changed_fields else UNCHANGED
    if len(changes) > 1 or changes["cap"] is not UNCHANGED:
        step(
            USERS,
            u.key,
            f"updated {u.username}",
            lambda: team.update_user(db, actor, user_id, **changes),
        )
    if u.password:
        step(
            USERS,
            u.key,
            f"password of {u.username}",
            lambda: team.set_password(db, actor, user_id, u.password),
        )


__all__ = [
    "ApplyResult",
    "PoolChange",
    "Preview",
    "SettingsPlan",
    "SettingsSnapshot",
    "UserChange",
    "apply_settings",
    "load_settings",
    "preview_context",
    "preview_template",
]
