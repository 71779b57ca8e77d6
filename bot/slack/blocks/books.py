"""The books equation on the failure card: for a ConnectBooster payment of amount A, what
QuickBooks already records of it (R: each QuickBooks payment counted, linked) and, while
A − R is not zero, how much is recorded nowhere and on which invoices (and where the rest
would go), or how much is recorded twice.

"Certain" is said only when R reconciles with A to the cent and every payment counted is
certain; otherwise "likely", with the difference. Amounts carry their currency. Pure: no I/O.
"""

from __future__ import annotations

from decimal import Decimal

from bot.models import Books, Diagnosis, InvoiceNeed, RecordedKind, RecordedMoney
from bot.slack.blocks.common import escape, link, money, plural, truncate

MAX_BOOKS_TEXT = 1800
"""The books section's budget (the invoices take the rest of the card)."""
_MAX_ROWS = 6
_MAX_ROW = 300

_KIND_WORDS = {
    RecordedKind.SYNCED: "synced",
    RecordedKind.RECREATED: "recreated by the bot",
    RecordedKind.BY_HAND: "entered by hand",
}


def certainty_words(books: Books) -> str:
    """``certain`` (R = A to the cent, every payment counted certain), ``likely`` (R = A but
    a payment counted is judged, not proven) or ``likely, differs by $x``."""
    diff = abs(books.unrecorded)
    if books.reconciled:
        return "certain" if all(r.certain for r in books.recorded) else "likely"
    return f"likely, differs by {money(diff, books.currency)}"


def books_text(d: Diagnosis) -> str | None:
    """The card's books section for the diagnosis (``None`` without ``d.books``)."""
    books = d.books
    if books is None:
        return None
    cur = books.currency
    a, r, u = books.amount, books.recorded_total, books.unrecorded
    if books.reconciled:
        head = f"*In QuickBooks:* all {money(a, cur)} is recorded ({certainty_words(books)})."
    elif not books.recorded:
        head = f"*In QuickBooks:* none of the {money(a, cur)} is recorded yet."
    elif u > 0:
        head = (
            f"*In QuickBooks:* {money(r, cur)} of the {money(a, cur)} is recorded "
            f"({certainty_words(books)}); *{money(u, cur)} is recorded nowhere*."
        )
    else:
        head = (
            f"*In QuickBooks:* {money(r, cur)} is recorded for this {money(a, cur)} "
            f"payment: *{money(-u, cur)} more than was paid* ({certainty_words(books)})."
        )
    lines = [head]
    budget = (MAX_BOOKS_TEXT - len(head) - _MAX_ROW) // 2  # each list's share
    lines += _rows([_recorded_row(m, d, cur) for m in books.recorded], "more payment", budget)
    if not books.reconciled:
        needs = [n for n in books.needs if n.need != 0]
        lines += _rows([_need_row(n, d, cur) for n in needs], "more invoice", budget)
        if books.overpaid > 0 and u > 0:
            lines.append(
                f"• {money(books.overpaid, cur)} paid over the invoices (the client's "
                "overpayment) goes on the customer as credit."
            )
    return truncate("\n".join(lines), MAX_BOOKS_TEXT)


def _rows(rows: list[str], more: str, budget: int) -> list[str]:
    """At most ``_MAX_ROWS`` rows within ``budget`` characters, then how many are not shown."""
    shown: list[str] = []
    used = 40  # room for the "… and N more" line
    for row in rows[:_MAX_ROWS]:
        row = truncate(row, _MAX_ROW)
        if used + len(row) + 1 > budget:
            break
        shown.append(row)
        used += len(row) + 1
    if len(rows) > len(shown):
        shown.append(f"• … and {plural(len(rows) - len(shown), more)}")
    return shown


def _recorded_row(m: RecordedMoney, d: Diagnosis, cur: str) -> str:
    name = f"Payment {m.reference or m.qbo_payment_id}"
    label = link(_evidence_url(d, "Payment", m.qbo_payment_id), escape(truncate(name, 60)))
    kind = _KIND_WORDS.get(m.kind, m.kind.value)
    sure = "" if m.certain else ", likely the same money"
    row = f"• {label} ({kind}{sure}): {money(m.amount, cur)}"
    on = [
        f"invoice {escape(truncate(_invoice_number(d, i), 40))} ({money(v, cur)})"
        for i, v in list(m.invoice_amounts.items())[:4]
    ]
    if on:
        row += " on " + ", ".join(on)
    return row


def _need_row(n: InvoiceNeed, d: Diagnosis, cur: str) -> str:
    need = n.need
    number = escape(truncate(n.invoice_number, 40))
    if need < 0:
        return (
            f"• Invoice {number}: {money(-need, cur)} more recorded than the "
            f"{money(n.applied, cur)} applied"
        )
    row = f"• Invoice {number}: {money(need, cur)} of {money(n.applied, cur)} unrecorded"
    if n.target_invoice_id is None:
        return row + " — you pick the invoice it goes to"
    room = "" if n.room >= need else f", only {money(max(n.room, Decimal(0)), cur)} open"
    if n.target_invoice_id == n.invoice_id:
        return row + (f" (invoice {number}{room})" if room else "")
    target = escape(truncate(_invoice_number(d, n.target_invoice_id), 40))
    return f"{row} → invoice {target}{room}"


def _invoice_number(d: Diagnosis, invoice_id: str) -> str:
    """The document number of QuickBooks invoice ``invoice_id`` as the diagnosis knows it
    (its id when it does not)."""
    for f in d.findings:
        if f.invoice_id == invoice_id:
            return f.invoice_number
        for ev in f.evidence:
            if ev.type == "Invoice" and ev.id == invoice_id and ev.number:
                return ev.number
    return invoice_id


def _evidence_url(d: Diagnosis, type_: str, id_: str) -> str | None:
    for f in d.findings:
        for ev in f.evidence:
            if ev.type == type_ and ev.id == id_ and ev.url:
                return ev.url
    return None
