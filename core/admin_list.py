"""A changelist's rows rendered as Django's admin renders them, with the per-cell work done
once per page instead of once per cell.

Django's `items_for_result` works out, for every cell of every row, what the column is (a
model field, a method of the admin, an attribute), reverses the change URL, merges the
preserved filters into it and runs `format_html` twice. On the incident list (50 rows, 9
columns) that was a third of the page. `fast_results(cl)` decides the column once, reverses
one URL with a stand-in for the id and joins the escaped parts itself; what a cell shows
(`display_for_field`, `display_for_value`, the admin's own display methods) is Django's.

The output is Django's byte for byte; `tests/core/test_admin_list.py` compares the two on
the incident list and others. Where Django's rendering depends on more than that (an
editable list's forms, a popup, a `to_field`, a primary key that is not an integer), the
rows are Django's own.
"""

import datetime
import html

from django.contrib.admin.templatetags.admin_list import ResultList, items_for_result
from django.contrib.admin.templatetags.admin_urls import add_preserved_filters
from django.contrib.admin.utils import (
    FieldIsAForeignKeyColumnName,
    _get_non_gfk_field,
    display_for_field,
    display_for_value,
    lookup_field,
    quote,
)
from django.core.exceptions import FieldDoesNotExist, ObjectDoesNotExist
from django.db import models
from django.urls import NoReverseMatch
from django.utils.functional import Promise
from django.utils.safestring import mark_safe

# Reversed in place of a row's id, then replaced by it: its first occurrence is in the path,
# before any preserved filter the reader typed.
PK_STANDS_IN = "PkStandsIn9q7z"  # letters and digits: admin quote() leaves them


def escaped(value):
    """`django.utils.html.conditional_escape(value)` as a str, without its lazy-argument
    wrapper (it ran some 20,000 times a page)."""
    if isinstance(value, Promise):
        value = str(value)
    if hasattr(value, "__html__"):
        return value.__html__()
    return html.escape(str(value))


def _coerce_field_name(field_name, field_index):
    if callable(field_name):
        return (
            "lambda" + str(field_index)
            if field_name.__name__ == "<lambda>"
            else field_name.__name__
        )
    return field_name


class _Column:
    """One column of the list, decided once: where its value comes from and how it is shown."""

    def __init__(self, cl, field_index, field_name, link):
        self.name = field_name
        self.link = link
        self.base_classes = [f"field-{_coerce_field_name(field_name, field_index)}"]
        self.empty = cl.model_admin.get_empty_value_display()
        self.field = self.attr = None
        self.kind = "attribute"  # looked up per row, as lookup_field does
        try:
            self.field = _get_non_gfk_field(cl.lookup_opts, field_name)
            self.kind = "field"
        except (FieldDoesNotExist, FieldIsAForeignKeyColumnName):
            if callable(field_name):
                self.attr, self.kind = field_name, "callable"
            elif hasattr(cl.model_admin, field_name) and field_name != "__str__":
                self.attr, self.kind = getattr(cl.model_admin, field_name), "callable"

    def value(self, cl, result):
        """(field, attr, value) as `lookup_field` gives them."""
        if self.kind == "field":
            return self.field, None, getattr(result, self.name)
        if self.kind == "callable":
            return None, self.attr, self.attr(result)
        return lookup_field(self.name, result, cl.model_admin)

    def cell(self, cl, result):
        """(row classes, what the cell shows), as items_for_result decides them."""
        row_classes = list(self.base_classes)
        empty_value_display = self.empty
        try:
            f, attr, value = self.value(cl, result)
        except ObjectDoesNotExist:
            return row_classes, empty_value_display
        empty_value_display = getattr(attr, "empty_value_display", empty_value_display)
        if isinstance(value, str) and value.strip() == "":
            value = ""
        if f is None or f.auto_created:
            if self.name == "action_checkbox":
                row_classes = ["action-checkbox"]
            boolean = getattr(attr, "boolean", False)
            if isinstance(attr, property) and hasattr(attr, "fget"):
                boolean = getattr(attr.fget, "boolean", False)
            result_repr = display_for_value(value, empty_value_display, boolean)
            if isinstance(value, (datetime.date, datetime.time)):
                row_classes.append("nowrap")
        else:
            if isinstance(f.remote_field, models.ManyToOneRel):
                field_val = getattr(result, f.name)
                result_repr = empty_value_display if field_val is None else field_val
            else:
                result_repr = display_for_field(value, f, empty_value_display, avoid_link=self.link)
            if isinstance(f, (models.DateField, models.TimeField, models.ForeignKey)):
                row_classes.append("nowrap")
        return row_classes, result_repr


def _renders_as_django_does(cl):
    """Whether these rows can be built here (else Django builds them)."""
    pk = cl.lookup_opts.pk
    return (
        not getattr(cl, "formset", None)  # set by changelist_view once the rows are read
        and not cl.is_popup
        and not cl.to_field
        and isinstance(pk, (models.AutoField, models.BigAutoField, models.IntegerField))
    )


def _change_url(cl):
    """The change URL of a row with PK_STANDS_IN for its id, the preserved filters merged in
    (None when the change view does not reverse)."""
    try:
        url = cl.url_for_result(_StandIn(cl.lookup_opts.pk.attname))
    except NoReverseMatch:
        return None
    return escaped(
        add_preserved_filters({"preserved_filters": cl.preserved_filters, "opts": cl.opts}, url)
    )


class _StandIn:
    def __init__(self, attname):
        setattr(self, attname, PK_STANDS_IN)


def _row(cl, columns, url, result):
    cells = []
    first = True
    for column in columns:
        row_classes, result_repr = column.cell(cl, result)
        row_class = f' class="{" ".join(row_classes)}"'
        if column.link:
            tag = "th" if first else "td"
            first = False
            if url is None:
                inner = escaped(result_repr)
            else:
                pk = getattr(result, cl.pk_attname)
                href = url.replace(PK_STANDS_IN, escaped(quote(pk)), 1)
                inner = f'<a href="{href}">{escaped(result_repr)}</a>'
            cells.append(mark_safe(f"<{tag}{row_class}>{inner}</{tag}>"))
        else:
            cells.append(mark_safe(f"<td{row_class}>{escaped(result_repr)}</td>"))
    return ResultList(None, cells)


def fast_results(cl):
    """The rows of `cl` as lists of cells, as `django.contrib.admin.templatetags.admin_list.
    results(cl)` gives them."""
    if not _renders_as_django_does(cl):  # items_for_result's own form argument: none here
        return [ResultList(None, items_for_result(cl, result, None)) for result in cl.result_list]
    links = cl.list_display_links
    columns = []
    for index, name in enumerate(cl.list_display):
        # items_for_result's link_in_col: none, the first column, or those named.
        if links is None:
            link = False
        elif not links:
            link = index == 0
        else:
            link = name in links
        columns.append(_Column(cl, index, name, link))
    url = _change_url(cl)
    return [_row(cl, columns, url, result) for result in cl.result_list]
