"""SQL expressions the ORM builds slowly: a template with repeated parts, and an expression
compiled once per process.

Both exist for the same reason. A rule written once as ORM expressions (the state of a
notification obligation: incidents.queries.obligations) grows into a tree that Django copies
and resolves at every mention and at every use. On the incident list that cost more than the
page's own SQL. These keep the rule in its one place and pay for its tree once.
"""

import datetime
import re

from django.core.exceptions import ImproperlyConfigured
from django.db.models import DateTimeField, Expression, Func
from django.db.models.query import QuerySet
from django.db.models.sql.query import Query


class Reused(Func):
    """An SQL template whose named parts may appear more than once ("{due}" four times):
    each part is resolved and compiled once and its SQL repeated, where a Case referring to
    an annotation again and again had Django copy and resolve that annotation's whole tree
    at every mention (the incident list spent a second per page building its obligation
    column). The template holds only placeholders and SQL keywords; every value is a part."""

    def __init__(self, template, output_field, **parts):
        self.sql_template = template
        self.part_names = tuple(parts)
        super().__init__(*parts.values(), output_field=output_field)

    def as_sql(self, compiler, connection, **extra):
        compiled = {
            name: compiler.compile(part)
            for name, part in zip(self.part_names, self.get_source_expressions(), strict=True)
        }
        params = []

        def fill(match):
            sql, part_params = compiled[match.group(1)]
            params.extend(part_params)
            return f"({sql})"

        return re.sub(r"\{(\w+)\}", fill, self.sql_template), params


# Stands in for "now" while an expression is compiled for the cache: a moment no reading
# uses (one microsecond after the epoch), found again among the compiled parameters.
NOW_STANDS_IN = datetime.datetime(1970, 1, 1, 0, 0, 0, 1, tzinfo=datetime.UTC)

_compiled = {}


class Precompiled(Expression):
    """`build(now)`, an expression over the rows of `model` (its own columns and correlated
    subqueries), compiled to SQL once per process for each database vendor and `key`, then
    spliced into every query that uses it with this call's `now` as its parameter.

    - `key` names everything the built SQL depends on besides the vendor (a setting it
      reads, say); two calls with the same key must build the same SQL but for `now`;
    - `now` must reach the SQL as one or more `Value(now, DateTimeField())` parameters;
      compiling fails loudly if it does not;
    - the compiled SQL names the model's table for the row it is read for, as a top-level
      query over the model does. In a query relabeled into a subquery (`relabeled_clone`
      follows the table's new alias) or one whose subqueries take other aliases, the
      expression is built and compiled in place instead, as any expression is: the cached
      SQL's own subquery aliases could otherwise shadow the outer query's;
    - used in `annotate()` (a column) or, when boolean, in `filter()` (a condition).
    """

    def __init__(self, key, build, model, now, output_field):
        super().__init__(output_field=output_field)
        self.key, self.build, self.model, self.now = key, build, model, now
        self.alias = model._meta.db_table

    def relabeled_clone(self, change_map):
        clone = super().relabeled_clone(change_map)
        clone.alias = change_map.get(self.alias, self.alias)
        return clone

    def _template(self, connection):
        key = (connection.vendor, self.key)
        found = _compiled.get(key)
        if found is None:
            query = QuerySet(self.model).annotate(_precompiled=self.build(NOW_STANDS_IN)).query
            sql, params = query.get_compiler(connection=connection).compile(
                query.annotations["_precompiled"]
            )
            marker = DateTimeField().get_db_prep_value(NOW_STANDS_IN, connection)
            slots = tuple(isinstance(p, type(marker)) and p == marker for p in params)
            if not any(slots):
                raise ImproperlyConfigured(f"{self.key!r}: `now` does not reach its SQL")
            found = _compiled[key] = (sql, tuple(params), slots)
        return found

    def as_sql(self, compiler, connection, **extra):
        top_level = compiler.query.alias_prefix == Query.alias_prefix
        if self.alias != self.model._meta.db_table or not top_level:
            in_place = self.build(self.now).resolve_expression(compiler.query, allow_joins=False)
            return compiler.compile(in_place)
        sql, params, slots = self._template(connection)
        now = DateTimeField().get_db_prep_value(self.now, connection)
        return sql, [now if slot else p for p, slot in zip(params, slots, strict=True)]
