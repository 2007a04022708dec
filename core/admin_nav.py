"""The admin's navigation (the app list of the index and of the sidebar on every page), built
and rendered once per kind of reader instead of on every request.

What the navigation shows is decided by the model-level permission checks of the registered
admins (`has_module_permission`, `has_*_permission(request)` without an object) and their
`index_pages`; every one of ours and the libraries' reads only the user's permissions, their
superuser and active flags (core.roles.reads_only is a permission too). So the app list is a
function of those, of the language and of the script prefix: `reader_key`. The sidebar's
HTML depends besides on which of its links the current path contains (the "current" app
and model it marks). Building the list and rendering the sidebar took a fifth of a
changelist (8 ms of 39).

Both are kept per process in a small LRU. A change of someone's permissions changes their
key (the permission cache, core.auth, forgets on every grant and revocation), so nothing
stale is shown; the registry does not change while the process runs. An admin whose
model-level permission checks read anything else must not be registered without revisiting
this (tests/core/test_admin_nav.py renders the navigation of each role both ways).
"""

import threading
from collections import OrderedDict

from django.template.defaultfilters import urlencode
from django.urls import get_script_prefix
from django.utils.translation import get_language

CACHE_SIZE = 256


class _LRU:
    def __init__(self, size):
        self.size, self.items, self.lock = size, OrderedDict(), threading.Lock()

    def get(self, key, build):
        with self.lock:
            if key in self.items:
                self.items.move_to_end(key)
                return self.items[key]
        value = build()
        with self.lock:
            self.items[key] = value
            while len(self.items) > self.size:
                self.items.popitem(last=False)
        return value

    def clear(self):
        with self.lock:
            self.items.clear()


app_lists = _LRU(CACHE_SIZE)
sidebars = _LRU(CACHE_SIZE)


def reader_key(request):
    user = request.user
    permissions = frozenset(user.get_all_permissions()) if user.is_active else frozenset()
    return (
        user.is_authenticated,
        user.is_active,
        user.is_staff,
        user.is_superuser,
        permissions,
        get_language(),
        get_script_prefix(),
    )


def app_list(request, app_label, build):
    """`build()` (the site's app list for `app_label`, None for all) for this kind of reader,
    as a fresh copy: Django sorts the lists it is given in place."""
    apps = app_lists.get((reader_key(request), app_label), build)
    return [{**app, "models": list(app["models"])} for app in apps]


def sidebar(request, available_apps, render):
    """`render()` (the sidebar's HTML) for this kind of reader and the links the current path
    marks as current (the template's `url in request.path|urlencode`)."""
    path = urlencode(request.path)
    current = frozenset(
        url
        for app in available_apps
        for url in (app["app_url"], *(model.get("admin_url") for model in app["models"]))
        if url and url in path
    )
    return sidebars.get((reader_key(request), current), render)
