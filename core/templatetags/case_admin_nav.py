"""`{% cached_nav_sidebar %}`: Django's admin navigation sidebar (admin/nav_sidebar.html,
the template this project's own one of that name stands in front of), rendered once per
kind of reader and current link (core.admin_nav)."""

from django import template
from django.utils.safestring import mark_safe

from core import admin_nav

register = template.Library()

NAME = "admin/nav_sidebar.html"


def djangos_sidebar(engine):
    """Django's template of that name: the one found after the project's own."""
    _, ours = engine.find_template(NAME)
    found, _ = engine.find_template(NAME, skip=[ours])
    return found


@register.simple_tag(takes_context=True)
def cached_nav_sidebar(context):
    sidebar = djangos_sidebar(context.template.engine)
    html = admin_nav.sidebar(
        context["request"], context["available_apps"], lambda: sidebar.render(context)
    )
    return mark_safe(html)
