"""Demo data of the core app: the four demo sign-ins, one per role (the coordinator is
on the incident intake too)."""

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from core.roles import COMPLIANCE, COORDINATORS, INCIDENT_INTAKE, PLAN_APPROVERS, STAFF

DEMO_PASSWORD = "demo"

DEMO_USERS = [
    # username, first, last, groups, is_staff (admin access)
    ("coordinator", "Casey", "Coordinator", [COORDINATORS, INCIDENT_INTAKE, STAFF], True),
    ("approver", "Avery", "Approver", [PLAN_APPROVERS, STAFF], True),
    ("compliance", "Morgan", "Compliance", [COMPLIANCE, STAFF], True),
    ("staff", "Sam", "Staff", [STAFF], False),
]

EXTRA_STAFF = [
    ("alex", "Alex", "Rivera"),
    ("jordan", "Jordan", "Lee"),
    ("priya", "Priya", "Shah"),
    ("tomasz", "Tomasz", "Nowak"),
    ("amina", "Amina", "Okafor"),
    ("li", "Li", "Wei"),
]


def load(stdout, actor=None, context=None):
    """Create the demo users (idempotent). Returns {username: user}."""
    User = get_user_model()
    users = {}
    for username, first, last, groups, is_staff in DEMO_USERS + [
        (u, f, la, [STAFF], False) for u, f, la in EXTRA_STAFF
    ]:
        user, created = User.objects.get_or_create(
            username=username,
            defaults={
                "first_name": first,
                "last_name": last,
                "email": f"{username}@example.org",
                "is_staff": is_staff,
            },
        )
        if created:
            user._history_user = actor
            user._change_reason = "Demo data"
            user.set_password(DEMO_PASSWORD)
            user.save()
        # Also on a demo database made before a role was added (only what is missing, so a
        # second run writes no history).
        missing = Group.objects.filter(name__in=groups).exclude(user=user)
        if missing:
            user._history_user = actor
            user.groups.add(*missing)
        users[username] = user
    stdout.write(f"  users: {', '.join(u for u, *_ in DEMO_USERS)} (password {DEMO_PASSWORD!r})")
    return users
