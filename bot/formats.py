"""Money, dates and times as people read them: the one place every message formats them.

Money
    ``money(amount, currency="USD")`` writes an amount to the cent, rounded **half-up**
    (``0.005`` → ``0.01``, ``-0.005`` → ``-0.01``: away from zero on a tie), with thousands
    separators. ``cents`` is that same rounding on its own; the diagnosis compares amounts
    with it, so what a message shows and what the rules compare are always the same number.
    Floats are refused: money is a ``Decimal`` (or an ``int``/``str`` that becomes one).

    The currency is an ISO 4217 code, case-insensitive. The house currency, US dollars, reads
    ``$1,234.50`` (negative: ``-$1,234.50``). Every other currency reads as the amount followed
    by its code: ``1,234.50 EUR``, ``-3.00 CAD``. Symbols are not used for them on purpose:
    ``$`` is also the Canadian, Australian and a dozen other dollars, ``kr`` three different
    crowns, and a finance team reconciling QuickBooks against ConnectBooster reads codes there
    (both systems carry the code, not a symbol). An unknown code is written as given, never
    refused: a message must not fail to render over a currency.

Dates and times
    Times carry a zone: a naive ``datetime`` is refused (``ValueError``) rather than guessed.
    Messages show them in UTC, day first and month abbreviated (``10:42 UTC, 3 Nov 2026``,
    ``3 Nov 2026``), so readers on either side of the Atlantic read them the same way.
    Calendar dates that QuickBooks holds without a time (``TxnDate``) are written ISO
    (``2026-11-03``), the way QuickBooks' own search takes them. Ages (``45m``, ``5h``, ``3d``,
    ``6w``), rates (``12.5%``) and windows (``24 hours``, ``7 days``) round out the set.

Pure functions of their arguments, standard library only: anything in ``bot`` may import this.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")
"""Money's smallest unit: amounts are shown and compared to the cent."""

HOUSE_CURRENCY = "USD"
"""The currency written with a symbol (``$``); every other one is written with its code."""

_TENTH = Decimal("0.1")


def _decimal(amount: Decimal | int | str) -> Decimal:
    if isinstance(amount, float):
        raise TypeError("money must be Decimal, not float")
    return amount if isinstance(amount, Decimal) else Decimal(amount)


def cents(amount: Decimal | int | str) -> Decimal:
    """``amount`` rounded half-up to the cent: the one rounding rule for money."""
    return _decimal(amount).quantize(CENT, rounding=ROUND_HALF_UP)


def money(amount: Decimal | int | str, currency: str = HOUSE_CURRENCY) -> str:
    """``$1,250.00`` (negative: ``-$3.00``); other currencies as ``1,250.00 EUR``.

    Rounded half-up to the cent; floats are refused (see the module docstring)."""
    value = cents(amount)
    sign = "-" if value < 0 else ""  # a value rounding to zero shows no sign
    body = f"{abs(value):,.2f}"
    code = currency.strip().upper()
    if code == HOUSE_CURRENCY:
        return f"{sign}${body}"
    return f"{sign}{body} {code}"


def iso_date(day: date | None) -> str | None:
    """``YYYY-MM-DD`` for a calendar date, or None when there is none."""
    return day.isoformat() if day is not None else None


def as_utc(at: datetime) -> datetime:
    """``at`` in UTC; a naive datetime is refused (times carry zones)."""
    if at.tzinfo is None:
        raise ValueError("naive datetime: times must carry a time zone")
    return at.astimezone(UTC)


def fmt_time(at: datetime) -> str:
    """``10:42 UTC, 3 Nov 2026``: time first, so status lines read "at 10:42 UTC"."""
    u = as_utc(at)
    return f"{u:%H:%M} UTC, {u.day} {u:%b %Y}"


def fmt_date(at: datetime) -> str:
    """``3 Nov 2026``: the day in UTC of a zoned time."""
    u = as_utc(at)
    return f"{u.day} {u:%b %Y}"


def fmt_age(delta: timedelta) -> str:
    """A short age: ``45m``, ``5h``, ``3d``, ``6w`` (at least ``1m``; negative is ``1m``)."""
    secs = max(0, int(delta.total_seconds()))
    if secs < 3600:
        return f"{max(1, secs // 60)}m"
    if secs < 86400:
        return f"{secs // 3600}h"
    days = secs // 86400
    return f"{days}d" if days < 60 else f"{days // 7}w"


def fmt_rate(rate: Decimal) -> str:
    """``12.5%`` from a fraction (``Decimal("0.125")``), half-up to a tenth of a percent;
    a whole percentage drops the ``.0`` (``12%``)."""
    pct = (Decimal(rate) * 100).quantize(_TENTH, rounding=ROUND_HALF_UP)
    return f"{pct.normalize():f}%" if pct == pct.to_integral() else f"{pct}%"


def window_label(days: int) -> str:
    """A look-back window in words: ``24 hours`` for one day, else ``7 days``."""
    return "24 hours" if days == 1 else f"{days} days"


__all__ = [
    "CENT",
    "HOUSE_CURRENCY",
    "as_utc",
    "cents",
    "fmt_age",
    "fmt_date",
    "fmt_rate",
    "fmt_time",
    "iso_date",
    "money",
    "window_label",
]
