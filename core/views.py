"""Self-service home page and the person's own settings (time zone)."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from core.forms import TimeZoneForm
from core.site import home_panels
from core.timezones import remember_in_session, time_zone_set


@login_required
def home(request):
    return render(request, "core/home.html", {"panels": home_panels(request)})


@login_required
@require_POST
def set_time_zone(request):
    """Set my time zone (from the page's offer of the browser's zone, or the admin's link)."""
    form = TimeZoneForm(request.POST)
    back = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(back, {request.get_host()}, request.is_secure()):
        back = "/"
    if not form.is_valid():
        messages.error(request, "That is not a time zone name (IANA, such as Europe/Berlin).")
        return redirect(back)
    name = form.cleaned_data["time_zone"]
    try:
        time_zone_set(user=request.user, actor=request.user, time_zone=name)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect(back)
    remember_in_session(request, name)
    messages.success(request, f"Times are now shown in {name}.")
    return redirect(back)
