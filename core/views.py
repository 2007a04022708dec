"""Self-service home page."""

from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from core.site import home_panels


@login_required
def home(request):
    return render(request, "core/home.html", {"panels": home_panels(request)})
