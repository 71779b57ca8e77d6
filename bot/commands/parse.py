"""Parsing the text of ``/failed-payments`` (pure: no I/O, no Slack).

``parse_command(text)`` returns one typed command or raises ``CommandError`` whose message
names the specific mistake in words a finance person can act on, with a suggestion when a
near miss is found ("unknown filter `cus:` — did you mean `customer:`?").

Grammar (case-insensitive keywords)::

    /failed-payments [list] [filter ...]       filters: cause:<short name>  customer:<text>
                                                         older:<age>         min:<amount>
    /failed-payments stats [7d|30d|90d]
    /failed-payments show <CB reference or payment id>
    /failed-payments recheck
    /failed-payments help

``customer:`` takes the rest of the words up to the next filter, or a quoted text
(``customer:"Northwind Dental"``). Ages are ``45m``, ``12h``, ``3d``, ``2w`` (a bare number is
days). Amounts may carry ``$`` and thousands separators.
"""

from __future__ import annotations

import difflib
import re
import shlex
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from bot.models import Cause

SUBCOMMANDS = ("list", "stats", "show", "recheck", "help", "mine", "assign", "snooze", "unsnooze")
"""Every subcommand, for suggestions; the team's four are parsed in ``parse_team``."""
FILTERS = ("cause", "customer", "older", "min")
STATS_WINDOWS = (7, 30, 90)
MAX_TEXT = 500  # Slack allows long command texts; nobody types more than this on purpose
MAX_CUSTOMER = 100
MAX_AMOUNT = Decimal("1000000000")
MAX_AGE = timedelta(days=3650)

_CAUSES = tuple(c for c in Cause if c != Cause.NONE)
_AGE = re.compile(r"^(\d{1,5})\s*(m|min|mins|h|hr|hrs|d|day|days|w|wk|wks|week|weeks)?$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_REF = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,99}$")
_ALIASES = {  # forgiving spellings that are not typos
    "ls": "list",
    "status": "stats",
    "stat": "stats",
    "card": "show",
    "poll": "recheck",
    "refresh": "recheck",
    "check": "recheck",
    "?": "help",
    "-h": "help",
    "--help": "help",
}
_FILTER_ALIASES = {"amount": "min", "age": "older", "reason": "cause", "client": "customer"}


