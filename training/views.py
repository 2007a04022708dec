"""Self-service pages of the training app: my compliance and my records."""

from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from . import queries
from .models import Record


@login_required
def mine(request):
    """What training is required of me, its state, and every record I have."""
    rows = queries.shown_rows(queries.compliance_rows(user=request.user))
    records = (
        Record.objects.filter(user=request.user)
        .select_related("session", "session__course")
        .order_by("-session__starts_at", "-id")
    )
    return render(
        request,
        "training/mine.html",
        {"rows": rows, "records": records, "due_soon_days": queries.due_soon_window().days},
    )
