"""Which QuickBooks customer paid a gateway transaction: company, name and e-mail, normalised.

The gateway carries what the payer typed (``company``, ``first_name``/``last_name``,
``email``); QuickBooks has ``DisplayName``, ``CompanyName``, ``GivenName``/``FamilyName`` and
``PrimaryEmailAddr``. Both sides are normalised (case, punctuation, ``&``/``and``, legal
suffixes such as LLC, Inc., PLLC dropped) and compared in order: e-mail, then company, then
person's name. The first key that names exactly one customer decides; a key that names several
is an ambiguity, shown to a person and never guessed (:attr:`CustomerMatch.ambiguous`).
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field

from gateway.models import Transaction
from qb.models import Customer

_SUFFIXES = frozenset(
    {"llc", "inc", "incorporated", "ltd", "limited", "co", "corp", "corporation", "pllc",
     "pc", "pa", "llp", "lp", "plc", "company", "the"}
)  # fmt: skip
_WORD = re.compile(r"[a-z0-9]+")


def normalise_name(name: str | None) -> str:
    """A company or person's name compared ignoring case, punctuation and legal suffixes
    (``Northwind Dental, LLC`` is ``northwind dental``)."""
    words = _WORD.findall((name or "").casefold().replace("&", " and "))
    kept = [w for w in words if w not in _SUFFIXES]
    return " ".join(kept or words)


def normalise_email(email: str | None) -> str:
    return (email or "").strip().casefold()


def _extra(c: Customer, name: str) -> str:
    value = (c.model_extra or {}).get(name)
    if isinstance(value, dict):
        value = value.get("Address")
    return str(value) if value else ""


@dataclass(frozen=True)
class CustomerMatch:
    """The customers a transaction names, and by what (``email``, ``company``, ``name``);
    ``ids`` empty: no customer; more than one: ambiguous."""

    ids: tuple[str, ...] = ()
    how: str = ""

    @property
    def one(self) -> str | None:
        return self.ids[0] if len(self.ids) == 1 else None

    @property
    def ambiguous(self) -> bool:
        return len(self.ids) > 1


@dataclass
class CustomerIndex:
    """QuickBooks customers by normalised e-mail, company and person's name."""

    by_email: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    by_company: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    by_name: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    customers: dict[str, Customer] = field(default_factory=dict)

    @classmethod
    def build(cls, customers: list[Customer]) -> CustomerIndex:
        idx = cls()
        for c in customers:
            if not c.id:
                continue
            idx.customers[c.id] = c
            if email := normalise_email(_extra(c, "PrimaryEmailAddr")):
                idx.by_email[email].add(c.id)
            for company in {c.display_name, _extra(c, "CompanyName")}:
                if key := normalise_name(company):
                    idx.by_company[key].add(c.id)
            person = f"{_extra(c, 'GivenName')} {_extra(c, 'FamilyName')}"
            if key := normalise_name(person):
                idx.by_name[key].add(c.id)
        return idx

    def match(self, t: Transaction) -> CustomerMatch:
        """The customer ``t`` names (see the module docstring)."""
        keys = (
            ("email", self.by_email, normalise_email(t.email)),
            ("company", self.by_company, normalise_name(t.company)),
            ("name", self.by_name, normalise_name(f"{t.first_name} {t.last_name}")),
            ("name", self.by_company, normalise_name(f"{t.first_name} {t.last_name}")),
        )
        ambiguous: CustomerMatch | None = None
        for how, table, key in keys:
            if not key:
                continue
            ids = table.get(key)
            if not ids:
                continue
            if len(ids) == 1:
                return CustomerMatch(tuple(ids), how)
            ambiguous = ambiguous or CustomerMatch(tuple(sorted(ids)), how)
        return ambiguous or CustomerMatch()

    def name(self, customer_id: str) -> str:
        c = self.customers.get(customer_id)
        return (c.display_name if c is not None else None) or customer_id
