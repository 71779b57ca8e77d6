"""Seeding both stand-ins with one consistent history, the honest way.

:class:`Seeder` creates customers and invoices in the QBO company and portal payments in
ConnectBooster as ``pending``; makes the QuickBooks-side changes people make between a
payment run and the next hourly sync (a check recorded by hand, a credit memo applied, an
invoice deleted, recreated, voided or lowered, a customer made inactive); then runs
ConnectBooster's sync in process, so QuickBooks' own rejections set each ``sync.error``.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from cb.models import Application, Customer, Payment, SyncState, SyncStatus
from sandbox.cb import CBSandbox
from sandbox.qbo import QBOSandbox, SandboxCompany

DEFAULT_REALM = "9341453050292510"
COMPANY_NAME = "Brightpath IT Services LLC"
CENT = Decimal("0.01")

CLIENTS = [
    "Northwind Dental",
    "Harbor Family Law",
    "Cedar Ridge Veterinary",
    "Summit Accounting Group",
    "Bluewater Logistics",
    "Maple Street Pediatrics",
    "Pinecrest Realty",
    "Granite Peak Construction",
    "Lakeside Orthodontics",
    "Riverbend Credit Union",
    "Oakhurst Physical Therapy",
    "Silver Lake Architects",
    "Redwood Insurance Agency",
    "Copperfield Manufacturing",
    "Evergreen Senior Living",
    "Beacon Hill Chiropractic",
    "Ironwood Engineering",
    "Willow Creek Animal Hospital",
    "Sterling & Vance CPAs",
    "Hartwell Property Management",
    "Blue Heron Marina",
    "Crescent City Title",
    "Foxglove Interiors",
    "Meridian Wealth Partners",
    "Stonebridge Dermatology",
    "Highland Auto Group",
    "Clearwater Eye Care",
    "Brookside Montessori",
    "Ashford Legal Services",
    "Keystone Plumbing & Heating",
    "Sequoia Family Medicine",
    "Tidewater Freight",
    "Prairie Wind Energy",
    "Juniper Dental Studio",
    "Coastal Carolina Surveying",
    "Larkspur Financial",
    "Mission Valley Imaging",
    "Red Rock Title & Escrow",
    "Birchwood Country Club",
    "Atlas Precision Machining",
]
FIRST = [
    "Alder",
    "Bay",
    "Canyon",
    "Delta",
    "Elm",
    "Falcon",
    "Glen",
    "Harbor",
    "Indigo",
    "Jasper",
    "Knoll",
    "Laurel",
    "Mesa",
    "North",
    "Orchard",
    "Pioneer",
    "Quarry",
    "Ridge",
    "Spruce",
    "Trinity",
    "Union",
    "Vista",
    "Westfield",
    "Yarrow",
]
KIND = [
    "Dental",
    "Law Group",
    "Veterinary",
    "CPAs",
    "Logistics",
    "Pediatrics",
    "Realty",
    "Construction",
    "Orthodontics",
    "Credit Union",
    "Physical Therapy",
    "Architects",
    "Insurance",
    "Manufacturing",
    "Medical Group",
    "Engineering",
    "Title",
    "Imaging",
]

# (description, unit price) of an MSP's monthly lines.
SEAT_SERVICES = [
    ("Managed IT Services - per user", Decimal("125.00")),
    ("Microsoft 365 Business Premium", Decimal("22.00")),
    ("Endpoint Detection & Response", Decimal("8.50")),
    ("Security Awareness Training", Decimal("3.75")),
]
FLAT_SERVICES = [
    ("Backup & Disaster Recovery", Decimal("189.00")),
    ("Firewall Management", Decimal("95.00")),
    ("Server Monitoring", Decimal("149.00")),
    ("Project labor - hourly", Decimal("165.00")),
]


@dataclass
class SeededCustomer:
    """A client in both systems: its QBO id, name, ConnectBooster id and seat count."""

    qb_id: str
    name: str
    cb_id: str
    seats: int


@dataclass
class PendingSync:
    """A portal payment and when ConnectBooster's hourly run picks it up."""

    payment: Payment
    sync_at: datetime


