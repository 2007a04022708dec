"""The browsable API renderer, for views whose rows do not come from a queryset."""

from rest_framework import renderers


class BrowsableAPIRenderer(renderers.BrowsableAPIRenderer):
    """DRF's browsable API; a paginated view without filter backends gets no filter form.

    DRF asks every paginated view for `get_queryset()` to build the filter form, even when no
    backend would use it; views that page rows computed in SQL (training compliance) have
    no queryset, and the HTML page failed with a 500 while JSON worked.
    """

    def get_filter_form(self, data, view, request):
        if not getattr(view, "filter_backends", None):
            return None
        return super().get_filter_form(data, view, request)
