"""Self-service pages: report an incident, see your own reports."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect, render

from core.errors import DomainError, add_to_form

from . import queries, services
from .forms import ReportForm


@login_required
@permission_required("incidents.add_incident", raise_exception=True)
def report(request):
    form = ReportForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            incident = services.incident_report(actor=request.user, **form.cleaned_data)
        except (DomainError, ValidationError) as exc:
            add_to_form(form, exc)
        else:
            messages.success(request, f"Thank you. Your report is {incident.reference}.")
            return redirect("incidents:detail", incident.pk)
    return render(request, "incidents/report.html", {"form": form})


@login_required
def mine(request):
    return render(
        request,
        "incidents/mine.html",
        {"incidents": queries.own_reports(request.user).order_by("-reported_at", "-id")[:200]},
    )


@login_required
def detail(request, pk):
    incident = get_object_or_404(queries.own_reports(request.user), pk=pk)
    return render(request, "incidents/detail.html", {"incident": incident})
