"""Scenarios: one consistent world in both sandboxes (QBO and ConnectBooster).

Failures arise the honest way. Invoices are created in the QBO sandbox and the portal
payments are added to the ConnectBooster sandbox as ``pending``; then the QBO-side change is
made (a manual payment, a credit memo applied, a deletion, a void, ...) timed after the
payment's ``paid_at`` and before the next hourly sync; then ConnectBooster's sync runs and
QuickBooks' own rejection sets ``sync.error``. Healthy payments go through the same sync and
end ``synced`` with a real QBO Payment (reference ``CB…``, Undeposited Funds).

``build(name, qbo, cb)`` builds a named world:

- ``credit-memo``: five healthy payments and one that fails because a credit memo was applied
  after the payment run (the $0 Payment).
- ``all-causes``: every cause the bot knows (paid manually, credit memo, deleted and recreated,
  deleted, voided, amount lowered, the ``CB…`` payment already in QBO, a payment over several
  invoices with mixed causes, an inactive customer nothing on the invoices explains), among
  enough healthy payments that a few percent fail; plus one old failure already dismissed and
  two payments waiting for the next sync.
- ``bad-settings``: ``AutoApplyCredit`` on, and over 10% of the payments failing because QBO
  applied new credit memos to invoices the clients had already paid in the portal.

``generate(n, qbo, cb)`` makes ``n`` payments (10,000 and more) for benchmarks: mostly synced,
a realistic share failing across causes.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from cb.models import Application, Customer, Payment, SyncState, SyncStatus
from sandbox.cb import CBSandbox
from sandbox.qbo import QBOSandbox, SandboxCompany

DEFAULT_REALM = "9341453050292510"
COMPANY_NAME = "Brightpath IT Services LLC"
CENT = Decimal("0.01")

# Causes (bot.models.Cause values; the sandbox does not import the bot).
PAID_MANUALLY = "paid-manually"
CREDIT_MEMO = "credit-memo"
RECREATED = "recreated"
DELETED = "deleted"
VOIDED = "voided"
AMOUNT_CHANGED = "amount-changed"
ALREADY_IN_QBO = "already-in-qbo"
UNKNOWN = "unknown"
NONE = "none"

# The QBO fault code each cause's rejection carries.
FAULT_CODES = {
    PAID_MANUALLY: "6000",
    CREDIT_MEMO: "6000",
    RECREATED: "610",
    DELETED: "610",
    VOIDED: "6000",
    AMOUNT_CHANGED: "6000",
    ALREADY_IN_QBO: "6000",
    UNKNOWN: "610",
}

SCENARIOS = ("credit-memo", "all-causes", "bad-settings")

CLIENTS = [
    "Northwind Dental", "Harbor Family Law", "Cedar Ridge Veterinary", "Summit Accounting Group",
    "Bluewater Logistics", "Maple Street Pediatrics", "Pinecrest Realty",
    "Granite Peak Construction",
    "Lakeside Orthodontics", "Riverbend Credit Union", "Oakhurst Physical Therapy",
    "Silver Lake Architects", "Redwood Insurance Agency", "Copperfield Manufacturing",
    "Evergreen Senior Living", "Beacon Hill Chiropractic", "Ironwood Engineering",
    "Willow Creek Animal Hospital", "Sterling & Vance CPAs", "Hartwell Property Management",
    "Blue Heron Marina", "Crescent City Title", "Foxglove Interiors", "Meridian Wealth Partners",
    "Stonebridge Dermatology", "Highland Auto Group", "Clearwater Eye Care", "Brookside Montessori",
    "Ashford Legal Services", "Keystone Plumbing & Heating", "Sequoia Family Medicine",
    "Tidewater Freight", "Prairie Wind Energy", "Juniper Dental Studio",
    "Coastal Carolina Surveying", "Larkspur Financial", "Mission Valley Imaging",
    "Red Rock Title & Escrow", "Birchwood Country Club", "Atlas Precision Machining",
]
FIRST = ["Alder", "Bay", "Canyon", "Delta", "Elm", "Falcon", "Glen", "Harbor", "Indigo",
         "Jasper", "Knoll", "Laurel", "Mesa", "North", "Orchard", "Pioneer", "Quarry", "Ridge",
         "Spruce", "Trinity", "Union", "Vista", "Westfield", "Yarrow"]
KIND = ["Dental", "Law Group", "Veterinary", "CPAs", "Logistics", "Pediatrics", "Realty",
        "Construction", "Orthodontics", "Credit Union", "Physical Therapy", "Architects",
        "Insurance", "Manufacturing", "Medical Group", "Engineering", "Title", "Imaging"]

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
class World:
    """What a scenario built, and what the bot should find.

    ``expected`` maps each failed payment whose invoices share one cause to that cause
    (``bot.models.Cause`` values). A payment over several invoices with different causes is
    in ``expected_by_invoice`` instead: payment id → {QBO invoice id → cause} (``"none"`` for
    an invoice that is fine). ``expected_codes`` is the QBO fault code each failure carries.
    """

    name: str
    realm_id: str
    company: SandboxCompany
    cb: CBSandbox
    now: datetime
    auto_apply_credit: bool
    expected: dict[str, str] = field(default_factory=dict)
    expected_by_invoice: dict[str, dict[str, str]] = field(default_factory=dict)
    expected_codes: dict[str, str] = field(default_factory=dict)
    notes: dict[str, str] = field(default_factory=dict)  # payment id → what happened, in words
    intended_failure_rate: tuple[Decimal, Decimal] = (Decimal(0), Decimal(1))
    synced_run: bool = True  # False: payments left pending, no sync has run yet

    @property
    def failed_ids(self) -> set[str]:
        """Every payment the scenario made fail."""
        return set(self.expected) | set(self.expected_by_invoice)

    def failure_rate(self) -> Decimal:
        """Failed over all payments in the ConnectBooster sandbox now."""
        total = len(self.cb.payments)
        if not total:
            return Decimal(0)
        failed = sum(1 for p in self.cb.payments.values() if p.sync.status == SyncStatus.FAILED)
        return Decimal(failed) / Decimal(total)

    def summary(self) -> str:
        """One line: what is in this world."""
        counts: dict[str, int] = {}
        for p in self.cb.payments.values():
            counts[p.sync.status.value] = counts.get(p.sync.status.value, 0) + 1
        parts = ", ".join(f"{v} {k}" for k, v in sorted(counts.items()))
        return (f"scenario {self.name!r}: {len(self.cb.payments)} payments ({parts}); "
                f"failure rate {self.failure_rate() * 100:.1f}%")


@dataclass
class _Cust:
    qb_id: str
    name: str
    cb_id: str
    seats: int


@dataclass
class _Pending:
    payment: Payment
    sync_at: datetime


class _Builder:
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
        self.customers: list[_Cust] = []
        self.pending: list[_Pending] = []
        self.dismissed: list[str] = []  # payments dismissed after their failed sync

    # ---- customers, invoices, payments ---------------------------------------------
    def customer(self, name: str, at: datetime) -> _Cust:
        body = {
            "DisplayName": name,
            "CompanyName": name,
            "PrimaryEmailAddr": {"Address": f"ap@{_slug(name)}.example"},
        }
        created = self.co.create("Customer", body, at=at)
        cust = _Cust(created["Id"], name, f"cus_{300 + len(self.customers)}",
                     seats=self.rng.randint(6, 60))
        self.customers.append(cust)
        return cust

    def lines(self, cust: _Cust) -> list[tuple[str, int, Decimal]]:
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
        cust: _Cust,
        txn_date: date,
        lines: list[tuple[str, int, Decimal]] | None = None,
        *,
        doc_number: str | None = None,
        at: datetime | None = None,
    ) -> dict[str, Any]:
        lines = lines or self.lines(cust)
        if doc_number is None:
            doc_number = str(self.doc)
            self.doc += 1
        body = {
            "DocNumber": doc_number,
            "TxnDate": txn_date.isoformat(),
            "DueDate": (txn_date + timedelta(days=15)).isoformat(),
            "CustomerRef": {"value": cust.qb_id, "name": cust.name},
            "Line": _invoice_lines(lines, txn_date),
        }
        when = at or datetime.combine(txn_date, time(8, 30), UTC)
        return self.co.create("Invoice", body, at=when)

    def pid(self) -> str:
        while True:
            pid = f"pmt_{self.rng.getrandbits(32):08x}"
            if pid not in self.ids:
                self.ids.add(pid)
                return pid

    def cb_payment(
        self,
        cust: _Cust,
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
                Application(invoice_number=str(inv["DocNumber"]), qb_invoice_id=str(inv["Id"]),
                            amount=a)
                for inv, a in applied
            ],
            sync=SyncState(status=SyncStatus.PENDING),
            updated_at=paid_at,
        )
        self.ref += 1
        self.cb.add_payment(p)
        self.pending.append(_Pending(p, _next_sync(paid_at)))
        return p

    def paid_invoice(
        self, cust: _Cust, paid_at: datetime, *, n_invoices: int = 1, partial: bool = False
    ) -> tuple[Payment, list[dict[str, Any]]]:
        invs = []
        for k in range(n_invoices):
            txn = (paid_at - timedelta(days=self.rng.randint(3, 24) + 30 * k)).date()
            invs.append(self.invoice(cust, txn))
        applied = []
        for inv in invs:
            total = Decimal(str(inv["TotalAmt"]))
            amt = (total * Decimal(self.rng.choice([40, 50, 60])) / 100).quantize(CENT) \
                if partial else total
            applied.append((inv, amt))
        return self.cb_payment(cust, applied, paid_at), invs

    # ---- what people do in QuickBooks between the payment run and the sync ------------
    def change_time(self, p: Payment, sync_at: datetime) -> datetime:
        span = (sync_at - p.paid_at).total_seconds()
        return p.paid_at + timedelta(seconds=int(span * self.rng.uniform(0.2, 0.8)))

    def pay_manually(self, cust: _Cust, inv: dict[str, Any], at: datetime) -> dict[str, Any]:
        amount = Decimal(str(self.co.get("Invoice", inv["Id"])["Balance"]))  # type: ignore[index]
        body = {
            "CustomerRef": {"value": cust.qb_id, "name": cust.name},
            "TotalAmt": amount,
            "TxnDate": at.date().isoformat(),
            "PaymentRefNum": str(self.check_no),
            "PrivateNote": "Check received by mail",
            "Line": [{"Amount": amount,
                      "LinkedTxn": [{"TxnId": inv["Id"], "TxnType": "Invoice"}]}],
        }
        self.check_no += 1
        return self.co.create("Payment", body, at=at)

    def apply_credit_memo(
        self, cust: _Cust, inv: dict[str, Any], at: datetime, *, reason: str | None = None
    ) -> tuple[dict[str, Any], dict[str, Any] | None]:
        """A credit memo for the client, applied to ``inv`` the way QBO records it: a $0
        Payment linking the invoice and the credit memo. Returns (credit memo, $0 payment)."""
        total = Decimal(str(inv["TotalAmt"]))
        credit = (total * Decimal(self.rng.choice([5, 10, 15, 20])) / 100).quantize(
            Decimal("1")).quantize(CENT)
        credit = max(credit, Decimal("25.00"))
        before = Decimal(str(self.co.get("Invoice", inv["Id"])["Balance"]))  # type: ignore[index]
        memo = self.co.create("CreditMemo", {
            "DocNumber": f"CM{inv['DocNumber']}",
            "TxnDate": at.date().isoformat(),
            "CustomerRef": {"value": cust.qb_id, "name": cust.name},
            "Line": _invoice_lines([(reason or "SLA credit - service outage", 1, credit)],
                                   at.date()),
            "PrivateNote": reason or "SLA credit",
        }, at=at)
        after = Decimal(str(self.co.get("Invoice", inv["Id"])["Balance"]))  # type: ignore[index]
        if after != before:  # QBO applied it by itself (AutoApplyCredit)
            return memo, None
        zero = self.co.create("Payment", {
            "CustomerRef": {"value": cust.qb_id, "name": cust.name},
            "TotalAmt": Decimal("0.00"),
            "TxnDate": at.date().isoformat(),
            "Line": [
                {"Amount": credit, "LinkedTxn": [{"TxnId": inv["Id"], "TxnType": "Invoice"}]},
                {"Amount": credit, "LinkedTxn": [{"TxnId": memo["Id"], "TxnType": "CreditMemo"}]},
            ],
        }, at=at + timedelta(seconds=20))
        return memo, zero

    def delete_invoice(self, inv: dict[str, Any], at: datetime) -> None:
        self.co.delete("Invoice", inv["Id"], at=at)

    def recreate_invoice(self, cust: _Cust, inv: dict[str, Any], at: datetime) -> dict[str, Any]:
        self.delete_invoice(inv, at)
        lines = [(ln["Description"], int(ln["SalesItemLineDetail"]["Qty"]),
                  Decimal(str(ln["SalesItemLineDetail"]["UnitPrice"])))
                 for ln in inv["Line"] if ln.get("DetailType") == "SalesItemLineDetail"]
        return self.invoice(cust, date.fromisoformat(inv["TxnDate"]), lines,
                            doc_number=str(inv["DocNumber"]), at=at + timedelta(minutes=3))

    def void_invoice(self, inv: dict[str, Any], at: datetime) -> None:
        self.co.void("Invoice", inv["Id"], at=at)

    def lower_invoice(self, inv: dict[str, Any], at: datetime) -> dict[str, Any]:
        current = self.co.get("Invoice", inv["Id"])
        assert current is not None
        lines = [dict(ln) for ln in current["Line"] if ln.get("DetailType") ==
                 "SalesItemLineDetail"]
        first = dict(lines[0])
        detail = dict(first["SalesItemLineDetail"])
        qty = max(1, int(detail["Qty"]) - self.rng.randint(1, 3))
        detail["Qty"] = qty
        first["SalesItemLineDetail"] = detail
        first["Amount"] = (Decimal(str(detail["UnitPrice"])) * qty).quantize(CENT)
        lines[0] = first
        return self.co.update("Invoice", {
            "Id": current["Id"], "SyncToken": current["SyncToken"], "Line": lines,
            "PrivateNote": "Seat count corrected after offboarding",
        }, at=at)

    def deactivate(self, cust: _Cust, at: datetime) -> None:
        current = self.co.get("Customer", cust.qb_id)
        assert current is not None
        self.co.update("Customer", {"Id": cust.qb_id, "SyncToken": current["SyncToken"],
                                    "Active": False}, at=at)

    # ---- the sync ----------------------------------------------------------------------
    def sync(self) -> None:
        """ConnectBooster's hourly runs for every payment whose run is due by ``now``."""
        due = {x.payment.id: x.sync_at for x in self.pending if x.sync_at <= self.now}
        if due:
            self.cb.sync_local(self.co, at=lambda p: due[p.id], only=due)
        self.pending = [x for x in self.pending if x.sync_at > self.now]


