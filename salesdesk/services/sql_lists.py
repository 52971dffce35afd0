"""``column IN (many values)`` with all the values in ONE parameter, still using the index.

A plain ``IN`` binds a parameter per value; for the thousands of keys of an
import batch or the ids of an export page, SQLAlchemy's work on the
parameters cost more than the query. PostgreSQL gets an array
(``= ANY(...)``), SQLite a JSON list (``IN (SELECT value FROM json_each(...))``);
both still look each value up in the column's index.
"""

from __future__ import annotations

import json
from collections.abc import Collection
from typing import Any

from sqlalchemy import Integer, String, any_, bindparam, func, select
from sqlalchemy.dialects import postgresql


def among(column: Any, values: Collection[str] | Collection[int], dialect: str) -> Any:
    """The condition ``column IN values`` for ``dialect`` ("postgresql" or "sqlite")."""
    listed = sorted(values)
    kind = Integer if listed and isinstance(listed[0], int) else String
    if dialect == "postgresql":
        return column == any_(bindparam(None, listed, type_=postgresql.ARRAY(kind)))
    rows = func.json_each(bindparam(None, json.dumps(listed), type_=String)).table_valued("value")
    return column.in_(select(rows.c.value))


__all__ = ["among"]
