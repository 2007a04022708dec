"""Lengths of time as people read them: the one formatter of the metrics' mean times.

Coordinators read a mean time to acknowledge, contain or recover in the unit that suits it,
never in decimal minutes ("1,234.5 minutes"): whole minutes under an hour, hours (to one
decimal) under two days, days (to one decimal) beyond. The dashboard, its CSV export and the
API's `mean_time_to_*` strings all come from `duration_words`, so they always agree.
"""

MINUTE = 60
HOUR = 60 * MINUTE
DAY = 24 * HOUR


def _one_decimal(value):
    text = f"{value:.1f}"
    return text[:-2] if text.endswith(".0") else text


def duration_words(seconds):
    """`seconds` (a number, or None for "no data") in words: "45 min", "5.5 h", "3.2 days"."""
    if seconds is None:
        return None
    seconds = max(0, seconds)
    if seconds < HOUR:
        minutes = round(seconds / MINUTE)
        return "1 h" if minutes == 60 else f"{minutes} min"
    if seconds < 2 * DAY:
        hours = round(seconds / HOUR, 1)
        return "2 days" if hours >= 48 else f"{_one_decimal(hours)} h"
    return f"{_one_decimal(seconds / DAY)} days"