def _slug(name: str) -> str:
    return "".join(c for c in name.lower() if c.isalnum())[:24] or "client"


def _invoice_lines(lines: list[tuple[str, int, Decimal]], txn_date: date) -> list[dict[str, Any]]:
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


def _next_sync(paid_at: datetime) -> datetime:
    """ConnectBooster syncs hourly: the top of the next hour, 2-9 minutes in."""
    top = paid_at.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    return top + timedelta(minutes=2 + paid_at.minute % 8, seconds=paid_at.second)


def _company(qbo: QBOSandbox, cb: CBSandbox) -> SandboxCompany:
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


def _paid_times(rng: random.Random, now: datetime, n: int, days: float) -> list[datetime]:
    """``n`` payment times in the last ``days`` days (business hours mostly), oldest first,
    each at least 70 minutes before ``now`` so its sync run has happened."""
    out = []
    for _ in range(n):
        back = timedelta(seconds=rng.uniform(70 * 60, days * 86400))
        out.append((now - back).replace(microsecond=0))
    return sorted(out)


# ---- the named scenarios ---------------------------------------------------------------------


def build(
    name: str,
    qbo: QBOSandbox,
    cb: CBSandbox,
    *,
    seed: int = 7,
    now: datetime | None = None,
    run_sync: bool = True,
) -> World:
    """Build the scenario ``name`` (one of :data:`SCENARIOS`) in both sandboxes.

    The QBO company is the one ``cb`` syncs into (``cb.qbo_realm``), or the only company of
    ``qbo``, or a new one; ``cb.qbo_realm`` and ``cb.qbo_access_token`` are filled in when
    unset (``cb.qbo_url`` is left to whoever serves the QBO sandbox). With ``run_sync=False``
    the QuickBooks-side changes are made but no sync has run: every payment is ``pending``
    and the next sync run produces the failures."""
    builders: dict[str, Callable[[_Builder, World], None]] = {
        "credit-memo": _credit_memo,
        "all-causes": _all_causes,
        "bad-settings": _bad_settings,
    }
    if name not in builders:
        raise ValueError(f"unknown scenario {name!r}; choose one of {', '.join(SCENARIOS)}")
    now = (now or datetime.now(UTC)).replace(microsecond=0)
    co = _company(qbo, cb)
    world = World(name=name, realm_id=co.realm_id, company=co, cb=cb, now=now,
                  auto_apply_credit=name == "bad-settings", synced_run=run_sync)
    co.preferences.setdefault("SalesFormsPrefs", {})["AutoApplyCredit"] = world.auto_apply_credit
    b = _Builder(co, cb, random.Random(f"{name}:{seed}"), now)
    builders[name](b, world)
    if run_sync:
        b.sync()
        _after_sync(b, world)
    return world


