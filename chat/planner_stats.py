"""Planner statistics for the tables a history import fills quickly.

PostgreSQL plans the query behind each foreign-key check once per connection and keeps
the plan. Planned while a table was nearly empty (a new instance's first import) that
plan reads the whole table, and it stays while the import grows the table by thousands
of rows: every check then scans it, and each batch took longer than the one before.
ANALYZE records the new size and makes every connection plan those checks again.
Autovacuum would do the same, but only a minute or more later.
"""

from __future__ import annotations

from django.db import connection

TABLES = ("chat_chat", "chat_message", "chat_messagecopy")
# A table is measured again when it has more than doubled (and grown by this many pages).
_SLACK_PAGES = 8


def analyze_grown_tables() -> list[str]:
    """ANALYZE those TABLES that grew past twice their measured size; return their names."""
    if connection.vendor != "postgresql":
        return []
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT relname FROM pg_class WHERE oid = ANY(%s::regclass[])"
            " AND pg_relation_size(oid) / current_setting('block_size')::int"
            " > 2 * relpages + %s",
            [list(TABLES), _SLACK_PAGES],
        )
        grown = [name for (name,) in cursor.fetchall()]
        for name in grown:
            cursor.execute(f'ANALYZE "{name}"')
    return grown
