"""Books for the books-equation test, built honestly in the stand-ins and read over HTTP.

A ``Desk`` seeds one QuickBooks company (the QBO stand-in) and one ConnectBooster portal: a
customer, invoices, the portal payment (pending), then what people do in QuickBooks around the
payment run (hand payments, credit memos, deletions, voids, edits, deactivation), then
ConnectBooster's own sync, which fails on QuickBooks' own refusal. ``Desk.fetch`` reads the
payment back with the real ``CBClient`` and the facts with the real ``QBOClient``;
``apply_plan`` sends a plan's writes with those clients; ``recorded_for`` is the test's own
count of what QuickBooks records for the payment (the oracle the equation is checked with).
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from pydantic import SecretStr

from bot.diagnosis import diagnose, fetch_facts
from bot.diagnosis.facts import QBOFacts
from bot.models import Diagnosis, FailureRecord, RemedyPlan, WriteKind
from cb.client import CBClient
from cb.models import Application, Customer, Payment, SyncState, SyncStatus
from qb.client import QBOClient
from qb.models import Customer as QBCustomer
from qb.models import Payment as QBPayment
from sandbox.cb import CBSandbox
from sandbox.qbo import SandboxCompany
from sandbox.serving import serve
from tests.qbo_fixtures import start_qbo

CB_KEY = "cb-books-key"
MIN = timedelta(minutes=1)


def norm(ref: str | None) -> str:
    """A reference ignoring case, spaces and punctuation (the test's own, for the oracle)."""
    return re.sub(r"[^0-9a-z]", "", (ref or "").lower())


@dataclass
class Desk:
    """One company and one portal, seeded around one payment run at ``paid_at``."""

    company: SandboxCompany
    cb_sbx: CBSandbox
    qbo: QBOClient
    cb: CBClient
    paid_at: datetime
    ids: dict[str, str] = field(default_factory=dict)  # label -> QBO id
    same_money: dict[str, Decimal] = field(default_factory=dict)  # hand payment -> part
    customer_id: str = ""
    payment: Payment | None = None

    # ---- QuickBooks ----------------------------------------------------------------------
    def customer(self, name: str = "Northwind", currency: str | None = None) -> str:
        body: dict[str, Any] = {"DisplayName": name}
        if currency:
            body["CurrencyRef"] = {"value": currency}
        made = self.company.create("Customer", body, at=self.paid_at - timedelta(days=90))
        self.customer_id = str(made["Id"])
        return self.customer_id

    def invoice(
        self, label: str, amount: str, *, doc: str | None = None, at: datetime | None = None
    ) -> str:
        body: dict[str, Any] = {
            "CustomerRef": {"value": self.customer_id},
            "Line": [
                {
                    "Amount": Decimal(amount),
                    "DetailType": "SalesItemLineDetail",
                    "SalesItemLineDetail": {"ItemRef": {"value": "1"}},
                }
            ],
        }
        if doc:
            body["DocNumber"] = doc
        made = self.company.create("Invoice", body, at=at or self.paid_at - timedelta(days=9))
        self.ids[label] = str(made["Id"])
        return self.ids[label]

    def credit_memo(self, label: str, amount: str) -> str:
        made = self.company.create(
            "CreditMemo",
            {
                "CustomerRef": {"value": self.customer_id},
                "Line": [
                    {
                        "Amount": Decimal(amount),
                        "DetailType": "SalesItemLineDetail",
                        "SalesItemLineDetail": {"ItemRef": {"value": "1"}},
                    }
                ],
            },
            at=self.paid_at - timedelta(days=2),
        )
        self.ids[label] = str(made["Id"])
        return self.ids[label]

    def qbo_payment(
        self,
        label: str,
        lines: list[tuple[str, str]],
        *,
        total: str,
        ref: str | None = "4401",
        after: timedelta = 20 * MIN,
        same_money: str | None = None,
        note: str | None = None,
    ) -> str:
        """A QBO payment entered ``after`` the run (negative: before), its lines as
        ``(invoice or credit memo label, amount)``; ``same_money``: the part of it the test
        counts as this payment's money."""
        body: dict[str, Any] = {
            "CustomerRef": {"value": self.customer_id},
            "TotalAmt": Decimal(total),
            "Line": [
                {
                    "Amount": Decimal(a),
                    "LinkedTxn": [
                        {
                            "TxnId": self.ids[lbl],
                            "TxnType": "CreditMemo" if lbl.startswith("cm") else "Invoice",
                        }
                    ],
                }
                for lbl, a in lines
            ],
        }
        if ref:
            body["PaymentRefNum"] = ref
        if note:
            body["PrivateNote"] = note
        made = self.company.create("Payment", body, at=self.paid_at + after)
        self.ids[label] = str(made["Id"])
        if same_money is not None:
            self.same_money[self.ids[label]] = Decimal(same_money)
        return self.ids[label]

    def edit(self, what: str, label: str, amount: str | None = None) -> str | None:
        """``delete``, ``void``, ``lower`` (to ``amount``) or ``recreate`` an invoice after
        the run; ``recreate`` returns the replacement's id (label ``<label>-new``)."""
        at = self.paid_at + 15 * MIN
        inv_id = self.ids[label]
        if what == "delete":
            self.company.delete("Invoice", inv_id, at=at)
        elif what == "void":
            self.company.void("Invoice", inv_id, at=at)
        elif what == "lower":
            cur = self.company.get("Invoice", inv_id)
            assert cur is not None and amount is not None
            line = dict(cur["Line"][0], Amount=Decimal(amount))
            self.company.update(
                "Invoice", {"Id": inv_id, "SyncToken": cur["SyncToken"], "Line": [line]}, at=at
            )
        elif what == "recreate":
            cur = self.company.get("Invoice", inv_id)
            assert cur is not None
            self.company.delete("Invoice", inv_id, at=at)
            return self.invoice(
                f"{label}-new", str(cur["TotalAmt"]), doc=cur["DocNumber"], at=at + 3 * MIN
            )
        return None

    def deactivate(self) -> None:
        cur = self.company.get("Customer", self.customer_id)
        assert cur is not None
        self.company.update(
            "Customer",
            {"Id": self.customer_id, "SyncToken": cur["SyncToken"], "Active": False},
            at=self.paid_at + 10 * MIN,
        )

    # ---- ConnectBooster ------------------------------------------------------------------
    def cb_payment(
        self,
        amount: str,
        apps: list[tuple[str, str]],
        *,
        ref: str = "CB10234",
        currency: str = "USD",
    ) -> Payment:
        """The portal payment, pending, applied to ``(invoice label, amount)``."""
        docs = {str(i["Id"]): str(i["DocNumber"]) for i in self.company.all("Invoice")}
        p = Payment(
            id="pmt_books",
            reference=ref,
            amount=Decimal(amount),
            currency=currency,
            customer=Customer(id="cus_1", name="Northwind", qb_customer_id=self.customer_id),
            paid_at=self.paid_at,
            method="card",
            applications=[
                Application(
                    qb_invoice_id=self.ids[lbl],
                    invoice_number=docs.get(self.ids[lbl], lbl),
                    amount=Decimal(a),
                )
                for lbl, a in apps
            ],
            sync=SyncState(status=SyncStatus.PENDING),
            updated_at=self.paid_at,
        )
        self.payment = self.cb_sbx.add_payment(p)
        return p

    def sync(self, *, lose_response: bool = False) -> None:
        """ConnectBooster's hourly run after the payment: it fails on QuickBooks' refusal."""
        assert self.payment is not None
        if lose_response:
            self.cb_sbx.lose_response_for.add(self.payment.id)
        self.cb_sbx.sync_local(self.company, at=self.paid_at + 60 * MIN, only=[self.payment.id])

    # ---- reading back --------------------------------------------------------------------
    async def fetch(self) -> tuple[Payment, QBOFacts, Diagnosis]:
        """The payment from ConnectBooster, its facts from QuickBooks, its diagnosis."""
        assert self.payment is not None
        payment = await self.cb.get_payment(self.payment.id)
        facts = await fetch_facts(self.qbo, [payment])
        return payment, facts, diagnose(payment, facts)

    def recorded_for(self) -> Decimal:
        """The oracle: money QuickBooks records for the payment — its reference's or the
        bot's payments, whole, and the hand payments' parts the test declared."""
        assert self.payment is not None
        total = Decimal(0)
        for p in self.company.all("Payment"):
            own = norm(p.get("PaymentRefNum")) == norm(
                self.payment.reference
            ) or f"[fp:{self.payment.id}]" in (p.get("PrivateNote") or "")
            if own:
                total += Decimal(str(p["TotalAmt"]))
            elif str(p["Id"]) in self.same_money:
                total += self.same_money[str(p["Id"])]
        return total

    def balance(self, label: str) -> Decimal:
        inv = self.company.get("Invoice", self.ids[label])
        assert inv is not None
        return Decimal(str(inv["Balance"]))


async def apply_plan(desk: Desk, plan: RemedyPlan) -> dict[str, Any]:
    """Send the plan's writes in order with the real clients; the created payment's body as
    QuickBooks answered it (empty when none was created)."""
    created: dict[str, Any] = {}
    for n, w in enumerate(plan.writes):
        rid = f"fp-eq-{plan.digest()}-{n}"
        body = w.body or {}
        if w.kind == WriteKind.CB_DISMISS:
            await desk.cb.dismiss_sync(plan.payment_id)
        elif w.kind == WriteKind.CB_DELETE:
            await desk.cb.delete_history(plan.payment_id)
        elif w.kind == WriteKind.CB_RESYNC:
            await desk.cb.resync(plan.payment_id)
        elif w.kind == WriteKind.QBO_CREATE_PAYMENT:
            made = await desk.qbo.create_payment(QBPayment.model_validate(body), request_id=rid)
            created = made.model_dump(by_alias=True, exclude_none=True)
        elif w.kind == WriteKind.QBO_UPDATE_PAYMENT:
            await desk.qbo.update(QBPayment.model_validate(body), request_id=rid)
        elif w.kind == WriteKind.QBO_DELETE_PAYMENT:
            await desk.qbo.delete_payment(str(w.target_id), str(body["SyncToken"]), request_id=rid)
        elif w.kind == WriteKind.QBO_UPDATE_CUSTOMER:
            await desk.qbo.update(QBCustomer.model_validate(body), request_id=rid)
    return created


def failure(payment: Payment, diagnosis: Diagnosis) -> FailureRecord:
    return FailureRecord(payment_id=payment.id, payment=payment, diagnosis=diagnosis)


@asynccontextmanager
async def desk_at(paid_at: datetime) -> AsyncIterator[Desk]:
    """A fresh QBO stand-in and ConnectBooster portal on port 0, with real clients."""
    async with start_qbo() as env:
        cb_sbx = CBSandbox(api_key=CB_KEY)
        runner, url = await serve(cb_sbx.make_app())
        try:
            cb = CBClient(
                env.session,
                base_url=url,
                api_key=SecretStr(CB_KEY),
                backoff_base=0.001,
                backoff_cap=0.01,
            )
            yield Desk(env.company, cb_sbx, env.client, cb, paid_at)
        finally:
            await runner.cleanup()
