"""What to do about a diagnosed payment, from its cause and its books: the remedies in order and
the sentences that say how much QuickBooks records of it.

The books decide first (``money_remedies``), whatever the cause:

- R = A to the cent (``Books.reconciled``): QuickBooks records all of the payment, so only
  ConnectBooster's state is left: Dismiss Syncing (recommended), Delete, Re-check. Dismiss and
  Delete are offered **only** then.
- R > A: the payment is recorded twice; no write of the bot's fixes that: Re-check, after a
  person deletes the extra payment in QuickBooks.
- Otherwise money is unrecorded, and the cause decides (``cause_remedies``): a credit memo that
  alone explains every short invoice while nothing is recorded → Unapply Credit Memo (then
  ConnectBooster's sync records the payment); anything else → Recreate payment in QuickBooks
  (it carries A − R), with Unapply Credit Memo beside it when credit was applied after the run.

``books_sentence`` says what QuickBooks records when it is part of the payment, or more than
it; ``unrecorded_where`` says where the missing money belongs.
"""

from __future__ import annotations

from decimal import Decimal

from bot.diagnosis.wording import recreate_step
from bot.formats import cents, money
from bot.models import Books, Cause, Finding, RecordedKind, RemedyKind
from cb.models import Payment as CBPayment

ZERO = Decimal("0.00")

DISMISS_STEP = (
    "Dismiss Syncing in ConnectBooster: QuickBooks already records all of this payment "
    "({recorded}). Delete it from the portal history too if you don't want it listed."
)


def recorded_words(books: Books) -> str:
    """``payment 300 (ref 4417, by hand, $1,000.00)``, each counted QBO payment once."""
    parts = []
    for r in books.recorded:
        bits = [f"ref {r.reference}"] if r.reference else []
        if r.kind is RecordedKind.BY_HAND:
            bits.append("by hand")
        elif r.kind is RecordedKind.RECREATED:
            bits.append("recreated by the bot")
        bits.append(money(r.amount, books.currency))
        parts.append(f"payment {r.qbo_payment_id} ({', '.join(bits)})")
    return ", ".join(parts) if parts else "no payment"


def unrecorded_where(books: Books) -> str:
    """``$250.00 on invoice 1051 and $100.00 of the client's overpayment``."""
    cur = books.currency
    parts = [
        f"{money(n.need, cur)} on invoice {n.invoice_number}"
        for n in books.needs
        if cents(n.need) > 0
    ]
    if cents(books.unrecorded_overpayment) > 0:
        parts.append(f"{money(books.unrecorded_overpayment, cur)} of the client's overpayment")
    if not parts:
        return "on no particular invoice"
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def books_sentence(books: Books, *, say_whole: bool = False) -> str:
    """The summary's sentence on the books when R is neither 0 nor A (else empty; with
    ``say_whole``, R = A is said too: when the cause's own words do not say it)."""
    cur = books.currency
    recorded = cents(books.recorded_total)
    if books.reconciled and say_whole and recorded > 0:
        return f" QuickBooks already records all of it ({recorded_words(books)})."
    if books.reconciled or recorded == 0:
        return ""
    if books.unrecorded < 0:
        return (
            f" QuickBooks records {money(recorded, cur)} for it, "
            f"{money(-books.unrecorded, cur)} more than was paid: it is recorded twice "
            f"({recorded_words(books)})."
        )
    return (
        f" QuickBooks records {money(recorded, cur)} of it ({recorded_words(books)}); "
        f"{money(books.unrecorded, cur)} is recorded nowhere yet ({unrecorded_where(books)})."
    )


def said_by_findings(books: Books, problems: list[Finding]) -> bool:
    """Whether the paid-manually findings already say all that is unrecorded (each invoice's
    difference), so the summary need not say it again."""
    told = {f.invoice_id for f in problems if f.cause is Cause.PAID_MANUALLY}
    return (
        bool(told)
        and books.unrecorded >= 0
        and cents(books.unrecorded_overpayment) == 0
        and all(n.invoice_id in told for n in books.needs if cents(n.need) > 0)
    )


def money_remedies(books: Books) -> tuple[list[RemedyKind], str] | None:
    """The remedies the books alone decide (R = A, or R > A), or None (money unrecorded)."""
    if books.reconciled:
        return [
            RemedyKind.DISMISS_SYNC,
            RemedyKind.DELETE_HISTORY,
            RemedyKind.RECHECK,
        ], DISMISS_STEP.format(recorded=recorded_words(books))
    if books.unrecorded < 0:
        cur = books.currency
        return [RemedyKind.RECHECK], (
            f"QuickBooks records {money(books.recorded_total, cur)} for this payment, "
            f"{money(-books.unrecorded, cur)} more than the {money(books.amount, cur)} paid "
            f"({recorded_words(books)}): delete the extra payment in QuickBooks, then Re-check. "
            "Dismissing or recreating would not fix it."
        )
    return None


def cause_remedies(
    payment: CBPayment, cause: Cause, findings: list[Finding], books: Books
) -> tuple[list[RemedyKind], str]:
    """The remedies, in order, and the next-step sentence for a payment whose dominant
    ``cause`` is known (not ``unknown``), from the books first (see the module docstring)."""
    decided = money_remedies(books)
    if decided is not None:
        return decided
    kinds = {f.cause for f in findings if f.cause is not Cause.NONE}
    credit = any(f.credit_applications for f in findings) or Cause.CREDIT_MEMO in kinds
    nothing_recorded = cents(books.recorded_total) == 0
    if cause is Cause.CREDIT_MEMO and kinds == {Cause.CREDIT_MEMO} and nothing_recorded:
        return [RemedyKind.UNAPPLY_CREDIT_MEMO, RemedyKind.RECHECK], (
            "Un-apply the credit memo in QuickBooks (the bot deletes or trims the $0 payment that "
            "applies it); ConnectBooster's next sync then records the payment, and the credit "
            "stays available for another invoice."
        )
    remedies = [RemedyKind.RECREATE_PAYMENT]
    if credit:
        remedies.append(RemedyKind.UNAPPLY_CREDIT_MEMO)
    remedies.append(RemedyKind.RECHECK)
    return remedies, recreate_step(payment, findings, books)


__all__ = [
    "books_sentence",
    "cause_remedies",
    "money_remedies",
    "recorded_words",
    "said_by_findings",
    "unrecorded_where",
]
