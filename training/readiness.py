"""What the incidents app asks of training, found through core.discovery (the two apps are
independent): was a person current on the courses that train a plan?"""

from django.db.models import F, Value

from .models import Course
from .queries import State, state_expression

# A completion still valid counts, even when it falls due soon.
CURRENT_STATES = (State.CURRENT, State.DUE_SOON)


def plan_training(user, plan_id, now):
    """([{id, title}] of the plan's courses, [{id, title, state}] of those `user` was not
    current on at `now`), by the same state rule as the compliance report; one query."""
    rows = (
        Course.objects.filter(plan_id=plan_id)
        .annotate(user_id=Value(user.pk), course_id=F("pk"))
        .annotate(state=state_expression(now))
        .order_by("title", "id")
        .values("id", "title", "state")
    )
    required, missing = [], []
    for row in rows:
        required.append({"id": row["id"], "title": row["title"]})
        if row["state"] not in CURRENT_STATES:
            missing.append(row)
    return required, missing
