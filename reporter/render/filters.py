"""Formatting helpers, registered as Jinja filters: how every value reads in HTML and PDF.

Every filter accepts a missing value (``None``, ``NaN``, ``NaT``, ``pd.NA``) and shows it as
:data:`MISSING` (or the ``empty`` argument), so a template never has to test for one. Times
are shown in the report's time zone: the templates' ``timezone`` variable (``--timezone``).
"""

import math
import numbers
import re
import zoneinfo
from datetime import date, datetime
from typing import Any

import jinja2
import pandas as pd
from markupsafe import Markup, escape

from reporter.derive import KB_NUMBER
from reporter.render.cells import KB_ARTICLE_URL, cut_text

MISSING = "—"


def is_missing(value: Any) -> bool:
    """Whether ``value`` is one of the many spellings of "unknown" (None, NaN, NaT, pd.NA).

    >>> is_missing(float("nan")), is_missing(pd.NA), is_missing(0)
    (True, True, False)
    """
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    if isinstance(value, float):
        return math.isnan(value)
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):  # list-likes: never a single missing value
        return False


def _blank(value: Any) -> bool:
    return is_missing(value) or (isinstance(value, str) and not value.strip())


def text(value: Any, empty: str = MISSING) -> str:
    """A value as plain text; missing or blank values as ``empty``."""
    if is_missing(value):
        return empty
    result = str(value)
    return result if result.strip() else empty


def cell(value: Any, empty: str = MISSING) -> str:
    """A table cell's text: as :func:`text`, cut at ``CELL_TEXT_LIMIT`` with an ellipsis.

    >>> cell("x" * 400)[-3:], len(cell("x" * 400))
    ('xx…', 300)
    """
    return cut_text(text(value, empty))


def timestamp(value: Any, empty: str = MISSING, zone: str = "UTC") -> str:
    """A moment in ``zone`` (an IANA name), to the minute, with the zone's abbreviation.

    >>> timestamp("2026-10-14T03:12:00Z"), timestamp("2026-10-14T03:12Z", zone="Europe/Paris")
    ('2026-10-14 03:12 UTC', '2026-10-14 05:12 CEST')
    """
    if _blank(value):
        return empty
    moment = _in_zone(value, zone)
    return f"{moment:%Y-%m-%d %H:%M} {moment.tzname() or zone}"


def timestamp_short(value: Any, empty: str = MISSING, zone: str = "UTC") -> str:
    """A moment in ``zone`` without the zone, for table cells whose header names it."""
    if _blank(value):
        return empty
    return f"{_in_zone(value, zone):%Y-%m-%d %H:%M}"


def _in_zone(value: Any, zone: str) -> pd.Timestamp:
    """``value`` as a timestamp in ``zone`` (naive values are taken to be UTC)."""
    moment = pd.Timestamp(value)
    moment = moment.tz_localize("UTC") if moment.tzinfo is None else moment
    return moment.tz_convert(zoneinfo.ZoneInfo(zone))


def _report_zone(context: jinja2.runtime.Context) -> str:
    """The time zone of the report a template renders (its ``timezone`` variable).

    Raises:
        RuntimeError: the template has none, e.g. macros imported without context, whose
            times would silently read as UTC under headers naming another zone.
    """
    zone = context.get("timezone")
    if not zone:
        raise RuntimeError("a template formats a time without the report's time zone")
    return str(zone)


@jinja2.pass_context
def _zoned_timestamp(context: jinja2.runtime.Context, value: Any, empty: str = MISSING) -> str:
    return timestamp(value, empty, zone=_report_zone(context))


@jinja2.pass_context
def _zoned_timestamp_short(
    context: jinja2.runtime.Context, value: Any, empty: str = MISSING
) -> str:
    return timestamp_short(value, empty, zone=_report_zone(context))


_BREAK_AFTER = re.compile(r"(?<=[._-])(?=.)")


