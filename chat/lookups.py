"""`field__any=[...]`: `field__in` with one array parameter on PostgreSQL.

History import asks about hundreds of UIDs, Message-IDs or addresses at a time. As
`IN (%s, %s, …)` every value is a parameter that Django resolves and the driver splices
into the statement one by one, which took longer than PostgreSQL took to answer;
`= ANY(%s)` sends the list as one array. Elsewhere (SQLite) it is plain `__in`.
"""

from __future__ import annotations

from django.core.exceptions import EmptyResultSet
from django.db.models import Field
from django.db.models.lookups import In


@Field.register_lookup
class AnyOf(In):
    lookup_name = "any"

    def as_postgresql(self, compiler, connection):
        lhs, lhs_params = self.process_lhs(compiler, connection)
        field = self.lhs.output_field
        values = [
            field.get_db_prep_value(value, connection, prepared=True)
            for value in self.rhs
            if value is not None
        ]
        if not values:
            raise EmptyResultSet  # as __in: no query at all
        # The cast keeps the column's own index usable (a list of ints would be numeric[]).
        return f"{lhs} = ANY(%s::{field.cast_db_type(connection)}[])", (*lhs_params, values)
