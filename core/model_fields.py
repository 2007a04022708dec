"""Model field idioms the apps share, so each reads as one line where it is declared."""

from django.conf import settings
from django.db import models


def person_link(*, related_name, optional=False, **options):
    """A link to the person who did or owns something, kept (PROTECT) while a row names them:
    the evidence needs them. `optional`: the field may be empty (null and blank)."""
    if optional:
        options.update(null=True, blank=True)
    return models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name=related_name, **options
    )
