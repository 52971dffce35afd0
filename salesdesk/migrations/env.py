"""Alembic environment: runs against the engine handed in by ``migrations.alembic_config``."""

from alembic import context
from sqlalchemy import create_engine

from salesdesk.models import Base

config = context.config
target_metadata = Base.metadata


def run_migrations_online() -> None:
    engine = config.attributes.get("engine")
    if engine is None:  # the plain `alembic` command, for developers
        url = context.get_x_argument(as_dictionary=True).get("url")
        engine = create_engine(url or config.get_main_option("sqlalchemy.url"))
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            # SQLite cannot ALTER most things in place; batch mode copies the table.
            render_as_batch=True,
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()


run_migrations_online()
