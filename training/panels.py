"""The training app's part of the self-service site: navigation and the home-page panel."""

from . import queries

NAV = [("My training", "training:mine")]


def home_panel(request):
    """Required training that is due soon, overdue or never done (nothing shown when all current)."""
    rows = [
        row
        for row in queries.compliance_rows(user=request.user)
        if row["state"] != queries.State.CURRENT
    ]
    if not rows:
        return None
    return {"template": "training/panel.html", "rows": rows}