class CommandError(ValueError):
    """The command text could not be understood; ``str(err)`` names the mistake."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class ListFilters:
    """Filters of ``list``; every one optional and all combined with AND."""

    cause: Cause | None = None
    customer: str | None = None  # case-insensitive substring of the customer's name
    older_than: timedelta | None = None  # first seen at least this long ago
    min_amount: Decimal | None = None  # at least this amount

    @property
    def empty(self) -> bool:
        return (self.cause, self.customer, self.older_than, self.min_amount) == (None,) * 4

    def describe(self) -> str:
        """The filters as the user would type them (canonical form), or ``""``."""
        parts: list[str] = []
        if self.cause is not None:
            parts.append(f"cause:{self.cause.value}")
        if self.customer is not None:
            c = self.customer
            parts.append(f'customer:"{c}"' if " " in c else f"customer:{c}")
        if self.older_than is not None:
            parts.append(f"older:{format_age(self.older_than)}")
        if self.min_amount is not None:
            parts.append(f"min:{self.min_amount:f}")
        return " ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form (for paging state in Redis)."""
        return {
            "cause": self.cause.value if self.cause else None,
            "customer": self.customer,
            "older_s": int(self.older_than.total_seconds()) if self.older_than else None,
            "min": str(self.min_amount) if self.min_amount is not None else None,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ListFilters:
        """Inverse of ``to_dict``; raises ``ValueError`` on anything it did not write."""
        cause = d.get("cause")
        older = d.get("older_s")
        minimum = d.get("min")
        customer = d.get("customer")
        try:
            return cls(
                cause=Cause(cause) if cause else None,
                customer=str(customer) if customer else None,
                older_than=timedelta(seconds=int(older)) if older is not None else None,
                min_amount=Decimal(str(minimum)) if minimum is not None else None,
            )
        except (InvalidOperation, TypeError) as exc:
            raise ValueError("malformed list filters") from exc


@dataclass(frozen=True)
class ListCommand:
    """``list``: open failures, newest first, filtered."""

    filters: ListFilters = ListFilters()


@dataclass(frozen=True)
class StatsCommand:
    """``stats [7d|30d|90d]``."""

    window_days: int = 7


@dataclass(frozen=True)
class ShowCommand:
    """``show <ref>``: a ConnectBooster reference (``CB…``) or payment id."""

    target: str


@dataclass(frozen=True)
class RecheckCommand:
    """``recheck``: poll now."""


@dataclass(frozen=True)
class HelpCommand:
    """``help``."""


Command = ListCommand | StatsCommand | ShowCommand | RecheckCommand | HelpCommand


def format_age(age: timedelta) -> str:
    """``3d``, ``12h``, ``2w``, ``45m``: the shortest exact form."""
    secs = int(age.total_seconds())
    for unit, size in (("w", 604800), ("d", 86400), ("h", 3600)):
        if secs and secs % size == 0:
            return f"{secs // size}{unit}"
    return f"{secs // 60}m"


def _suggest(word: str, choices: tuple[str, ...] | list[str]) -> str | None:
    """The closest choice to ``word`` (prefix match first, then difflib), or None."""
    w = word.lower()
    if w:
        starts = [c for c in choices if c.startswith(w)]
        if len(starts) == 1:
            return starts[0]
    close = difflib.get_close_matches(w, list(choices), n=1, cutoff=0.6)
    return close[0] if close else None


def _did_you_mean(hint: str | None, fmt: str = "`{}`") -> str:
    return f" — did you mean {fmt.format(hint)}?" if hint else ""


def _code(text: str, limit: int = 40) -> str:
    """User text quoted inside backticks, cut short and without backticks of its own."""
    t = text.replace("`", "'")
    return "`" + (t if len(t) <= limit else t[: limit - 1] + "…") + "`"


def _tokens(text: str) -> list[str]:
    # Slack sends typographic quotes from some clients; treat them as plain ones.
    for q in ("“", "”", "„"):
        text = text.replace(q, '"')
    for q in ("‘", "’"):
        text = text.replace(q, "'")
    lex = shlex.shlex(text, posix=True)
    lex.whitespace_split = True
    lex.commenters = ""
    try:
        return list(lex)
    except ValueError:
        raise CommandError('a quote is not closed — check the `"` marks') from None


def parse_command(text: str | None) -> Command:
    """Parse what followed ``/failed-payments``; ``CommandError`` names the mistake."""
    text = (text or "").strip()
    if len(text) > MAX_TEXT:
        raise CommandError(f"that command is {len(text)} characters long; keep it under {MAX_TEXT}")
    words = _tokens(text)
    if not words:
        return ListCommand()
    head = words[0].lower()
    if ":" in head:  # filters straight away: `/failed-payments cause:credit-memo`
        return ListCommand(parse_filters(words))
    head = _ALIASES.get(head, head)
    rest = words[1:]
    if head == "list":
        return ListCommand(parse_filters(rest))
    if head == "stats":
        return StatsCommand(parse_window(rest))
    if head == "show":
        return ShowCommand(parse_target(rest))
    if head == "recheck":
        if rest:
            raise CommandError(f"`recheck` takes nothing after it (got {_code(' '.join(rest))})")
        return RecheckCommand()
    if head == "help":
        return HelpCommand()
    if _REF.match(words[0]) and words[0].upper().startswith("CB") and words[0][2:3].isdigit():
        raise CommandError(f"unknown command {_code(words[0])} — did you mean `show {words[0]}`?")
    raise CommandError(
        f"unknown command {_code(words[0])}" + _did_you_mean(_suggest(head, SUBCOMMANDS))
    )


def parse_window(words: list[str]) -> int:
    """``stats`` window in days: ``7d``, ``30d`` or ``90d`` (default 7)."""
    if not words:
        return 7
    if len(words) > 1:
        raise CommandError(
            f"`stats` takes one window, e.g. `stats 30d` (got {_code(' '.join(words))})"
        )
    w = words[0].lower()
    m = re.fullmatch(r"(\d{1,4})\s*(d|day|days)?", w)
    if m and int(m.group(1)) in STATS_WINDOWS:
        return int(m.group(1))
    allowed = ", ".join(f"`{d}d`" for d in STATS_WINDOWS)
    near = None
    if m:
        n = int(m.group(1))
        near = f"{min(STATS_WINDOWS, key=lambda d: abs(d - n))}d"
    return _raise(f"unknown window {_code(words[0])}: use {allowed}" + _did_you_mean(near))


def parse_target(words: list[str]) -> str:
    """``show`` target: one CB reference or payment id."""
    if not words:
        raise CommandError("`show` needs a CB reference or payment id, e.g. `show CB10234`")
    if len(words) > 1:
        raise CommandError(
            f"`show` takes one reference, e.g. `show CB10234` (got {_code(' '.join(words))})"
        )
    target = words[0].strip()
    if not _REF.match(target):
        raise CommandError(f"{_code(target)} is not a CB reference or payment id")
    return target


def _raise(message: str) -> Any:
    raise CommandError(message)


def parse_filters(words: list[str]) -> ListFilters:
    """``list`` filters, combinable; a repeated, unknown or malformed one is a ``CommandError``."""
    values: dict[str, str] = {}
    last: str | None = None
    for word in words:
        if ":" not in word:
            if last == "customer":  # `customer:northwind dental`: more words of the name
                values["customer"] = f"{values['customer']} {word}".strip()
                continue
            if word.lower() in FILTERS or word.lower() in _FILTER_ALIASES:
                name = _FILTER_ALIASES.get(word.lower(), word.lower())
                raise CommandError(
                    f"{_code(word)} needs a value after a colon, e.g. `{_example(name)}`"
                )
            hint = _suggest(word.lower(), SUBCOMMANDS)
            msg = f"unexpected {_code(word)}: filters look like `cause:credit-memo`"
            if hint and hint != "list":
                msg += f" (`{hint}` is a command of its own: `/failed-payments {hint}`)"
            raise CommandError(msg)
        key, _, value = word.partition(":")
        k = key.lower()
        name = _FILTER_ALIASES.get(k, k)
        if name not in FILTERS:
            raise CommandError(
                f"unknown filter {_code(key + ':')}" + _did_you_mean(_suggest(k, FILTERS), "`{}:`")
            )
        if name in values:
            raise CommandError(f"`{name}:` is given twice; give it once")
        values[name] = value.strip()
        last = name
    for name, value in values.items():
        if not value:
            raise CommandError(f"`{name}:` needs a value, e.g. `{_example(name)}`")
    return ListFilters(
        cause=parse_cause(values["cause"]) if "cause" in values else None,
        customer=parse_customer(values["customer"]) if "customer" in values else None,
        older_than=parse_age(values["older"]) if "older" in values else None,
        min_amount=parse_amount(values["min"]) if "min" in values else None,
    )


def _example(name: str) -> str:
    return {
        "cause": "cause:credit-memo",
        "customer": "customer:northwind",
        "older": "older:3d",
        "min": "min:500",
    }[name]


def parse_cause(value: str) -> Cause:
    """A cause by its short name (``credit-memo``; ``credit_memo`` and any case work too)."""
    v = value.strip().lower().replace("_", "-").replace(" ", "-")
    for c in _CAUSES:
        if v == c.value:
            return c
    names = [c.value for c in _CAUSES]
    hint = _suggest(v, names)
    return _raise(
        f"unknown cause {_code(value)}"
        + _did_you_mean(hint, "`cause:{}`")
        + ("" if hint else f"; causes are {', '.join(f'`{n}`' for n in names)}")
    )


def parse_customer(value: str) -> str:
    """Customer text: matched case-insensitively anywhere in the customer's name."""
    v = " ".join(value.split())
    if len(v) > MAX_CUSTOMER:
        raise CommandError(f"`customer:` text is {len(v)} characters; keep it under {MAX_CUSTOMER}")
    return v


def parse_age(value: str) -> timedelta:
    """``45m``, ``12h``, ``3d``, ``2w``; a bare number is days."""
    m = _AGE.match(value.strip().lower())
    if not m:
        return _raise(f"`older:` wants an age like `3d`, `12h` or `2w`, not {_code(value)}")
    n = int(m.group(1))
    unit = (m.group(2) or "d")[0]
    age = timedelta(**{_UNITS[unit]: n})
    if age > MAX_AGE:
        raise CommandError(f"`older:{value}` is over ten years; use a shorter age")
    return age


def parse_amount(value: str) -> Decimal:
    """A non-negative amount: ``500``, ``$1,250.50``, ``1k``."""
    v = value.strip().replace("$", "").replace(",", "").replace("_", "")
    mult = Decimal(1)
    if v[-1:].lower() == "k":
        v, mult = v[:-1], Decimal(1000)
    try:
        amount = Decimal(v) * mult
    except InvalidOperation:
        return _raise(f"`min:` wants an amount like `500` or `1,250.00`, not {_code(value)}")
    if not amount.is_finite() or amount < 0:
        raise CommandError(f"`min:` wants an amount of zero or more, not {_code(value)}")
    if amount > MAX_AMOUNT:
        raise CommandError(f"`min:{value}` is more than any payment; use a smaller amount")
    return amount.quantize(Decimal("0.01")) if amount.as_tuple().exponent != 0 else amount