def _fail(world: World, p: Payment, cause: str, note: str) -> None:
    world.expected[p.id] = cause
    world.expected_codes[p.id] = FAULT_CODES[cause]
    world.notes[p.id] = note


def _healthy(b: _Builder, times: list[datetime], customers: list[_Cust]) -> None:
    for i, paid_at in enumerate(times):
        cust = customers[i % len(customers)]
        roll = b.rng.random()
        if roll < 0.18:
            b.paid_invoice(cust, paid_at, n_invoices=2)
        elif roll < 0.26:
            b.paid_invoice(cust, paid_at, partial=True)
        else:
            b.paid_invoice(cust, paid_at)


def _customers(b: _Builder, names: list[str]) -> list[_Cust]:
    start = b.now - timedelta(days=400)
    return [b.customer(n, start + timedelta(days=3 * i)) for i, n in enumerate(names)]


def _credit_memo(b: _Builder, world: World) -> None:
    custs = _customers(b, CLIENTS[:6])
    _healthy(b, _paid_times(b.rng, b.now, 5, 6), custs[1:])
    paid_at = (b.now - timedelta(hours=5)).replace(minute=12, second=40)
    p, [inv] = b.paid_invoice(custs[0], paid_at)
    sync_at = _next_sync(paid_at)
    b.apply_credit_memo(custs[0], inv, b.change_time(p, sync_at),
                        reason="SLA credit - email outage Nov 2")
    _fail(world, p, CREDIT_MEMO,
          f"credit memo applied to invoice {inv['DocNumber']} after the payment run")
    world.intended_failure_rate = (Decimal("0.10"), Decimal("0.25"))


