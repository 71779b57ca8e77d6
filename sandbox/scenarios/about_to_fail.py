"""A world for "about to fail" (issue 17): ConnectBooster payments not yet synced
(``pending``), and, once the bot watches, changes planted in QuickBooks on their invoices —
some that would make the next sync fail (paid by hand, a credit memo applied, voided,
deleted, the amount lowered), some harmless (a note, the customer's e-mail, another invoice of
the same customer paid, a small credit on an invoice the payment pays only part of).

The truth is not labelled by hand: after the bot has warned, the caller runs ConnectBooster's
real sync (:func:`run_sync`) and reads which payments failed.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sandbox.cb import CBSandbox
from sandbox.qbo import QBOSandbox
from sandbox.scenarios.seeding import CLIENTS, SeededCustomer, Seeder, company_for
from sandbox.scenarios.world import World

HARMFUL = ("paid-manually", "credit-memo", "voided", "deleted", "lowered")
HARMLESS = ("note", "customer-email", "other-invoice-paid", "none")


@dataclass
class PendingBooks:
    """What :func:`pending_world` built: the world, its seeder and the pending payments'
    customers; ``planted`` (payment id → kind) once :func:`plant` ran."""

    world: World
    seeder: Seeder
    customers: dict[str, SeededCustomer]  # payment id → its customer
    planted: dict[str, str] = field(default_factory=dict)


def pending_world(
    n: int, qbo: QBOSandbox, cb: CBSandbox, *, seed: int = 7, now: datetime | None = None
) -> PendingBooks:
    """``n`` pending portal payments over a dozen customers (some over two invoices, some
    paying part of an invoice), nothing changed yet."""
    now = (now or datetime.now(UTC)).replace(microsecond=0)
    co = company_for(qbo, cb)
    world = World(
        name=f"about-to-fail-{n}",
        realm_id=co.realm_id,
        company=co,
        cb=cb,
        now=now,
        auto_apply_credit=False,
        synced_run=False,
    )
    co.preferences.setdefault("SalesFormsPrefs", {})["AutoApplyCredit"] = False
    b = Seeder(co, cb, random.Random(f"about-to-fail:{n}:{seed}"), now)
    custs = b.add_customers(CLIENTS[: max(12, min(len(CLIENTS), n // 3))])
    owners: dict[str, SeededCustomer] = {}
    for i in range(n):
        cust = custs[i % len(custs)]
        roll = b.rng.random()
        paid_at = now - timedelta(minutes=30 + i)
        p, _ = b.paid_invoice(
            cust, paid_at, n_invoices=2 if roll < 0.15 else 1, partial=0.15 <= roll < 0.3
        )
        owners[p.id] = cust
    return PendingBooks(world, b, owners)


def _change(books: PendingBooks, pid: str, kind: str, at: datetime) -> None:
    b, co = books.seeder, books.world.company
    p = books.world.cb.payments[pid]
    cust = books.customers[pid]
    inv = co.get("Invoice", p.applications[0].qb_invoice_id)
    assert inv is not None
    if kind == "paid-manually":
        b.pay_manually(cust, inv, at)
    elif kind == "credit-memo":
        b.apply_credit_memo(cust, inv, at)
    elif kind == "voided":
        b.void_invoice(inv, at)
    elif kind == "deleted":
        b.delete_invoice(inv, at)
    elif kind == "lowered":
        b.lower_invoice(inv, at)
    elif kind == "note":
        co.update(
            "Invoice",
            {
                "Id": inv["Id"],
                "SyncToken": inv["SyncToken"],
                "CustomerMemo": {"value": "Thank you!"},
            },
            at=at,
        )
    elif kind == "customer-email":
        c: dict[str, Any] | None = co.get("Customer", cust.qb_id)
        assert c is not None
        body = {
            "Id": c["Id"],
            "SyncToken": c["SyncToken"],
            "PrimaryEmailAddr": {"Address": "billing@example.com"},
        }
        co.update("Customer", body, at=at)
    elif kind == "other-invoice-paid":
        other = b.invoice(cust, at.date())
        b.pay_manually(cust, other, at)


def plant(books: PendingBooks, *, seed: int = 11, harmful_share: float = 0.5) -> dict[str, str]:
    """One change per pending payment (about ``harmful_share`` of them from :data:`HARMFUL`),
    made now; payment id → the kind planted."""
    rng = random.Random(seed)
    now = books.world.company.clock()
    for i, pid in enumerate(sorted(books.customers)):
        kinds = HARMFUL if rng.random() < harmful_share else HARMLESS
        kind = rng.choice(kinds)
        _change(books, pid, kind, now + timedelta(seconds=i))
        books.planted[pid] = kind
    return books.planted


def run_sync(books: PendingBooks) -> dict[str, bool]:
    """ConnectBooster's sync run over the pending payments: payment id → it failed."""
    cb = books.world.cb
    ids = list(books.customers)
    cb.sync_local(books.world.company, only=ids)
    return {pid: cb.payments[pid].sync.status.value == "failed" for pid in ids}


def precision_recall(warned: set[str], failed: set[str]) -> tuple[Decimal, Decimal]:
    """(precision, recall) of the warnings against the payments that failed."""
    hit = len(warned & failed)
    precision = Decimal(hit) / len(warned) if warned else Decimal(1)
    recall = Decimal(hit) / len(failed) if failed else Decimal(1)
    return precision, recall
