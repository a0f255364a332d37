"""Insert many rows fast: PostgreSQL's COPY where we run on it, bulk_create elsewhere."""

from __future__ import annotations

from django.db import connection
from django.db.models import Model


def insert(model: type[Model], objects: list[Model]) -> None:
    """Insert unsaved `objects` and set their primary keys, like bulk_create.

    A conflict with a unique constraint raises IntegrityError and inserts nothing. For
    history import COPY is several times faster than a multi-row INSERT: Django and the
    driver spend most of an INSERT's time building and quoting one huge statement.
    """
    if not objects:
        return
    if connection.vendor != "postgresql":
        model.objects.bulk_create(objects)
        return
    meta = model._meta
    fields = [f for f in meta.concrete_fields if not f.primary_key]
    columns = ", ".join(
        connection.ops.quote_name(c) for c in [meta.pk.column, *(f.column for f in fields)]
    )
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
            [meta.db_table, meta.pk.column, len(objects)],
        )
        ids = [row[0] for row in cursor.fetchall()]
        rows = []
        for obj, pk in zip(objects, ids, strict=True):
            obj._prepare_related_fields_for_save(operation_name="insert")  # FKs to new rows
            rows.append(
                [pk, *(f.get_db_prep_save(f.pre_save(obj, True), connection) for f in fields)]
            )
        with (
            connection.wrap_database_errors,
            cursor.cursor.copy(
                f"COPY {connection.ops.quote_name(meta.db_table)} ({columns}) FROM STDIN"
            ) as copy,
        ):
            for row in rows:
                copy.write_row(row)
    for obj, pk in zip(objects, ids, strict=True):
        obj.pk = pk
        obj._state.adding = False
        obj._state.db = connection.alias