def _all_causes(b: _Builder, world: World) -> None:
    custs = _customers(b, CLIENTS)
    special, regular = custs[:10], custs[10:]
    _healthy(b, _paid_times(b.rng, b.now, 236, 6), regular)

    def paid_at(hours_ago: float) -> datetime:
        t = b.now - timedelta(hours=hours_ago)
        return t.replace(second=b.rng.randint(0, 59), microsecond=0)

    # 1. paid manually in QBO (a check) after the payment run
    c = special[0]
    p, [inv] = b.paid_invoice(c, paid_at(50))
    b.pay_manually(c, inv, b.change_time(p, _next_sync(p.paid_at)))
    _fail(world, p, PAID_MANUALLY, f"invoice {inv['DocNumber']} paid by check in QBO")
    # 2. credit memo applied after the payment run
    c = special[1]
    p, [inv] = b.paid_invoice(c, paid_at(44))
    b.apply_credit_memo(c, inv, b.change_time(p, _next_sync(p.paid_at)))
    _fail(world, p, CREDIT_MEMO, f"credit memo applied to invoice {inv['DocNumber']}")
    # 3. invoice deleted and recreated with the same number
    c = special[2]
    p, [inv] = b.paid_invoice(c, paid_at(38))
    new = b.recreate_invoice(c, inv, b.change_time(p, _next_sync(p.paid_at)))
    _fail(world, p, RECREATED,
          f"invoice {inv['DocNumber']} deleted (Id {inv['Id']}) and recreated (Id {new['Id']})")
    # 4. invoice deleted, no replacement
    c = special[3]
    p, [inv] = b.paid_invoice(c, paid_at(30))
    b.delete_invoice(inv, b.change_time(p, _next_sync(p.paid_at)))
    _fail(world, p, DELETED, f"invoice {inv['DocNumber']} deleted")
    # 5. invoice voided
    c = special[4]
    p, [inv] = b.paid_invoice(c, paid_at(26))
    b.void_invoice(inv, b.change_time(p, _next_sync(p.paid_at)))
    _fail(world, p, VOIDED, f"invoice {inv['DocNumber']} voided")
    # 6. invoice amount lowered after the payment run
    c = special[5]
    p, [inv] = b.paid_invoice(c, paid_at(20))
    b.lower_invoice(inv, b.change_time(p, _next_sync(p.paid_at)))
    _fail(world, p, AMOUNT_CHANGED, f"invoice {inv['DocNumber']} lowered after the payment run")
    # 7. the CB… payment is already in QBO: the first run's answer was lost
    c = special[6]
    p, [inv] = b.paid_invoice(c, paid_at(14))
    b.cb.lose_response_for.add(p.id)
    _fail(world, p, ALREADY_IN_QBO,
          f"{p.reference} recorded in QBO but ConnectBooster lost the answer and retried")
    # 8. one payment over three invoices: credit memo, paid manually, fine
    c = special[7]
    p, invs = b.paid_invoice(c, paid_at(10), n_invoices=3)
    t = b.change_time(p, _next_sync(p.paid_at))
    b.apply_credit_memo(c, invs[0], t)
    b.pay_manually(c, invs[1], t + timedelta(minutes=4))
    world.expected_by_invoice[p.id] = {
        str(invs[0]["Id"]): CREDIT_MEMO, str(invs[1]["Id"]): PAID_MANUALLY,
        str(invs[2]["Id"]): NONE,
    }
    world.expected_codes[p.id] = "6000"
    world.notes[p.id] = "three invoices: a credit memo on one, a check on another, one fine"
    # 9. a cause the invoices do not explain: the customer was made inactive
    c = special[8]
    p, [inv] = b.paid_invoice(c, paid_at(6))
    b.deactivate(c, b.change_time(p, _next_sync(p.paid_at)))
    _fail(world, p, UNKNOWN, f"customer {c.name} made inactive; invoice {inv['DocNumber']} intact")
    # an old failure someone already dismissed (paid manually, 5 days ago)
    c = special[9]
    old, [inv] = b.paid_invoice(c, paid_at(120))
    b.pay_manually(c, inv, b.change_time(old, _next_sync(old.paid_at)))
    world.notes[old.id] = "old failure, already dismissed"
    b.dismissed.append(old.id)
    # two payments made minutes ago, waiting for the next run
    for k, cust in enumerate(regular[:2]):
        b.paid_invoice(cust, b.now - timedelta(minutes=7 + 9 * k))
    world.intended_failure_rate = (Decimal("0.02"), Decimal("0.06"))


