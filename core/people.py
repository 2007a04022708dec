"""Who counts as current staff: the one predicate audiences, requirements and reports share.

A person is current staff while their account is active. Deactivation (an administrator
unticking "active", or the directory over SCIM: `active: false` or DELETE) takes them out of
every plan audience and training requirement at once; their acknowledgements, records and
history stay, and reports that list what they did show them as former staff.
"""

from django.db.models import Q

FORMER_STAFF = "former_staff"


def current_staff(prefix=""):
    """Q for rows whose person (`prefix` + field, e.g. "user__") is current staff."""
    return Q(**{f"{prefix}is_active": True})


def is_current_staff(user):
    return bool(user is not None and user.is_active)
