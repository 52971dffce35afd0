"""``column IN (many values)`` with all the values in ONE parameter, still using the index.

A plain ``IN`` binds a parameter per value; for the thousands of keys of an
import batch or the ids of an export page, SQLAlchemy's work on the
parameters cost more than the query. Both engines get the values as one JSON
list, unpacked in SQL (``IN (SELECT value FROM json_each(...))`` on SQLite,
``json_array_elements_text`` on PostgreSQL), and still look each value up in
the column's index. On PostgreSQL an array parameter did the same, but
psycopg's dumping of a 5,000-key array cost 14.5 ms of client CPU against
1.9 ms for the JSON text (session 9): half a second per 100,000 imported rows.
"""

from __future__ import annotations

import json
from collections.abc import Collection
from typing import Any

from sqlalchemy import ColumnElement, String, bindparam, func, select
from sqlalchemy import cast as sql_cast
from sqlalchemy.dialects import postgresql


def among(column: Any, values: Collection[str] | Collection[int], dialect: str) -> Any:
    """The condition ``column IN values`` for ``dialect`` ("postgresql" or "sqlite")."""
    listed = sorted(values)
    payload = bindparam(None, json.dumps(listed), type_=String)
    if dialect == "postgresql":
        elements = func.json_array_elements_text(sql_cast(payload, postgresql.JSON))
        value: ColumnElement[Any] = elements.table_valued("value").c.value  # text
        if listed and isinstance(listed[0], int):
            value = sql_cast(value, column.type)
        return column.in_(select(value))
    rows = func.json_each(payload).table_valued("value")
    return column.in_(select(rows.c.value))


__all__ = ["among"]