def _bad_settings(b: _Builder, world: World) -> None:
    custs = _customers(b, CLIENTS[:24])
    times = _paid_times(b.rng, b.now, 56, 6)
    failing = set(b.rng.sample(range(len(times)), 8))
    for i, paid_at in enumerate(times):
        cust = custs[i % len(custs)]
        p, [inv] = b.paid_invoice(cust, paid_at)
        if i in failing:
            b.apply_credit_memo(cust, inv, b.change_time(p, _next_sync(paid_at)),
                                reason="Credit - hardware return RMA")
            _fail(world, p, CREDIT_MEMO,
                  f"QBO applied a new credit memo to invoice {inv['DocNumber']} automatically")
    world.intended_failure_rate = (Decimal("0.10"), Decimal("0.25"))


def _after_sync(b: _Builder, world: World) -> None:
    """What happens after the runs: a second run for the lost answer, old dismissals."""
    retry = [pid for pid, cause in world.expected.items() if cause == ALREADY_IN_QBO]
    for pid in retry:
        p = b.cb.payments[pid]
        at = (p.sync.last_attempt_at or b.now) + timedelta(hours=1)
        b.cb.sync_local(b.co, at=min(at, b.now), only=[pid])
    for pid in b.dismissed:
        b.cb.dismiss(pid)


