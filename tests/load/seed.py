"""Data for the load test: coordinators with API tokens and incidents made through the services.

    DATABASE_URL=… python tests/load/seed.py INCIDENTS USERS OUT.lua

Writes a Lua file listing the tokens and incident ids for tests/load/wrk.lua.
"""

import datetime
import os
import random
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django  # noqa: E402

django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.contrib.auth.models import Group  # noqa: E402
from django.utils import timezone  # noqa: E402
from rest_framework.authtoken.models import Token  # noqa: E402

from core.roles import COORDINATORS, STAFF  # noqa: E402
from incidents import services  # noqa: E402
from incidents.models import Category, ResponseTarget  # noqa: E402


def main(incidents, users, out):
    User = get_user_model()
    rng = random.Random(7)
    coordinators, staff = Group.objects.get(name=COORDINATORS), Group.objects.get(name=STAFF)
    for priority, minutes in (("P1", 15), ("P2", 60), ("P3", 240), ("P4", 1440)):
        ResponseTarget.objects.get_or_create(
            priority=priority,
            defaults=dict(
                acknowledge_minutes=minutes,
                contain_minutes=minutes * 8,
                recover_minutes=minutes * 48,
                update_minutes=minutes * 4,
            ),
        )
    categories = [Category.objects.get_or_create(name=n)[0] for n in ("Security", "Outage", "Data")]
    tokens = []
    for n in range(users):
        user = User.objects.create_user(f"load{n:03}", password=None, is_staff=True)
        user.groups.add(coordinators, staff)
        tokens.append(Token.objects.create(user=user).key)
    reporter = User.objects.create_user("load-reporter", password=None)
    reporter.groups.add(staff)
    ids = []
    now = timezone.now()
    for n in range(incidents):
        incident = services.incident_report(
            actor=reporter,
            title=f"Load incident {n}",
            description="Generated for the load test.",
            occurred_at=now - datetime.timedelta(hours=rng.randint(1, 2000)),
            category=rng.choice(categories),
            impact=rng.randint(1, 4),
            urgency=rng.randint(1, 4),
        )
        ids.append(incident.pk)
    with open(out, "w") as fh:
        fh.write("tokens = {" + ",".join(f'"{t}"' for t in tokens) + "}\n")
        fh.write("ids = {" + ",".join(str(i) for i in ids) + "}\n")
    print(f"seeded {incidents} incidents, {users} API users")


if __name__ == "__main__":
    main(int(sys.argv[1]), int(sys.argv[2]), sys.argv[3])
