"""The training app's part of the self-service site: navigation and the home-page panel."""

from . import queries

NAV = [("My training", "training:mine")]


def home_panel(request):
    """Required training that is due soon, overdue or never done (nothing shown when all current)."""
    rows = [
        row
        for row in queries.shown_rows(queries.compliance_rows(user=request.user))
        if not row["is_current"]
    ]
    if not rows:
        return None
    return {"template": "training/panel.html", "rows": rows}
