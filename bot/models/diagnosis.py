"""A diagnosis as the bot keeps it: what happened to each invoice (``Finding``, with the QBO
objects it rests on) and to the whole payment (``Diagnosis``), and what QuickBooks already
records of it (``Books``, from ``bot.models.books``)."""

from __future__ import annotations

from decimal import Decimal

from pydantic import AwareDatetime, BaseModel, Field

from bot.models.books import Books
from bot.models.causes import Cause, Certainty, RemedyKind, utcnow


class EvidenceObject(BaseModel):
    """One QBO object a finding rests on, with a link a bookkeeper can open."""

    type: str  # Invoice, Payment, CreditMemo, ...
    id: str
    number: str | None = None  # DocNumber or PaymentRefNum
    amount: Decimal | None = None
    balance: Decimal | None = None
    date: str | None = None  # TxnDate, ISO
    created_at: AwareDatetime | None = None
    updated_at: AwareDatetime | None = None
    deleted: bool = False
    url: str | None = None
    note: str | None = None  # what this object shows, in words


class CreditApplication(BaseModel):
    """One credit memo applied to an invoice by one QBO payment: QBO's $0 payment
    (``payment_money`` 0), or a payment mixing money and credit."""

    payment_id: str  # the QBO payment whose lines apply the credit memo
    credit_memo_id: str
    amount: Decimal  # the credit it takes off this invoice
    payment_money: Decimal = Decimal(0)  # the money the same payment records (0: a $0 payment)


class Finding(BaseModel):
    """What happened to one invoice the payment applies to."""

    invoice_id: str
    invoice_number: str
    applied: Decimal  # what the ConnectBooster payment applies to it
    cause: Cause
    certainty: Certainty = Certainty.CERTAIN
    summary: str  # one sentence
    evidence: list[EvidenceObject] = Field(default_factory=list)
    # ids the remedies act on
    credit_memo_payment_id: str | None = None  # the $0 payment applying a credit memo
    credit_memo_id: str | None = None
    credit_memo_amount: Decimal | None = None
    # every credit application on the invoice after the run; the three fields above are the
    # first of them (the one taking the most off the invoice)
    credit_applications: list[CreditApplication] = Field(default_factory=list)
    replacement_invoice_id: str | None = None
    replacement_candidates: list[str] = Field(default_factory=list)


class Diagnosis(BaseModel):
    """Why QuickBooks rejected one ConnectBooster payment, and what to do about it."""

    payment_id: str
    reference: str
    cause: Cause  # the dominant cause over all findings
    certainty: Certainty
    findings: list[Finding]
    remedies: list[RemedyKind]  # ordered: the first is the recommended one
    summary: str  # one sentence a finance person understands
    next_step: str  # what to do, in plain words
    sync_error_code: str | None = None
    sync_error_message: str | None = None
    existing_qbo_payment_id: str | None = None  # a QBO payment already carrying the reference
    books: Books | None = None  # what QuickBooks already records of the payment (R against A)
    diagnosed_at: AwareDatetime = Field(default_factory=utcnow)

    @property
    def recommended(self) -> RemedyKind | None:
        return self.remedies[0] if self.remedies else None
