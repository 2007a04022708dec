"""The admin's navigation is built and rendered once per kind of reader (core.admin_nav): each
role sees exactly the app list and sidebar Django would build for them, the current page is
marked, and a change of permissions shows at once."""

import pytest
from django.contrib import admin
from django.contrib.auth.models import Group, Permission
from django.template import engines

from core import admin_nav
from tests import factories

pytestmark = pytest.mark.django_db

INCIDENTS = "/admin/incidents/incident/"
COURSES = "/admin/training/course/"


@pytest.fixture(autouse=True)
def empty_caches():
    admin_nav.app_lists.clear()
    admin_nav.sidebars.clear()
    yield
    admin_nav.app_lists.clear()
    admin_nav.sidebars.clear()


def sidebar_of(html):
    start = html.index('<nav class="sticky" id="nav-sidebar"')
    return html[start : html.index("</nav>", start)]


def djangos_sidebar(client, path):
    """The sidebar as Django's own template renders it, uncached, for this request."""
    from core.templatetags.case_admin_nav import djangos_sidebar

    request = client.get(path).wsgi_request
    context = {**admin.site.each_context(request), "request": request}
    context["available_apps"] = admin.AdminSite.get_app_list(admin.site, request)
    template = djangos_sidebar(engines["django"].engine)
    return sidebar_of(template.render(_context(template, context)))


def _context(template, values):
    from django.template import RequestContext

    context = RequestContext(values["request"])
    context.update(values)
    return context


@pytest.mark.parametrize("role", ["coordinator", "approver", "compliance", "superuser"])
def test_each_role_sees_the_navigation_django_would_build(client, role):
    user = (
        factories.UserFactory(username="root", is_staff=True, is_superuser=True)
        if role == "superuser"
        else getattr(factories, role)(username=role)
    )
    client.force_login(user)
    compared = 0
    for path in (INCIDENTS, COURSES):
        first = client.get(path)
        if first.status_code != 200:
            continue
        cached = sidebar_of(client.get(path).content.decode())  # the second time, cached
        assert cached == sidebar_of(first.content.decode())
        assert cached == djangos_sidebar(client, path)
        request = first.wsgi_request
        assert admin.site.get_app_list(request) == admin.AdminSite.get_app_list(admin.site, request)
        compared += 1
    assert compared


def test_the_current_page_is_marked_and_the_two_pages_differ(client, coordinator):
    client.force_login(coordinator)
    incidents = sidebar_of(client.get(INCIDENTS).content.decode())
    courses = sidebar_of(client.get(COURSES).content.decode())
    assert 'class="model-incident current-model"' in incidents
    assert 'class="model-incident current-model"' not in courses
    assert 'class="model-course current-model"' in courses


def test_a_permission_granted_shows_in_the_navigation_at_once(client):
    person = factories.UserFactory(username="newcomer", is_staff=True)
    viewer = Group.objects.create(name="Course viewers")
    viewer.permissions.add(Permission.objects.get(codename="view_course"))
    client.force_login(person)
    assert client.get("/admin/").status_code == 200
    assert "/admin/training/course/" not in client.get("/admin/").content.decode()
    person.groups.add(viewer)
    page = client.get("/admin/").content.decode()
    assert "/admin/training/course/" in page
    assert "/admin/training/course/" in sidebar_of(client.get(COURSES).content.decode())
    person.groups.remove(viewer)
    assert "/admin/training/course/" not in client.get("/admin/").content.decode()


def test_the_header_links_are_djangos_and_the_zone(client, coordinator):
    client.force_login(coordinator)
    page = client.get(INCIDENTS).content.decode()
    header = page[page.index('id="user-tools"') : page.index("</header>")]
    for text in ("Times in UTC", "Second factor", "Change password", "Log out"):
        assert text in header, text
    assert 'action="/admin/logout/"' in header and "csrfmiddlewaretoken" in header