class Seeder:
    """Seeds both sandboxes with consistent customers, invoices and payments."""

    def __init__(
        self, company: SandboxCompany, cb: CBSandbox, rng: random.Random, now: datetime
    ) -> None:
        self.co = company
        self.cb = cb
        self.rng = rng
        self.now = now
        self.doc = 1001 + len(company.all("Invoice"))
        self.ref = 10001 + len(cb.payments)
        self.check_no = 4401
        self.ids: set[str] = set(cb.payments)
        self.customers: list[SeededCustomer] = []
        self.pending: list[PendingSync] = []
        self.dismissed: list[str] = []  # payments dismissed after their failed sync

    # ---- customers, invoices, payments ---------------------------------------------
    def customer(self, name: str, at: datetime) -> SeededCustomer:
        """A customer in QBO (created at ``at``) and its ConnectBooster twin."""
        body = {
            "DisplayName": name,
            "CompanyName": name,
            "PrimaryEmailAddr": {"Address": f"ap@{slug(name)}.example"},
        }
        created = self.co.create("Customer", body, at=at)
        cust = SeededCustomer(
            created["Id"], name, f"cus_{300 + len(self.customers)}", seats=self.rng.randint(6, 60)
        )
        self.customers.append(cust)
        return cust

    def add_customers(self, names: list[str]) -> list[SeededCustomer]:
        """One customer per name, created three days apart from 400 days ago."""
        start = self.now - timedelta(days=400)
        return [self.customer(n, start + timedelta(days=3 * i)) for i, n in enumerate(names)]

    def lines(self, cust: SeededCustomer) -> list[tuple[str, int, Decimal]]:
        """A month's invoice lines for ``cust``: seat services, sometimes a flat one."""
        out: list[tuple[str, int, Decimal]] = []
        for desc, price in self.rng.sample(SEAT_SERVICES, self.rng.randint(1, 3)):
            out.append((desc, cust.seats, price))
        if self.rng.random() < 0.6:
            desc, price = self.rng.choice(FLAT_SERVICES)
            qty = self.rng.randint(2, 9) if desc.startswith("Project") else 1
            out.append((desc, qty, price))
        return out

    def invoice(
        self,
        cust: SeededCustomer,
        txn_date: date,
        lines: list[tuple[str, int, Decimal]] | None = None,
        *,
        doc_number: str | None = None,
        at: datetime | None = None,
    ) -> dict[str, Any]:
        """An invoice in QBO dated ``txn_date`` (the next document number unless given)."""
        lines = lines or self.lines(cust)
        if doc_number is None:
            doc_number = str(self.doc)
            self.doc += 1
        body = {
            "DocNumber": doc_number,
            "TxnDate": txn_date.isoformat(),
            "DueDate": (txn_date + timedelta(days=15)).isoformat(),
            "CustomerRef": {"value": cust.qb_id, "name": cust.name},
            "Line": invoice_lines(lines, txn_date),
        }
        when = at or datetime.combine(txn_date, time(8, 30), UTC)
        return self.co.create("Invoice", body, at=when)

    def pid(self) -> str:
        """A new, unused ConnectBooster payment id."""
        while True:
            pid = f"pmt_{self.rng.getrandbits(32):08x}"
            if pid not in self.ids:
                self.ids.add(pid)
                return pid

    def cb_payment(
        self,
        cust: SeededCustomer,
        applied: list[tuple[dict[str, Any], Decimal]],
        paid_at: datetime,
    ) -> Payment:
        """A portal payment, pending, applied to QBO invoices (amounts in cents)."""
        amount = sum((a for _, a in applied), Decimal("0.00"))
        p = Payment(
            id=self.pid(),
            reference=f"CB{self.ref}",
            customer=Customer(id=cust.cb_id, name=cust.name, qb_customer_id=cust.qb_id),
            amount=amount,
            currency="USD",
            method=self.rng.choice(["card", "card", "ach", "ach", "ach"]),
            paid_at=paid_at,
            applications=[
                Application(
                    invoice_number=str(inv["DocNumber"]), qb_invoice_id=str(inv["Id"]), amount=a
                )
                for inv, a in applied
            ],
            sync=SyncState(status=SyncStatus.PENDING),
            updated_at=paid_at,
        )
        self.ref += 1
        self.cb.add_payment(p)
        self.pending.append(PendingSync(p, next_sync(paid_at)))
        return p

    def paid_invoice(
        self, cust: SeededCustomer, paid_at: datetime, *, n_invoices: int = 1, partial: bool = False
    ) -> tuple[Payment, list[dict[str, Any]]]:
        """Invoices for ``cust`` and one portal payment applied to them (all of each,
        or part with ``partial``): the payment and its invoices."""
        invs = []
        for k in range(n_invoices):
            txn = (paid_at - timedelta(days=self.rng.randint(3, 24) + 30 * k)).date()
            invs.append(self.invoice(cust, txn))
        applied = []
        for inv in invs:
            total = Decimal(str(inv["TotalAmt"]))
            amt = (
                (total * Decimal(self.rng.choice([40, 50, 60])) / 100).quantize(CENT)
                if partial
                else total
            )
            applied.append((inv, amt))
        return self.cb_payment(cust, applied, paid_at), invs

    # ---- what people do in QuickBooks between the payment run and the sync ------------
    def change_time(self, p: Payment, sync_at: datetime) -> datetime:
        """A time between the payment and its sync run, when QuickBooks changes."""
        span = (sync_at - p.paid_at).total_seconds()
        return p.paid_at + timedelta(seconds=int(span * self.rng.uniform(0.2, 0.8)))

    def pay_manually(
        self, cust: SeededCustomer, inv: dict[str, Any], at: datetime
    ) -> dict[str, Any]:
        """A check recorded in QBO for the invoice's whole balance."""
        amount = Decimal(str(self.co.get("Invoice", inv["Id"])["Balance"]))  # type: ignore[index]
        body = {
            "CustomerRef": {"value": cust.qb_id, "name": cust.name},
            "TotalAmt": amount,
            "TxnDate": at.date().isoformat(),
            "PaymentRefNum": str(self.check_no),
            "PrivateNote": "Check received by mail",
            "Line": [{"Amount": amount, "LinkedTxn": [{"TxnId": inv["Id"], "TxnType": "Invoice"}]}],
        }
        self.check_no += 1
        return self.co.create("Payment", body, at=at)

    def apply_credit_memo(
        self, cust: SeededCustomer, inv: dict[str, Any], at: datetime, *, reason: str | None = None
    ) -> tuple[dict[str, Any], dict[str, Any] | None]:
        """A credit memo for the client, applied to ``inv`` the way QBO records it: a $0
        Payment linking the invoice and the credit memo. Returns (credit memo, $0 payment)."""
        total = Decimal(str(inv["TotalAmt"]))
        credit = (
            (total * Decimal(self.rng.choice([5, 10, 15, 20])) / 100)
            .quantize(Decimal("1"))
            .quantize(CENT)
        )
        credit = max(credit, Decimal("25.00"))
        before = Decimal(str(self.co.get("Invoice", inv["Id"])["Balance"]))  # type: ignore[index]
        memo = self.co.create(
            "CreditMemo",
            {
                "DocNumber": f"CM{inv['DocNumber']}",
                "TxnDate": at.date().isoformat(),
                "CustomerRef": {"value": cust.qb_id, "name": cust.name},
                "Line": invoice_lines(
                    [(reason or "SLA credit - service outage", 1, credit)], at.date()
                ),
                "PrivateNote": reason or "SLA credit",
            },
            at=at,
        )
        after = Decimal(str(self.co.get("Invoice", inv["Id"])["Balance"]))  # type: ignore[index]
        if after != before:  # QBO applied it by itself (AutoApplyCredit)
            return memo, None
        zero = self.co.create(
            "Payment",
            {
                "CustomerRef": {"value": cust.qb_id, "name": cust.name},
                "TotalAmt": Decimal("0.00"),
                "TxnDate": at.date().isoformat(),
                "Line": [
                    {"Amount": credit, "LinkedTxn": [{"TxnId": inv["Id"], "TxnType": "Invoice"}]},
                    {
                        "Amount": credit,
                        "LinkedTxn": [{"TxnId": memo["Id"], "TxnType": "CreditMemo"}],
                    },
                ],
            },
            at=at + timedelta(seconds=20),
        )
        return memo, zero

    def delete_invoice(self, inv: dict[str, Any], at: datetime) -> None:
        """The invoice hard-deleted in QBO."""
        self.co.delete("Invoice", inv["Id"], at=at)

    def recreate_invoice(
        self, cust: SeededCustomer, inv: dict[str, Any], at: datetime
    ) -> dict[str, Any]:
        """The invoice deleted, then recreated with the same number and lines."""
        self.delete_invoice(inv, at)
        lines = [
            (
                ln["Description"],
                int(ln["SalesItemLineDetail"]["Qty"]),
                Decimal(str(ln["SalesItemLineDetail"]["UnitPrice"])),
            )
            for ln in inv["Line"]
            if ln.get("DetailType") == "SalesItemLineDetail"
        ]
        return self.invoice(
            cust,
            date.fromisoformat(inv["TxnDate"]),
            lines,
            doc_number=str(inv["DocNumber"]),
            at=at + timedelta(minutes=3),
        )

    def void_invoice(self, inv: dict[str, Any], at: datetime) -> None:
        """The invoice voided in QBO."""
        self.co.void("Invoice", inv["Id"], at=at)

    def lower_invoice(self, inv: dict[str, Any], at: datetime) -> dict[str, Any]:
        """The invoice's first line lowered by one to three seats."""
        current = self.co.get("Invoice", inv["Id"])
        assert current is not None
        lines = [
            dict(ln) for ln in current["Line"] if ln.get("DetailType") == "SalesItemLineDetail"
        ]
        first = dict(lines[0])
        detail = dict(first["SalesItemLineDetail"])
        qty = max(1, int(detail["Qty"]) - self.rng.randint(1, 3))
        detail["Qty"] = qty
        first["SalesItemLineDetail"] = detail
        first["Amount"] = (Decimal(str(detail["UnitPrice"])) * qty).quantize(CENT)
        lines[0] = first
        return self.co.update(
            "Invoice",
            {
                "Id": current["Id"],
                "SyncToken": current["SyncToken"],
                "Line": lines,
                "PrivateNote": "Seat count corrected after offboarding",
            },
            at=at,
        )

    def deactivate(self, cust: SeededCustomer, at: datetime) -> None:
        """The customer made inactive in QBO."""
        current = self.co.get("Customer", cust.qb_id)
        assert current is not None
        self.co.update(
            "Customer",
            {"Id": cust.qb_id, "SyncToken": current["SyncToken"], "Active": False},
            at=at,
        )

    # ---- the sync ----------------------------------------------------------------------
    def sync(self) -> None:
        """ConnectBooster's hourly runs for every payment whose run is due by ``now``."""
        due = {x.payment.id: x.sync_at for x in self.pending if x.sync_at <= self.now}
        if due:
            self.cb.sync_local(self.co, at=lambda p: due[p.id], only=due)
        self.pending = [x for x in self.pending if x.sync_at > self.now]


