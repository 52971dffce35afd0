"""Where the database is, and secrets through the OS keychain.

Resolution order for the database: ``--db URL`` on the command line, the
``SALESDESK_DB`` environment variable, ``database_url`` in ``config.json`` in the
data folder, else the embedded SQLite file ``salesdesk.db`` in the data folder.

A PostgreSQL password is never written to a file: it goes to the OS keychain
through ``keyring``. Where no keychain exists (a headless Linux box has only
keyring's ``fail`` backend) :class:`Secrets` says so and keeps the password
for this session only.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from salesdesk.services.errors import ValidationError

APP_NAME = "SalesDesk"
KEYRING_SERVICE = "salesdesk"


def data_dir() -> Path:
    """The per-user folder for the embedded database and config."""
    override = os.environ.get("SALESDESK_HOME")
    if override:
        return Path(override)
    if sys.platform == "win32":
        base = Path(os.environ.get("APPDATA", Path.home() / "AppData" / "Roaming"))
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Application Support"
    else:
        base = Path(os.environ.get("XDG_DATA_HOME", Path.home() / ".local" / "share"))
    return base / APP_NAME


def config_path() -> Path:
    return data_dir() / "config.json"


def embedded_url() -> str:
    return f"sqlite:///{data_dir() / 'salesdesk.db'}"


@dataclass(frozen=True)
class Config:
    database_url: str | None = None

    @property
    def is_embedded(self) -> bool:
        return self.database_url is None


def load_config() -> Config:
    path = config_path()
    if not path.exists():
        return Config()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return Config()
    url = data.get("database_url")
    return Config(database_url=url if isinstance(url, str) and url else None)


def save_config(config: Config) -> None:
    if config.database_url and make_url(config.database_url).password:
        raise ValueError("A database password belongs in the keychain, not in config.json.")
    path = config_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"database_url": config.database_url}, indent=2), encoding="utf-8")


def resolve_database_url(cli_url: str | None = None) -> str:
    return cli_url or os.environ.get("SALESDESK_DB") or load_config().database_url or embedded_url()


class Secrets:
    """Passwords in the OS keychain, or — where there is none — in memory for this session."""

    def __init__(self) -> None:
        self._session_only: dict[str, str] = {}

    @property
    def keychain_available(self) -> bool:
        import keyring
        from keyring.backends import fail

        return not isinstance(keyring.get_keyring(), fail.Keyring)

    @property
    def keychain_message(self) -> str:
        if self.keychain_available:
            return ""
        return (
            "This computer has no password keychain, so SalesDesk keeps your database "
            "password for this session only and will ask for it again next time."
        )

    def get(self, account: str) -> str | None:
        if account in self._session_only:
            return self._session_only[account]
        if not self.keychain_available:
            return None
        import keyring

        return keyring.get_password(KEYRING_SERVICE, account)

    def set(self, account: str, password: str) -> bool:
        """Store a password; returns False when it is kept for this session only."""
        if self.keychain_available:
            import keyring

            keyring.set_password(KEYRING_SERVICE, account, password)
            self._session_only.pop(account, None)
            return True
        self._session_only[account] = password
        return False


def database_account(user: str, host: str | None, port: int | None, database: str | None) -> str:
    """The keychain entry a team database's password is kept under."""
    return f"{user}@{host or 'localhost'}:{port or 5432}/{database}"


URL_FORMS = "sqlite:///path/to/salesdesk.db or postgresql://user@server/database"


def check_database_url(url: str, *, must_exist: bool = False) -> None:
    """Refuse, in words, a URL SalesDesk cannot use (the password is never repeated).

    ``must_exist``: an SQLite file must already be there. A command pointed at
    a mistyped path would otherwise create an empty database there and work on
    it, e.g. a worker running the clock jobs of a floor with no leads.
    """
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise ValidationError(
            f"That is not a database address. Use {URL_FORMS}.", field="db"
        ) from None
    backend = parsed.get_backend_name()
    if backend == "postgres":
        raise ValidationError("Write postgresql:// rather than postgres://.", field="db")
    if backend not in ("sqlite", "postgresql"):
        raise ValidationError(
            f"SalesDesk works with SQLite and PostgreSQL, not '{backend}'. Use {URL_FORMS}.",
            field="db",
        )
    path = parsed.database
    if (
        must_exist
        and backend == "sqlite"
        and path
        and path != ":memory:"
        and not Path(path).exists()
    ):
        raise ValidationError(
            f"There is no database at {path}. Check the path, or create one there with "
            "'salesdesk db upgrade'.",
            field="db",
        )


def with_password(url: str, secrets: Secrets) -> str:
    """Add the keychain's password to a PostgreSQL URL that has none."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" or parsed.password or not parsed.username:
        return url
    account = database_account(parsed.username, parsed.host, parsed.port, parsed.database)
    password = secrets.get(account)
    if password is None:
        return url
    return parsed.set(password=password).render_as_string(hide_password=False)
