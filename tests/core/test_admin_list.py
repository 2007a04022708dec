"""Every changelist's rows come from core.admin_list (speed): the same HTML as Django's own
`items_for_result`, cell for cell, on lists with links, people, states, booleans, dates and
empty values, with filters preserved in the links; Django's rows where it needs more."""

import datetime

import pytest
from django.contrib import admin
from django.contrib.admin.templatetags.admin_list import results
from django.contrib.messages.storage.fallback import FallbackStorage
from django.test import RequestFactory
from django.utils import timezone

from core.admin_list import fast_results
from incidents import services
from incidents.models import Incident
from tests import factories
from tests.incidents import factories as f

pytestmark = pytest.mark.django_db


def changelist(user, model, query=""):
    request = RequestFactory().get(f"/admin/x/?{query}")
    request.user = user
    request.session = {}
    request._messages = FallbackStorage(request)
    cl = admin.site._registry[model].get_changelist_instance(request)
    cl.formset = None  # as changelist_view sets it for a list that is not editable
    return cl


def rendered(rows):
    return [[str(cell) for cell in row] for row in rows]


@pytest.fixture
def incidents(coordinator):
    f.targets()
    reporter = factories.staff(first_name="Ann", last_name="O'Hara & Co")
    f.incident(reporter, title="<b>Bold</b> title", impact=1, urgency=1)
    f.incident(reporter, title="Anonymous", anonymous=True, occurred_hours_ago=80)
    managed = f.incident(reporter, title="Managed", affected_service="Mail")
    services.incident_update(incident=managed, actor=coordinator, incident_manager=coordinator)
    f.walk(managed, coordinator, "triaged", "investigating")
    f.walk(f.incident(reporter, title="Dropped"), coordinator, "cancelled")
    return Incident.objects.count()


@pytest.mark.parametrize(
    "query", ["", "status__exact=triaged&o=2", "q=Bold", "priority__exact=P1&open=yes"]
)
def test_incident_rows_are_djangos_byte_for_byte(coordinator, incidents, query):
    cl = changelist(coordinator, Incident, query)
    ours = rendered(fast_results(cl))
    assert ours == rendered(results(cl))
    if not query:
        assert len(ours) == incidents == 4
        assert any("&lt;b&gt;Bold&lt;/b&gt; title" in cell for row in ours for cell in row)
        link = next(cell for cell in ours[0] if "<a href" in cell)
        assert f"/admin/incidents/incident/{cl.result_list[0].pk}/change/" in link
    if "status__exact" in query:  # the filters ride along in each row's link
        assert all("_changelist_filters=" in row[1] for row in ours)


def test_other_lists_with_booleans_dates_and_people_are_djangos(coordinator, compliance_user):
    from django.contrib.auth import get_user_model

    from tests.training.factories import complete, make_course
    from training.models import Course, Record

    person = factories.staff(first_name="Émile", last_name="Zola")
    course = make_course(title="Data protection <basics>")
    complete(person, course, timezone.now() - datetime.timedelta(days=3))
    seen = 0
    for model in (get_user_model(), Course, Record, Incident):
        if model not in admin.site._registry:
            continue
        for user in (coordinator, compliance_user):
            cl = changelist(user, model)
            assert rendered(fast_results(cl)) == rendered(results(cl)), model
            seen += len(cl.result_list)
    assert seen > 0


def test_a_popup_list_is_left_to_django(coordinator, incidents):
    cl = changelist(coordinator, Incident, "_popup=1&_to_field=id")
    assert rendered(fast_results(cl)) == rendered(results(cl))
    assert any("data-popup-opener" in cell for row in rendered(fast_results(cl)) for cell in row)


def test_the_checkbox_and_reported_cells_read_as_djangos_formatting_would(coordinator, incidents):
    """The two cells built by hand for speed (the row checkbox, "reported") say what Django's
    format_html and date_format would, in the reader's zone."""
    from django.contrib.admin import helpers
    from django.utils.formats import date_format
    from django.utils.html import format_html
    from django.utils.translation import gettext as _

    model_admin = admin.site._registry[Incident]
    with timezone.override("Pacific/Chatham"):
        for incident in Incident.objects.all():
            assert model_admin.action_checkbox(incident) == format_html(
                '<input type="checkbox" name="{}" value="{}" class="action-select" '
                'aria-label="{}">',
                helpers.ACTION_CHECKBOX_NAME,
                str(incident.pk),
                format_html(_("Select this object for an action - {}"), str(incident)),
            )
            when = date_format(timezone.localtime(incident.reported_at), "j M, H:i")
            late = "reported late" if incident.is_late else "on time"
            assert model_admin.late(incident) == f"{when}<br>{late}"
