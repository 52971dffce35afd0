"""Known errors: things a person is told about in words.

Anything raised from a service that is *not* a :class:`SalesDeskError` is a bug
and is reported as one. The message of every class here is written for the
person at the screen (a rep, a manager), never for a developer.
"""

from __future__ import annotations


class SalesDeskError(Exception):
    """Base class of every error whose message is shown to the user as it is."""

    @property
    def message(self) -> str:
        return str(self)


class NotAllowedError(SalesDeskError):
    """The actor's role or ownership does not permit this."""


class AuthenticationError(SalesDeskError):
    """Wrong user name or password, or the account is deactivated."""


class NotFoundError(SalesDeskError):
    """The lead, user, pool or template no longer exists."""


class LeadChangedError(SalesDeskError):
    """The lead moved on since the screen showed it (reassigned, actioned elsewhere)."""


class CapReachedError(SalesDeskError):
    """The rep already holds as many current leads as the cap allows."""

    def __init__(self, held: int, cap: int) -> None:
        super().__init__(
            f"You hold {held} current leads — the most allowed is {cap}. "
            "Action one of them before taking the next."
        )
        self.held = held
        self.cap = cap


class OneAtATimeError(SalesDeskError):
    """One-lead-at-a-time mode: the current lead must be actioned first."""

    def __init__(self, lead_name: str) -> None:
        super().__init__(
            f"Finish your current lead first ({lead_name}): "
            "mark it Dead, Call Back, Email Confirmed or Appointment."
        )


class ValidationError(SalesDeskError):
    """A value was refused; ``field`` names the input it belongs to, if any."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class DatabaseUnavailableError(SalesDeskError):
    """The database could not be reached or is busy; nothing was changed."""

    def __init__(self, detail: str = "") -> None:
        text = "The database cannot be reached right now; nothing was changed."
        if detail:
            text += f" ({detail})"
        super().__init__(text)
        self.detail = detail


class ImportFileError(SalesDeskError):
    """The file cannot be imported at all (empty, not a CSV, no contact column)."""


class ExportFileError(SalesDeskError):
    """An export cannot be written (no such folder, no permission, a full disk)."""
