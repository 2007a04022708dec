"""The admin's history pages as an auditor reads them: every change, in words, with the records
that belong to the object (an incident's team, actions, escalations...) in the same list.

simple-history's page diffed only the fields of the change form, so an incident's phase changes
(status is not editable) showed an empty "Changes" column; it showed values raw (`2 → 1`,
"Deleted user (pk=None)"); and an incident's story was spread over six history pages. Here the
page lists, newest first, the object's versions and those of its `history_children`, diffed by
the one engine the API uses (`core.history_diff`) with the same masks, in a fixed number of
queries per page whatever the number of rows.
"""

from django.contrib.auth import get_permission_codename
from django.core.paginator import Paginator
from django.db.models import IntegerField, Value
from django.template.response import TemplateResponse
from django.urls import NoReverseMatch, reverse
from django.utils.text import capfirst
from django.utils.translation import gettext as _
from simple_history.utils import get_history_model_for_model

from core import history_diff
from core.history_diff import NO_MASK


class Source:
    """Where some of a history page's rows come from: one model's history, narrowed."""

    def __init__(self, model, lookup, mask, *, own=False, model_admin=None):
        self.model = model
        self.history_model = get_history_model_for_model(model)
        self.lookup = lookup
        self.mask = mask
        self.own = own
        self.model_admin = model_admin

    def rows(self, index):
        return (
            self.history_model._default_manager.filter(**self.lookup)
            .annotate(history_source=Value(index, output_field=IntegerField()))
            .values_list("history_date", "history_id", "history_source")
            .order_by()  # a part of a UNION may not be ordered (the history models are)
        )


class ReadableHistory:
    """The history page of an AuditedAdmin (read-only and visibility-checked by it)."""

    # Reverse relations (related names) whose records' history shows on this object's page.
    history_children = ()
    history_list_per_page = 100
    readable_history_template = "admin/core/history.html"

    def history_mask(self, request, obj):
        """What this reader may not see in the object's own history (see core.history_diff)."""
        return NO_MASK

    def history_sources(self, request, obj):
        sources = [
            Source(
                self.model,
                {self.opts.pk.attname: obj.pk},
                self.history_mask(request, obj),
                own=True,
                model_admin=self,
            )
        ]
        for name in self.history_children:
            relation = self.opts.get_field(name)
            child = relation.related_model
            perm = f"{child._meta.app_label}.{get_permission_codename('view', child._meta)}"
            if not request.user.has_perm(perm):
                continue  # those who may not read these records do not read their history
            lookup = {relation.field.attname: obj.pk}
            sources.append(
                Source(child, lookup, NO_MASK, model_admin=self.admin_site._registry.get(child))
            )
        return sources

    def readable_history(self, request, obj):
        """The page of rows asked for (`?p=`), each {record, label, url, user, changes}."""
        sources = self.history_sources(request, obj)
        parts = [source.rows(index) for index, source in enumerate(sources)]
        union = parts[0].union(*parts[1:], all=True) if len(parts) > 1 else parts[0]
        union = union.order_by("-history_date", "-history_source", "-history_id")
        paginator = Paginator(union, self.history_list_per_page)
        page = paginator.get_page(request.GET.get("p"))
        wanted = {}
        for _date, history_id, index in page.object_list:
            wanted.setdefault(index, []).append(history_id)
        versions = {}
        for index, ids in wanted.items():
            source = sources[index]
            pairs = history_diff.with_predecessors(source.history_model, ids)
            for version in history_diff.diff(pairs, source.mask):
                versions[(index, version.record.history_id)] = version
        ordered = [versions[(index, hid)] for _date, hid, index in page.object_list]
        described = history_diff.describe(ordered)
        labels = self._labels(sources, wanted, versions, obj)
        rows = []
        for (_date, _hid, index), version, changes in zip(
            page.object_list, ordered, described, strict=True
        ):
            record = version.record
            source = sources[index]
            label, live = labels[(index, getattr(record, source.model._meta.pk.attname))]
            rows.append(
                {
                    "record": record,
                    "label": label,
                    "url": self._version_url(request, source, record, live),
                    "type": history_diff.HISTORY_TYPES[record.history_type],
                    "user": history_diff.person_name(record.history_user)
                    if version.history_user_id is not None
                    else history_diff.NONE,
                    "changes": changes,
                }
            )
        return paginator, page, rows, sources

    def _labels(self, sources, wanted, versions, obj):
        """{(source, object id): (words naming the record, whether it still exists)}: one query
        per child model on the page."""
        labels = {}
        for index in wanted:
            source = sources[index]
            pk = source.model._meta.pk.attname
            ids = {getattr(v.record, pk) for (i, _), v in versions.items() if i == index}
            if source.own:
                labels.update({(index, i): (str(obj), True) for i in ids})
                continue
            joined = [f.name for f in source.model._meta.concrete_fields if f.many_to_one]
            live = source.model._base_manager.filter(pk__in=ids).select_related(*joined)
            names = {row.pk: str(row) for row in live}
            kind = capfirst(source.model._meta.verbose_name)
            for i in ids:
                if i in names:
                    labels[(index, i)] = (f"{kind}: {names[i]}", True)
                else:
                    labels[(index, i)] = (f"{kind} #{i} ({_('removed')})", False)
        return labels

    def _version_url(self, request, source, record, live):
        if not live or source.model_admin is None:
            return None
        if not source.model_admin.has_view_permission(request):
            return None
        opts = source.model._meta
        object_id = getattr(record, opts.pk.attname)
        name = f"{self.admin_site.name}:{opts.app_label}_{opts.model_name}_simple_history"
        try:
            return reverse(name, args=[object_id, record.history_id])
        except NoReverseMatch:
            return None

    def render_readable_history(self, request, obj, extra_context=None):
        paginator, page, rows, sources = self.readable_history(request, obj)
        children = [str(s.model._meta.verbose_name_plural) for s in sources if not s.own]
        context = {
            **self.admin_site.each_context(request),
            "title": _("View history: %s") % obj,
            "subtitle": None,
            "object": obj,
            "opts": self.opts,
            "app_label": self.opts.app_label,
            "module_name": capfirst(self.opts.verbose_name_plural),
            "rows": rows,
            "page_obj": page,
            "page_range": paginator.get_elided_page_range(page.number),
            "pagination_required": paginator.num_pages > 1,
            "children": children,
            "revert_disabled": True,
            **(extra_context or {}),
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, self.readable_history_template, context)
