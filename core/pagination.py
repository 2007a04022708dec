"""API pagination: `?page=N&page_size=M` (at most 100)."""

from functools import partial

from django.core.paginator import Paginator
from django.utils.functional import cached_property
from rest_framework.pagination import PageNumberPagination


class StandardPagination(PageNumberPagination):
    page_size = 25
    page_size_query_param = "page_size"
    max_page_size = 100


class CountedPaginator(Paginator):
    """A paginator whose total comes from `count_rows(object_list)` (a cheaper query than
    COUNT(*) over the rows) instead of counting the page's queryset."""

    def __init__(self, object_list, per_page, *args, count_rows, **kwargs):
        super().__init__(object_list, per_page, *args, **kwargs)
        self._count_rows = count_rows

    @cached_property
    def count(self):
        return self._count_rows(self.object_list)


class CountedPagination(StandardPagination):
    """StandardPagination; the view's `count_rows(queryset)` gives the total."""

    def paginate_queryset(self, queryset, request, view=None):
        self.django_paginator_class = partial(CountedPaginator, count_rows=view.count_rows)
        return super().paginate_queryset(queryset, request, view)