# ---- benchmarks ----------------------------------------------------------------------------

GENERATED_CAUSES = [PAID_MANUALLY, CREDIT_MEMO, CREDIT_MEMO, RECREATED, DELETED, VOIDED,
                    AMOUNT_CHANGED, UNKNOWN]


def generate(
    n: int,
    qbo: QBOSandbox,
    cb: CBSandbox,
    *,
    seed: int = 7,
    now: datetime | None = None,
    failure_share: float = 0.03,
    days: float = 28,
) -> World:
    """``n`` payments over the last ``days`` days, about ``failure_share`` of them failing
    across the causes, the rest synced; built in process, fast (10,000 in seconds)."""
    if n < 1:
        raise ValueError("n must be at least 1")
    now = (now or datetime.now(UTC)).replace(microsecond=0)
    co = _company(qbo, cb)
    world = World(name=f"generated-{n}", realm_id=co.realm_id, company=co, cb=cb, now=now,
                  auto_apply_credit=False)
    co.preferences.setdefault("SalesFormsPrefs", {})["AutoApplyCredit"] = False
    b = _Builder(co, cb, random.Random(f"generate:{n}:{seed}"), now)
    n_customers = max(12, n // 25)
    names = [*CLIENTS]
    k = 0
    while len(names) < n_customers:
        names.append(f"{FIRST[k % len(FIRST)]} {KIND[(k // len(FIRST)) % len(KIND)]}"
                     + (f" {k // (len(FIRST) * len(KIND)) + 2}"
                        if k >= len(FIRST) * len(KIND) else ""))
        k += 1
    custs = _customers(b, names[:n_customers])
    closed = 0
    for i, paid_at in enumerate(_paid_times(b.rng, now, n, days)):
        cust = custs[i % len(custs)]
        if b.rng.random() >= failure_share:
            b.paid_invoice(cust, paid_at, n_invoices=2 if b.rng.random() < 0.12 else 1)
            continue
        cause = b.rng.choice(GENERATED_CAUSES)
        if cause == UNKNOWN:
            # a client of its own, closed in QBO: its other payments stay unaffected
            closed += 1
            cust = b.customer(f"{cust.name} (former location {closed})",
                              paid_at - timedelta(days=60))
        p, [inv] = b.paid_invoice(cust, paid_at)
        t = b.change_time(p, _next_sync(paid_at))
        if cause == PAID_MANUALLY:
            b.pay_manually(cust, inv, t)
        elif cause == CREDIT_MEMO:
            b.apply_credit_memo(cust, inv, t)
        elif cause == RECREATED:
            b.recreate_invoice(cust, inv, t)
        elif cause == DELETED:
            b.delete_invoice(inv, t)
        elif cause == VOIDED:
            b.void_invoice(inv, t)
        elif cause == AMOUNT_CHANGED:
            b.lower_invoice(inv, t)
        else:
            b.deactivate(cust, t)
        _fail(world, p, cause, f"generated: {cause}")
    b.sync()
    lo = Decimal(str(failure_share)) / 2
    world.intended_failure_rate = (lo, Decimal(str(failure_share)) * 2 + Decimal("0.005"))
    return world
