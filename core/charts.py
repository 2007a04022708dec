"""Bar charts drawn on the server as inline SVG: no script, no library, nothing to serve.

Colours are CSS: text and axes are `currentColor` (the page's text colour, light or dark),
each series' bars take the class `chart-s0`, `chart-s1`, … which the page colours with its
own variables (see incidents' dashboard template: `--chart-1` … with dark-mode values), so a
chart reads in the admin's light and dark themes alike. Each chart is an `img` to assistive
technology, named by its `<title>`; every bar has a tooltip `<title>` with its exact value;
the page shows the same figures in a table beside it (the charts are a picture of it).
"""

from itertools import count

from django.utils.html import format_html
from django.utils.safestring import mark_safe

WIDTH = 520
LABEL_WIDTH = 130
VALUE_WIDTH = 60
BAR = 14
BAR_GAP = 2
GROUP_GAP = 10
LEGEND = 24
LABEL_CHARS = 18

_ids = count(1)


def _short(label):
    label = str(label)
    return label if len(label) <= LABEL_CHARS else label[: LABEL_CHARS - 1] + "…"


def bar_chart(*, title, rows, series, words=str):
    """An SVG horizontal bar chart.

    `rows`: [(label, [value per series])], a value None for "no data" (no bar, "—");
    `series`: the series' names (one: no legend); `words(value)`: a value as the page
    writes it ("5.5 h"), used for the bar's label and tooltip.
    """
    chart_id = f"chart-{next(_ids)}"
    values = [value for _, row in rows for value in row if value is not None]
    peak = max(values + [0]) or 1
    legend = LEGEND if len(series) > 1 else 0
    group = len(series) * (BAR + BAR_GAP) + GROUP_GAP
    height = legend + max(len(rows), 1) * group + GROUP_GAP
    area = WIDTH - LABEL_WIDTH - VALUE_WIDTH
    parts = []
    for index, name in enumerate(series if legend else ()):
        x = LABEL_WIDTH + index * 110
        parts.append(
            format_html(
                '<rect class="chart-s{}" x="{}" y="6" width="12" height="12" rx="2"></rect>'
                '<text x="{}" y="16" font-size="13">{}</text>',
                index,
                x,
                x + 18,
                name,
            )
        )
    if not rows:
        parts.append(
            format_html('<text x="{}" y="{}" font-size="13">No incidents.</text>', 0, legend + 20)
        )
    for row_index, (label, row) in enumerate(rows):
        top = legend + GROUP_GAP + row_index * group
        middle = round(top + (len(series) * (BAR + BAR_GAP)) / 2 + 4)
        parts.append(
            format_html(
                '<text x="{}" y="{}" font-size="13" text-anchor="end"><title>{}</title>{}</text>',
                LABEL_WIDTH - 8,
                middle,
                label,
                _short(label),
            )
        )
        for index, value in enumerate(row):
            y = top + index * (BAR + BAR_GAP)
            text = "—" if value is None else words(value)
            width = 0 if value is None else max(2, round(area * value / peak))
            tooltip = f"{label} · {series[index]}: {text}" if legend else f"{label}: {text}"
            if value is not None:
                parts.append(
                    format_html(
                        '<rect class="chart-s{}" x="{}" y="{}" width="{}" height="{}" rx="2">'
                        "<title>{}</title></rect>",
                        index,
                        LABEL_WIDTH,
                        y,
                        width,
                        BAR,
                        tooltip,
                    )
                )
            parts.append(
                format_html(
                    '<text x="{}" y="{}" font-size="12">{}</text>',
                    LABEL_WIDTH + width + 4,
                    y + BAR - 3,
                    text,
                )
            )
    parts.append(
        format_html(
            '<line x1="{}" y1="{}" x2="{}" y2="{}" stroke="currentColor" stroke-width="1"></line>',
            LABEL_WIDTH,
            legend + 4,
            LABEL_WIDTH,
            height - 4,
        )
    )
    return format_html(
        '<svg class="chart" role="img" aria-labelledby="{}" viewBox="0 0 {} {}" width="100%"'
        ' style="max-width:{}px" fill="currentColor" xmlns="http://www.w3.org/2000/svg">'
        '<title id="{}">{}</title>{}</svg>',
        chart_id,
        WIDTH,
        height,
        WIDTH,
        chart_id,
        title,
        mark_safe("".join(str(part) for part in parts)),  # each part built by format_html
    )
