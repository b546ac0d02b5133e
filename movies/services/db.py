"""Database housekeeping shared by the bulk import services."""

from __future__ import annotations

from django.db import connection


def analyze_tables(*models) -> list[str]:
    """Refresh PostgreSQL's planner statistics of ``models``' tables and their many-to-many
    tables, after a bulk import filled them. Returns the tables analysed.

    Autovacuum analyses a table only after enough rows changed *and* its next pass, so right
    after an import of 100k ratings the planner still believes the table is nearly empty and
    picks sequential scans and bad joins for the first requests. SQLite has no such problem
    worth a full ANALYZE pass, so this does nothing there.
    """
    if connection.vendor != "postgresql":
        return []
    tables: list[str] = []
    for model in models:
        for table in [model._meta.db_table] + [
            field.remote_field.through._meta.db_table for field in model._meta.local_many_to_many
        ]:
            if table not in tables:
                tables.append(table)
    with connection.cursor() as cursor:
        for table in tables:
            cursor.execute(f"ANALYZE {connection.ops.quote_name(table)}")
    return tables
