"""Plan text for people: Markdown rendered to HTML, then sanitised with nh3 so no script survives."""

import markdown
import nh3
from django.utils.safestring import mark_safe


def render_markdown(text):
    html = markdown.markdown(text or "", extensions=["extra", "sane_lists"], output_format="html")
    return mark_safe(nh3.clean(html))
