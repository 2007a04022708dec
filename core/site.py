"""The self-service site's shared pieces: the home page's panels and navigation, gathered from the apps.

An app contributes by having a `panels.py` (found through the app registry) with any of:
- `NAV = [("Label", "app:url-name"), ...]`: links in the site's top navigation;
- `def home_panel(request) -> dict | None`: `{"template": ..., **context}` rendered on the home page.
"""

from functools import cache

from core.discovery import app_modules


@cache
def _panel_modules():
    return [module for _, module in app_modules("panels")]


def navigation():
    return [item for module in _panel_modules() for item in getattr(module, "NAV", [])]


def home_panels(request):
    panels = []
    for module in _panel_modules():
        build = getattr(module, "home_panel", None)
        panel = build(request) if build else None
        if panel:
            panels.append(panel)
    return panels


def site_context(request):
    """Template context processor: the site navigation and the zone times are shown in."""
    from django.utils import timezone

    return {"site_nav": navigation(), "time_zone_name": timezone.get_current_timezone_name()}
