"""People: who counts as current staff, how the case system shows and finds a person, who may
list whom.

A person is current staff while their account is active. Deactivation (an administrator
unticking "active", or the directory over SCIM: `active: false` or DELETE) takes them out of
every plan audience and training requirement at once; their acknowledgements, records and
history stay, and reports that list what they did show them as former staff.
"""

from django.contrib.auth import get_user_model
from django.db.models import Q

FORMER_STAFF = "former_staff"


def current_staff(prefix=""):
    """Q for rows whose person (`prefix` + field, e.g. "user__") is current staff."""
    return Q(**{f"{prefix}is_active": True})


def is_current_staff(user):
    return bool(user is not None and user.is_active)


# Who may list other people (pick a manager, a team member, a recipient): the roles that
# hold it (core.roles) are coordinators, approvers, compliance and the intake.
VIEW_PEOPLE = "auth.view_user"

# Where a search for a person looks (the admin's autocomplete and the API's ?search=).
PERSON_SEARCH_FIELDS = ("username", "first_name", "last_name", "email")


def person_label(user):
    """A person as a chooser or a list shows them: "Dana Scully (dscully)", the username alone
    when they have no name. Never `str(user)`, which is the bare username."""
    if user is None:
        return "—"
    name = user.get_full_name()
    username = user.get_username()
    return f"{name} ({username})" if name else username


def sees_people(user):
    """Whether `user` may list other people; everyone else sees only themselves."""
    return user.is_authenticated and (user.is_superuser or user.has_perm(VIEW_PEOPLE))


def people_visible_to(user):
    """The people `user` may list: everyone for those who pick people, themselves otherwise."""
    users = get_user_model().objects.order_by("last_name", "first_name", "username", "id")
    if not user.is_authenticated:
        return users.none()
    return users if sees_people(user) else users.filter(pk=user.pk)


def search_people(queryset, text):
    """Narrow `queryset` to people whose name, username or email contains every word of `text`."""
    for word in (text or "").split():
        condition = Q()
        for field in PERSON_SEARCH_FIELDS:
            condition |= Q(**{f"{field}__icontains": word})
        queryset = queryset.filter(condition)
    return queryset
