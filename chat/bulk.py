"""Insert many rows fast: PostgreSQL's COPY where we run on it, bulk_create elsewhere."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from functools import cache, partial
from typing import Any

from django.db import connection
from django.db.models import (
    BooleanField,
    CharField,
    DateTimeField,
    Field,
    ForeignKey,
    IntegerField,
    JSONField,
    Model,
    TextField,
)
from django.utils import timezone
from psycopg.types.json import Jsonb


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
    plan = _plan(model)
    now = timezone.now()  # auto_now(_add) fields: one time for the batch, as one INSERT has
    for attname in plan.stamped:
        for obj in objects:
            setattr(obj, attname, now)
    ids = _copy(model, [plan.values(obj) for obj in objects])
    for obj, pk in zip(objects, ids, strict=True):
        obj.pk = pk
        obj._state.adding = False
        obj._state.db = connection.alias


def insert_rows(model: type[Model], rows: list[dict[str, Any]]) -> list[int]:
    """Insert rows given as {attname: value} (`chat_id`, not `chat`) and return their
    primary keys in order; a field left out gets its default, as Model(**row).save()
    would. Fills the defaults into `rows`.

    insert() without the model instances, for callers that need no more than the keys:
    building an instance costs more than copying its row.
    """
    if not rows:
        return []
    plan = _plan(model)
    columns = set(plan.attnames)
    unknown = set().union(*(row.keys() - columns for row in rows))
    if unknown:
        raise TypeError(f"{model.__name__} has no column {', '.join(sorted(unknown))}")
    if connection.vendor != "postgresql":
        objects = [model(**row) for row in rows]
        model.objects.bulk_create(objects)
        return [obj.pk for obj in objects]
    now = timezone.now()
    for row in rows:
        for f in plan.fields:
            if f.attname not in row:
                row[f.attname] = f.get_default()
        for attname in plan.stamped:
            row[attname] = now
    return _copy(model, [plan.convert(row) for row in rows])


def _copy(model: type[Model], rows: list[list[Any]]) -> list[int]:
    """COPY prepared rows (values in _plan(model).fields order); return their new keys."""
    meta = model._meta
    fields = _plan(model).fields
    columns = ", ".join(
        connection.ops.quote_name(c) for c in [meta.pk.column, *(f.column for f in fields)]
    )
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
            [meta.db_table, meta.pk.column, len(rows)],
        )
        ids = [row[0] for row in cursor.fetchall()]
        with (
            connection.wrap_database_errors,
            cursor.cursor.copy(
                f"COPY {connection.ops.quote_name(meta.db_table)} ({columns}) FROM STDIN"
            ) as copy,
        ):
            for pk, row in zip(ids, rows, strict=True):
                row.insert(0, pk)
                copy.write_row(row)
    return ids


class _Plan:
    """How to turn one model's rows into COPY rows without Django's per-value path.

    Field.get_db_prep_save(field.pre_save(obj, True)) costs microseconds per value, and
    a history batch has tens of thousands of values. The values we store are almost
    always of the field's own Python type and need no conversion: those pass through,
    anything else goes to a converter that does what Django does with it.
    """

    def __init__(self, model: type[Model]) -> None:
        meta = model._meta
        self.fields = [f for f in meta.concrete_fields if not f.primary_key]
        self.attnames = [f.attname for f in self.fields]
        self.stamped = {
            f.attname
            for f in self.fields
            if type(f) is DateTimeField and (f.auto_now or f.auto_now_add)
        }
        # Values of these types pass unconverted; an aware datetime is checked by its converter.
        self.types = [_Never if t is datetime else t for t in map(_plain_type, self.fields)]
        self.converters = [_converter(f) for f in self.fields]
        self.relations = [
            (f.name, f.attname, f.target_field.attname) for f in self.fields if f.is_relation
        ]
        # Fields with a pre_save of their own (files, slugs…) or generic relations: the
        # general path for the whole model.
        self.generic = bool(meta.private_fields) or any(
            type(f).pre_save is not Field.pre_save and type(f) is not DateTimeField
            for f in self.fields
        )

    def values(self, obj: Model) -> list[Any]:
        """obj's values to copy, as Django's INSERT would send them."""
        if self.generic:
            obj._prepare_related_fields_for_save(operation_name="insert")
            fields = self.fields
            return [f.get_db_prep_save(f.pre_save(obj, True), connection) for f in fields]
        values = obj.__dict__
        cached = obj._state.fields_cache
        for name, attname, target in self.relations:
            related = cached.get(name)
            if related is not None and (
                values[attname] is None or getattr(related, target) != values[attname]
            ):
                # Assigned before it was saved, or never saved: Django's own check and fix.
                obj._prepare_related_fields_for_save(operation_name="insert")
                break
        return self.convert(values)

    def convert(self, values: dict[str, Any]) -> list[Any]:
        return [
            value if type(value) is kind else convert(value)
            for value, kind, convert in zip(
                map(values.__getitem__, self.attnames), self.types, self.converters, strict=True
            )
        ]


class _Never:
    """The type of no value: fields whose every value is converted."""


@cache
def _plan(model: type[Model]) -> _Plan:
    return _Plan(model)


def _converter(field: Field) -> Callable[[Any], Any]:
    """A function from the attribute's value to what COPY gets, as get_db_prep_save."""

    def generic(value: Any) -> Any:
        return field.get_db_prep_save(value, connection)

    if isinstance(field, JSONField):
        # What the PostgreSQL backend's adapt_json_value makes of it, without looking the
        # connection up (a thread-local) for every value.
        dumps = json.dumps if field.encoder is None else partial(json.dumps, cls=field.encoder)

        def json_value(value: Any) -> Any:
            if type(value) in (list, dict):
                return Jsonb(value, dumps=dumps)
            return generic(value)

        return json_value
    kind = _plain_type(field)
    if kind is _Never:
        return generic
    nullable = field.null
    if kind is datetime:

        def aware(value: Any) -> Any:
            if type(value) is datetime and value.tzinfo is not None:
                return value  # a naive one gets Django's warning and conversion
            if value is None and nullable:
                return None
            return generic(value)

        return aware

    def plain(value: Any) -> Any:
        if value is None and nullable:
            return None
        if kind is str and isinstance(value, str):
            return value  # a choices member: CharField.to_python keeps it as it is
        return generic(value)

    return plain


def _plain_type(field: Field) -> type:
    """The Python type whose values this field stores unchanged."""
    if isinstance(field, ForeignKey):
        return _plain_type(field.target_field)
    if type(field) in (CharField, TextField):
        return str
    if type(field) is BooleanField:
        return bool
    if (
        isinstance(field, IntegerField)
        and type(field).get_prep_value is IntegerField.get_prep_value
    ):
        return int  # BigIntegerField, PositiveSmallIntegerField, AutoField…
    if type(field) is DateTimeField:
        return datetime
    return _Never
