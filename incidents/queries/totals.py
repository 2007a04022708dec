"""The lists' totals and the people its manager filter offers, read from tallies the
database keeps (incidents migrations 0002 and 0015) instead of counting every incident."""

from django.contrib.auth import get_user_model
from django.db import connections
from django.db.models.expressions import RawSQL

from core.people import people_visible_to

from . import _seen_in_full, fully_visible_incidents, sees_everything

TALLY_TABLE = (
    "incidents_incident_tally"  # incidents/migrations/0002_confidential_index_and_tally.py
)


def visible_count(user, queryset, *, narrowed):
    """How many incidents `queryset` holds, exactly: `visible_incidents(user)`, possibly narrowed.

    `narrowed` says whether the reader's filters or search may have narrowed the queryset
    (when in doubt, say True). A narrowed list is counted as it is. An unnarrowed one is all
    the reader may see, and counting that row by row grows with the table (35 ms at 100,000
    incidents); instead, in one query:

    - compliance staff: the tally's two totals (a one-row table the database keeps);
    - coordinators and the intake: the tally's non-confidential total + the confidential
      incidents they may see (team, own reports, for the intake the unassigned ones),
      counted from the confidential rows' own index (`incident_confidential_idx`);
    - everyone else (their own reports): counted as it is, from the reporter index.
    """
    if narrowed or not user.has_perm("incidents.view_incident"):
        return queryset.count()
    if sees_everything(user):
        sql, params = f"SELECT public_count + confidential_count FROM {TALLY_TABLE}", ()
    else:
        confidential = queryset.filter(confidential=True).order_by().values("pk")
        inner, params = confidential.query.sql_with_params()
        sql = f"SELECT public_count + (SELECT COUNT(*) FROM ({inner}) visible) FROM {TALLY_TABLE}"
    with connections[queryset.db].cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()[0]


MANAGER_TALLY_TABLE = "incidents_manager_tally"  # incidents/migrations/0015_manager_tally.py


def incident_managers(user):
    """The people managing an incident `user` sees in full, by name (the incident list's
    filter), among the people `user` may list; a fixed cost whatever the number of incidents.

    Whoever sees any incident in full sees every non-confidential one, so their managers are
    the manager tally's rows with a count (kept by the database); to those are added the
    managers of the confidential incidents the reader sees, counted from the confidential
    rows' own index (`incident_confidential_idx`)."""
    if _seen_in_full(user) is False:
        return get_user_model().objects.none()
    confidential = (
        fully_visible_incidents(user)
        .filter(confidential=True, incident_manager__isnull=False)
        .order_by()
        .values("incident_manager_id")
    )
    inner, params = confidential.query.sql_with_params()
    # One set of ids (a UNION, not two IN tests joined by OR, which had PostgreSQL scan and
    # test every person): the people are then read by their primary key.
    managers = RawSQL(
        f"SELECT manager_id FROM {MANAGER_TALLY_TABLE} WHERE public_count > 0 UNION {inner}",
        params,
    )
    return people_visible_to(user).filter(pk__in=managers)
