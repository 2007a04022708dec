"""Date-time input of forms and filters that every database can store (API serializers use
DRF's own DateTimeField, which converts aware input to the current zone and answers
an unrepresentable one with a 400 itself).

Python accepts UTC offsets up to ±23:59, PostgreSQL only up to ±15:59, so an
aware value such as ``2026-01-01T10:00+20:30`` typed into a filter or a form
would reach the database untouched and fail there with a 500. These fields
convert every aware value to UTC as they clean it and turn a value that
cannot be represented into a plain validation error (a 400, or a form error).
"""

import datetime

import django_filters
from django import forms
from django.core.exceptions import ValidationError


def to_utc(value):
    if value is None or not isinstance(value, datetime.datetime) or value.tzinfo is None:
        return value
    try:
        return value.astimezone(datetime.UTC)
    except OverflowError:
        raise ValidationError("This date and time is out of range.", code="overflow") from None


class UTCDateTimeField(forms.DateTimeField):
    def to_python(self, value):
        return to_utc(super().to_python(value))


class UTCIsoDateTimeField(django_filters.fields.IsoDateTimeField):
    def to_python(self, value):
        return to_utc(super().to_python(value))


class IsoDateTimeFilter(django_filters.IsoDateTimeFilter):
    """``IsoDateTimeFilter`` whose values are normalised to UTC."""

    field_class = UTCIsoDateTimeField


def after_and_before(field_name):
    """A list's `…_after` (from, inclusive) and `…_before` (until, exclusive) filters on one
    date-time field: `published_after, published_before = after_and_before("published_at")`."""
    return (
        IsoDateTimeFilter(field_name=field_name, lookup_expr="gte"),
        IsoDateTimeFilter(field_name=field_name, lookup_expr="lt"),
    )
