"""Generated worlds for benchmarks: ``generate(n, qbo, cb)`` makes ``n`` payments (10,000
and more, in seconds), mostly synced, a realistic share failing across causes."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sandbox.cb import CBSandbox
from sandbox.qbo import QBOSandbox
from sandbox.scenarios.seeding import (
    CLIENTS,
    FIRST,
    KIND,
    Seeder,
    company_for,
    next_sync,
    paid_times,
)
from sandbox.scenarios.world import (
    AMOUNT_CHANGED,
    CREDIT_MEMO,
    DELETED,
    INACTIVE_CUSTOMER,
    PAID_MANUALLY,
    RECREATED,
    VOIDED,
    World,
)

GENERATED_CAUSES = [
    PAID_MANUALLY,
    CREDIT_MEMO,
    CREDIT_MEMO,
    RECREATED,
    DELETED,
    VOIDED,
    AMOUNT_CHANGED,
    INACTIVE_CUSTOMER,
]


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
    co = company_for(qbo, cb)
    world = World(
        name=f"generated-{n}",
        realm_id=co.realm_id,
        company=co,
        cb=cb,
        now=now,
        auto_apply_credit=False,
    )
    co.preferences.setdefault("SalesFormsPrefs", {})["AutoApplyCredit"] = False
    b = Seeder(co, cb, random.Random(f"generate:{n}:{seed}"), now)
    n_customers = max(12, n // 25)
    names = [*CLIENTS]
    k = 0
    while len(names) < n_customers:
        names.append(
            f"{FIRST[k % len(FIRST)]} {KIND[(k // len(FIRST)) % len(KIND)]}"
            + (f" {k // (len(FIRST) * len(KIND)) + 2}" if k >= len(FIRST) * len(KIND) else "")
        )
        k += 1
    custs = b.add_customers(names[:n_customers])
    closed = 0
    for i, paid_at in enumerate(paid_times(b.rng, now, n, days)):
        cust = custs[i % len(custs)]
        if b.rng.random() >= failure_share:
            b.paid_invoice(cust, paid_at, n_invoices=2 if b.rng.random() < 0.12 else 1)
            continue
        cause = b.rng.choice(GENERATED_CAUSES)
        if cause == INACTIVE_CUSTOMER:
            # a client of its own, closed in QBO: its other payments stay unaffected
            closed += 1
            cust = b.customer(
                f"{cust.name} (former location {closed})", paid_at - timedelta(days=60)
            )
        p, [inv] = b.paid_invoice(cust, paid_at)
        t = b.change_time(p, next_sync(paid_at))
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
        world.expect_failure(p, cause, f"generated: {cause}")
    b.sync()
    lo = Decimal(str(failure_share)) / 2
    world.intended_failure_rate = (lo, Decimal(str(failure_share)) * 2 + Decimal("0.005"))
    return world