def slug(name: str) -> str:
    """A client's name squeezed into an e-mail domain label."""
    return "".join(c for c in name.lower() if c.isalnum())[:24] or "client"


def invoice_lines(lines: list[tuple[str, int, Decimal]], txn_date: date) -> list[dict[str, Any]]:
    """QBO sales lines for ``(description, quantity, unit price)``, dated by month."""
    month = txn_date.strftime("%B %Y")
    return [
        {
            "Id": str(i + 1),
            "LineNum": i + 1,
            "Description": desc if desc.startswith(("Project", "SLA")) else f"{desc} - {month}",
            "Amount": (price * qty).quantize(CENT),
            "DetailType": "SalesItemLineDetail",
            "SalesItemLineDetail": {
                "ItemRef": {"value": str(10 + i), "name": desc.split(" - ")[0]},
                "Qty": qty,
                "UnitPrice": price,
            },
        }
        for i, (desc, qty, price) in enumerate(lines)
    ]


def next_sync(paid_at: datetime) -> datetime:
    """ConnectBooster syncs hourly: the top of the next hour, 2-9 minutes in."""
    top = paid_at.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    return top + timedelta(minutes=2 + paid_at.minute % 8, seconds=paid_at.second)


def company_for(qbo: QBOSandbox, cb: CBSandbox) -> SandboxCompany:
    """The company the ConnectBooster sandbox syncs into (created when there is none)."""
    if cb.qbo_realm:
        co = qbo.companies.get(cb.qbo_realm) or qbo.add_company(cb.qbo_realm, COMPANY_NAME)
    elif len(qbo.companies) == 1:
        co = next(iter(qbo.companies.values()))
    else:
        co = qbo.add_company(DEFAULT_REALM, COMPANY_NAME)
    realm = co.realm_id
    cb.qbo_realm = realm
    if cb.qbo_access_token is None:
        cb.qbo_access_token = lambda: qbo.issue_access_token(realm)
    return co


def paid_times(rng: random.Random, now: datetime, n: int, days: float) -> list[datetime]:
    """``n`` payment times in the last ``days`` days (business hours mostly), oldest first,
    each at least 70 minutes before ``now`` so its sync run has happened."""
    out = []
    for _ in range(n):
        back = timedelta(seconds=rng.uniform(70 * 60, days * 86400))
        out.append((now - back).replace(microsecond=0))
    return sorted(out)
