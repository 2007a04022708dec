"""The plans app's part of the self-service site: navigation and the home-page panel."""

from . import queries

NAV = [("Plans", "plans:pending"), ("My acknowledgements", "plans:my-acknowledgements")]


def home_panel(request):
    """What the signed-in user still has to acknowledge (nothing shown when nothing is owed)."""
    owed = list(queries.pending_acknowledgements(request.user))
    if not owed:
        return None
    return {"template": "plans/panel.html", "owed": owed}