def breakable(value: Any, empty: str = MISSING) -> Markup:
    """An identifier's cell text that may wrap only after ``.``, ``-`` or ``_``.

    Names such as ``VA1OSDWEB01`` and ``openssl-libs.x86_64`` must never break inside a word;
    a ``<wbr>`` after each separator is where a narrow column may break them.

    >>> str(breakable("a-b.c<d"))
    'a-<wbr>b.<wbr>c&lt;d'
    """
    text = cell(value, empty)
    return Markup("<wbr>").join(escape(part) for part in _BREAK_AFTER.split(text))


def day(value: Any, empty: str = MISSING) -> str:
    """A calendar date: ``2026-10-14``."""
    if _blank(value):
        return empty
    if isinstance(value, date) and not isinstance(value, datetime):
        return value.isoformat()
    return pd.Timestamp(value).strftime("%Y-%m-%d")


def number(value: Any, empty: str = MISSING) -> str:
    """An integer with thousands separators (``12,345``); other numbers to one decimal."""
    if _blank(value):
        return empty
    if isinstance(value, bool):
        return str(int(value))
    if isinstance(value, float) and not value.is_integer():
        return f"{value:,.1f}"
    return f"{int(value):,}"


def percent(value: Any, digits: int = 1, empty: str = MISSING) -> str:
    """A percentage already scaled to 0-100: ``93.5%``."""
    if _blank(value):
        return empty
    return f"{float(value):.{digits}f}%"


def points(value: Any, empty: str = MISSING) -> str:
    """A change in percentage points, signed: ``+2.3``, ``-1.0``, ``0.0``."""
    if _blank(value):
        return empty
    shown = f"{float(value):+.1f}"
    return "0.0" if shown in ("+0.0", "-0.0") else shown


def share(part: Any, whole: Any, digits: int = 1) -> str:
    """``part`` as a percentage of ``whole``; ``0.0%`` when there is no whole."""
    if is_missing(part) or is_missing(whole) or not whole:
        return percent(0, digits)
    return percent(100.0 * float(part) / float(whole), digits)


def duration(value: Any, empty: str = MISSING) -> str:
    """Seconds as ``1h 2m 3s``, ``20m 4s`` or ``45s``."""
    if _blank(value):
        return empty
    seconds = round(float(value))
    sign, seconds = ("-", -seconds) if seconds < 0 else ("", seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    if hours:
        return f"{sign}{hours}h {minutes}m {seconds}s"
    if minutes:
        return f"{sign}{minutes}m {seconds}s"
    return f"{sign}{seconds}s"


def yes_no(value: Any, empty: str = MISSING) -> str:
    """A boolean as ``yes`` / ``no``."""
    if _blank(value):
        return empty
    return "yes" if bool(value) else "no"


def kb_url(value: Any) -> str | None:
    """The Microsoft support article for a KB number (``KB3135998``), else None."""
    if is_missing(value):
        return None
    match = KB_NUMBER.fullmatch(str(value).strip())
    return KB_ARTICLE_URL.format(match.group(1)) if match else None


def status_class(value: Any) -> str:
    """The CSS class for a compliance status or attempt outcome (colour plus a text label)."""
    key = text(value, "").strip().lower()
    return {
        "compliant": "ok",
        "succeeded": "ok",
        "completed": "ok",
        "non-compliant": "bad",
        "failed": "bad",
        "in progress": "wait",
        "running": "wait",
        "pending": "wait",
        "warning": "warn",
        "no data": "none",
    }.get(key, "none")


def sort_key(value: Any) -> str:
    """A value the table script can sort by: numbers and moments as numbers, else empty."""
    if is_missing(value) or isinstance(value, str):
        return ""
    if isinstance(value, datetime | pd.Timestamp):
        return str(int(pd.Timestamp(value).timestamp()))
    if isinstance(value, numbers.Real):
        return repr(float(value))
    return ""


FILTERS = {
    "text": text,
    "cell": cell,
    "breakable": breakable,
    "timestamp": _zoned_timestamp,
    "timestamp_short": _zoned_timestamp_short,
    "day": day,
    "number": number,
    "percent": percent,
    "points": points,
    "share": share,
    "duration": duration,
    "yes_no": yes_no,
    "kb_url": kb_url,
    "status_class": status_class,
    "sort_key": sort_key,
}
