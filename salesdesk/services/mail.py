"""Email templates and the transactional outbox.

Templates are rendered in Jinja2's sandbox with ``StrictUndefined``; the merge
fields a template may use are a fixed list per template, and a template that
names any other field is refused when it is saved or loaded — never when a rep
clicks. An action that sends mail calls :func:`enqueue` inside its own
transaction, so the email exists exactly when the action does; delivery is the
sender's job (``services/sender.py``).
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import StrictUndefined, Template, TemplateSyntaxError, meta
from jinja2.sandbox import SandboxedEnvironment
from sqlalchemy import Table, insert, select
from sqlalchemy.orm import Session

from salesdesk.db import Database
from salesdesk.models import EmailTemplate, Lead, OutboxMessage, OutboxStatus, Rule, User
from salesdesk.services.auth import ADMINS, MANAGERS, require
from salesdesk.services.errors import NotFoundError, ValidationError
from salesdesk.services.records import Actor

log = logging.getLogger(__name__)

TEMPLATE_DIR = Path(__file__).resolve().parents[2] / "resources" / "templates"

LEAD_FIELDS = ("first_name", "last_name", "company", "email", "phone", "source")
COMMON_FIELDS = ("rep_name", "rep_email", "company_name")

# The merge fields each template may use: what the settings dialog offers.
TEMPLATE_FIELDS: dict[str, tuple[str, ...]] = {
    # To the lead, on Email Confirmed.
    "confirmation": LEAD_FIELDS + COMMON_FIELDS,
    # To the admin team, on Appointment.
    "appointment": LEAD_FIELDS + COMMON_FIELDS + ("appointment_at",),
    # To the owner, on the call back's day (when the rule says email).
    "call_back_reminder": LEAD_FIELDS + COMMON_FIELDS + ("call_back_at",),
    # To the owner, when a lead had no contact for the pool's follow-up days
    # (``days`` the number, ``quiet_for`` the words: "5 days", "5 working days").
    "follow_up_reminder": LEAD_FIELDS + COMMON_FIELDS + ("days", "quiet_for", "last_contact"),
    # The hourly digest when its only news is one lead given to the person.
    "assigned": LEAD_FIELDS + COMMON_FIELDS + ("pool_name",),
    # The hourly digest of leads given to or taken from a person; each item
    # has ``time`` and ``text``; ``count`` may exceed the items listed.
    "digest": COMMON_FIELDS + ("items", "count"),
}

# Where a Message-ID's right-hand side comes from when no From address is set.
FALLBACK_MESSAGE_ID_DOMAIN = "salesdesk.invalid"


@dataclass(frozen=True, slots=True)
class TemplateDetail:
    name: str
    subject: str
    body_text: str
    body_html: str
    fields: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class RenderedMessage:
    subject: str
    body_text: str
    body_html: str


@lru_cache(maxsize=1)
def _env() -> SandboxedEnvironment:
    return SandboxedEnvironment(undefined=StrictUndefined, autoescape=False)


@lru_cache(maxsize=1)
def _html_env() -> SandboxedEnvironment:
    return SandboxedEnvironment(undefined=StrictUndefined, autoescape=True)


@lru_cache(maxsize=32)
def default_template(name: str) -> TemplateDetail:
    """The template shipped in ``resources/templates`` (read once per process)."""
    folder = TEMPLATE_DIR / name
    if name not in TEMPLATE_FIELDS or not folder.is_dir():
        raise NotFoundError(f"There is no email template called '{name}'.")

    def read(part: str) -> str:
        path = folder / part
        return path.read_text(encoding="utf-8") if path.exists() else ""

    return TemplateDetail(
        name=name,
        subject=read("subject.txt").strip(),
        body_text=read("body.txt"),
        body_html=read("body.html"),
        fields=TEMPLATE_FIELDS[name],
    )


def check_template(name: str, subject: str, body_text: str, body_html: str) -> None:
    """Refuse a template with a syntax error or a merge field it may not use.

    A template that passed is remembered, so the check costs nothing on the
    clicks that load it again.
    """
    _check_once(name, subject, body_text, body_html)


@lru_cache(maxsize=64)
def _check_once(name: str, subject: str, body_text: str, body_html: str) -> None:
    # lru_cache keeps only passes: a refused template raises again every time.
    allowed = set(TEMPLATE_FIELDS.get(name, ()))
    for part, source in (("subject", subject), ("text body", body_text), ("HTML body", body_html)):
        try:
            used = meta.find_undeclared_variables(_env().parse(source))
        except TemplateSyntaxError as exc:
            raise ValidationError(
                f"The {part} has a mistake on line {exc.lineno}: {exc.message}", field=part
            ) from None
        unknown = sorted(used - allowed)
        if unknown:
            listed = ", ".join("{{ " + f + " }}" for f in sorted(allowed))
            raise ValidationError(
                f"The {part} uses an unknown field {{{{ {unknown[0]} }}}}. "
                f"Fields you can use here: {listed}.",
                field=part,
            )
    if not subject.strip():
        raise ValidationError("The subject must not be empty.", field="subject")
    # A trial run with sample values catches what parsing cannot (a filter on the
    # wrong kind of value, an attribute the sandbox refuses, a division by zero).
    detail = TemplateDetail(name, subject, body_text, body_html, TEMPLATE_FIELDS.get(name, ()))
    try:
        render(detail, sample_context(name))
    except Exception as exc:  # noqa: BLE001 - any failure is the template's, told in words
        raise ValidationError(
            f"The template cannot be filled in with sample values: {exc}", field="body"
        ) from None


def sample_context(name: str) -> dict[str, Any]:
    """Plausible values for every field of template ``name`` (previews and checks)."""
    values: dict[str, Any] = {
        "first_name": "Jane",
        "last_name": "Doe",
        "company": "Acme Ltd",
        "email": "jane.doe@example.com",
        "phone": "+44 20 7946 0000",
        "source": "Web form",
        "rep_name": "Alex Rep",
        "rep_email": "alex@example.com",
        "company_name": "Our company",
        "appointment_at": "2026-03-02 14:30 UTC",
        "call_back_at": "14:30 UTC",
        "days": 5,
        "quiet_for": "5 working days",
        "last_contact": "2026-02-25",
        "pool_name": "Inbound",
        "count": 2,
        "items": [
            {"time": "09:12 UTC", "text": "Jane Doe was assigned to you by Sam Manager"},
            {"time": "09:40 UTC", "text": "John Roe was reassigned to Chris"},
        ],
    }
    return {f: values.get(f, f) for f in TEMPLATE_FIELDS.get(name, ())}


def load_template(session: Session, name: str) -> TemplateDetail:
    """The saved template, else the shipped default; checked either way."""
    row = session.execute(
        select(EmailTemplate.subject, EmailTemplate.body_text, EmailTemplate.body_html).where(
            EmailTemplate.name == name
        )
    ).first()
    if row is None:
        detail = default_template(name)
    else:
        detail = TemplateDetail(name, row[0], row[1], row[2], TEMPLATE_FIELDS[name])
    check_template(detail.name, detail.subject, detail.body_text, detail.body_html)
    return detail


def render(template: TemplateDetail, context: dict[str, Any]) -> RenderedMessage:
    values = {f: context.get(f, "") for f in template.fields}
    values = {k: ("" if v is None else v) for k, v in values.items()}
    subject = _compiled(template.subject, False).render(values)
    return RenderedMessage(
        subject=" ".join(subject.split()),  # a header is one line
        body_text=_compiled(template.body_text, False).render(values),
        body_html=_compiled(template.body_html, True).render(values) if template.body_html else "",
    )


@lru_cache(maxsize=256)
def _compiled(source: str, html: bool) -> Template:
    """Compiling costs ~10 ms per part; a click only renders (Jinja templates are
    thread-safe to render)."""
    return (_html_env() if html else _env()).from_string(source)


def lead_context(lead: Lead, rep: User | None, company_name: str) -> dict[str, Any]:
    context: dict[str, Any] = {f: getattr(lead, f) or "" for f in LEAD_FIELDS}
    context["rep_name"] = rep.display_name if rep else ""
    context["rep_email"] = (rep.email or "") if rep else ""
    context["company_name"] = company_name
    return context


def enqueue(
    session: Session,
    *,
    template: str,
    to: list[str] | tuple[str, ...],
    context: dict[str, Any],
    now: datetime,
    lead_id: int | None = None,
) -> str:
    """Write one rendered email to the outbox in the caller's transaction.

    Returns its Message-ID, fixed now so a retried delivery is recognisably the
    same message. Its right-hand side is the From address's domain, as mail
    servers and spam filters expect.
    """
    try:
        rendered = render(load_template(session, template), context)
    except Exception:  # noqa: BLE001 - a saved template must never fail a rep's click
        log.exception("saved template %r failed; sending the shipped default", template)
        rendered = render(default_template(template), context)
    message_id = f"<{uuid.uuid4().hex}@{_message_id_domain(session)}>"
    # Core, not the ORM's bulk path: this runs inside a rep's click.
    session.connection().execute(
        insert(_outbox_table()).values(
            message_id=message_id,
            template=template,
            lead_id=lead_id,
            to_address=", ".join(to),
            subject=rendered.subject,
            body_text=rendered.body_text,
            body_html=rendered.body_html,
            status=OutboxStatus.PENDING.value,
            attempts=0,
            created_at=now,
            next_attempt_at=now,
        )
    )
    return message_id


def _outbox_table() -> Table:
    table = OutboxMessage.__table__
    assert isinstance(table, Table)
    return table


def _message_id_domain(session: Session) -> str:
    rule = session.get(Rule, "mail_from_address")
    address = rule.value if rule is not None and isinstance(rule.value, str) else ""
    domain = address.rpartition("@")[2].strip().lower()
    return domain or FALLBACK_MESSAGE_ID_DOMAIN


# --- templates as the settings dialog edits them -------------------------------


def list_templates(db: Database, actor: Actor) -> list[TemplateDetail]:
    with db.read() as session:
        require(session, actor, MANAGERS)
        return [load_template(session, name) for name in TEMPLATE_FIELDS]


def save_template(
    db: Database, actor: Actor, name: str, subject: str, body_text: str, body_html: str
) -> TemplateDetail:
    if name not in TEMPLATE_FIELDS:
        raise NotFoundError(f"There is no email template called '{name}'.")
    check_template(name, subject, body_text, body_html)
    with db.write() as session:
        require(session, actor, ADMINS)
        row = session.scalar(select(EmailTemplate).where(EmailTemplate.name == name))
        if row is None:
            row = EmailTemplate(name=name)
            session.add(row)
        row.subject, row.body_text, row.body_html = subject, body_text, body_html
        row.updated_at = db.now()
        return TemplateDetail(name, subject, body_text, body_html, TEMPLATE_FIELDS[name])
