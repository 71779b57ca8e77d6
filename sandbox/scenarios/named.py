"""The named scenarios: ``credit-memo``, ``all-causes`` and ``bad-settings``.

``build(name, qbo, cb)`` builds one in both stand-ins and returns its :class:`World`:

- ``credit-memo``: five healthy payments and one that fails because a credit memo was applied
  after the payment run (the $0 Payment).
- ``all-causes``: every cause the bot knows (paid manually, credit memo, deleted and recreated,
  deleted, voided, amount lowered, the ``CB…`` payment already in QBO, a payment over several
  invoices with mixed causes, an inactive customer nothing on the invoices explains), among
  enough healthy payments that a few percent fail; plus one old failure already dismissed and
  two payments waiting for the next sync.
- ``bad-settings``: ``AutoApplyCredit`` on, and over 10% of the payments failing because QBO
  applied new credit memos to invoices the clients had already paid in the portal.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sandbox.cb import CBSandbox
from sandbox.qbo import QBOSandbox
from sandbox.scenarios.seeding import (
    CLIENTS,
    SeededCustomer,
    Seeder,
    company_for,
    next_sync,
    paid_times,
)
from sandbox.scenarios.world import (
    ALREADY_IN_QBO,
    AMOUNT_CHANGED,
    CREDIT_MEMO,
    DELETED,
    INACTIVE_CUSTOMER,
    NONE,
    PAID_MANUALLY,
    RECREATED,
    SCENARIOS,
    VOIDED,
    World,
)


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
    builders: dict[str, Callable[[Seeder, World], None]] = {
        "credit-memo": _credit_memo,
        "all-causes": _all_causes,
        "bad-settings": _bad_settings,
    }
    if name not in builders:
        raise ValueError(f"unknown scenario {name!r}; choose one of {', '.join(SCENARIOS)}")
    now = (now or datetime.now(UTC)).replace(microsecond=0)
    co = company_for(qbo, cb)
    world = World(
        name=name,
        realm_id=co.realm_id,
        company=co,
        cb=cb,
        now=now,
        auto_apply_credit=name == "bad-settings",
        synced_run=run_sync,
    )
    co.preferences.setdefault("SalesFormsPrefs", {})["AutoApplyCredit"] = world.auto_apply_credit
    b = Seeder(co, cb, random.Random(f"{name}:{seed}"), now)
    builders[name](b, world)
    if run_sync:
        b.sync()
        _after_sync(b, world)
    return world


def _healthy(b: Seeder, times: list[datetime], customers: list[SeededCustomer]) -> None:
    for i, paid_at in enumerate(times):
        cust = customers[i % len(customers)]
        roll = b.rng.random()
        if roll < 0.18:
            b.paid_invoice(cust, paid_at, n_invoices=2)
        elif roll < 0.26:
            b.paid_invoice(cust, paid_at, partial=True)
        else:
            b.paid_invoice(cust, paid_at)


def _credit_memo(b: Seeder, world: World) -> None:
    custs = b.add_customers(CLIENTS[:6])
    _healthy(b, paid_times(b.rng, b.now, 5, 6), custs[1:])
    paid_at = (b.now - timedelta(hours=5)).replace(minute=12, second=40)
    p, [inv] = b.paid_invoice(custs[0], paid_at)
    sync_at = next_sync(paid_at)
    b.apply_credit_memo(
        custs[0], inv, b.change_time(p, sync_at), reason="SLA credit - email outage Nov 2"
    )
    world.expect_failure(
        p, CREDIT_MEMO, f"credit memo applied to invoice {inv['DocNumber']} after the payment run"
    )
    world.intended_failure_rate = (Decimal("0.10"), Decimal("0.25"))


def _all_causes(b: Seeder, world: World) -> None:
    custs = b.add_customers(CLIENTS)
    special, regular = custs[:10], custs[10:]
    _healthy(b, paid_times(b.rng, b.now, 236, 6), regular)
    _invoice_change_causes(b, world, special[:6])
    _other_causes(b, world, special[6:9])
    _dismissed_and_waiting(b, world, special[9], regular[:2])
    world.intended_failure_rate = (Decimal("0.02"), Decimal("0.06"))


def _paid_hours_ago(b: Seeder, hours_ago: float) -> datetime:
    """``hours_ago`` before ``b.now``, at a random second (one draw from ``b.rng``)."""
    t = b.now - timedelta(hours=hours_ago)
    return t.replace(second=b.rng.randint(0, 59), microsecond=0)


def _invoice_change_causes(b: Seeder, world: World, customers: list[SeededCustomer]) -> None:
    """Failures 1-6 of ``all-causes``: one invoice of each of ``customers`` (six) changed in
    QBO between its payment and the payment run."""
    # 1. paid manually in QBO (a check) after the payment run
    c = customers[0]
    p, [inv] = b.paid_invoice(c, _paid_hours_ago(b, 50))
    b.pay_manually(c, inv, b.change_time(p, next_sync(p.paid_at)))
    world.expect_failure(p, PAID_MANUALLY, f"invoice {inv['DocNumber']} paid by check in QBO")
    # 2. credit memo applied after the payment run
    c = customers[1]
    p, [inv] = b.paid_invoice(c, _paid_hours_ago(b, 44))
    b.apply_credit_memo(c, inv, b.change_time(p, next_sync(p.paid_at)))
    world.expect_failure(p, CREDIT_MEMO, f"credit memo applied to invoice {inv['DocNumber']}")
    # 3. invoice deleted and recreated with the same number
    c = customers[2]
    p, [inv] = b.paid_invoice(c, _paid_hours_ago(b, 38))
    new = b.recreate_invoice(c, inv, b.change_time(p, next_sync(p.paid_at)))
    world.expect_failure(
        p,
        RECREATED,
        f"invoice {inv['DocNumber']} deleted (Id {inv['Id']}) and recreated (Id {new['Id']})",
    )
    # 4. invoice deleted, no replacement
    c = customers[3]
    p, [inv] = b.paid_invoice(c, _paid_hours_ago(b, 30))
    b.delete_invoice(inv, b.change_time(p, next_sync(p.paid_at)))
    world.expect_failure(p, DELETED, f"invoice {inv['DocNumber']} deleted")
    # 5. invoice voided
    c = customers[4]
    p, [inv] = b.paid_invoice(c, _paid_hours_ago(b, 26))
    b.void_invoice(inv, b.change_time(p, next_sync(p.paid_at)))
    world.expect_failure(p, VOIDED, f"invoice {inv['DocNumber']} voided")
    # 6. invoice amount lowered after the payment run
    c = customers[5]
    p, [inv] = b.paid_invoice(c, _paid_hours_ago(b, 20))
    b.lower_invoice(inv, b.change_time(p, next_sync(p.paid_at)))
    world.expect_failure(
        p, AMOUNT_CHANGED, f"invoice {inv['DocNumber']} lowered after the payment run"
    )


def _other_causes(b: Seeder, world: World, customers: list[SeededCustomer]) -> None:
    """Failures 7-9 of ``all-causes``, one per customer of ``customers`` (three): the
    ``CB…`` payment already in QBO, one payment over three invoices with mixed causes, and
    an inactive customer."""
    # 7. the CB… payment is already in QBO: the first run's answer was lost
    c = customers[0]
    p, [inv] = b.paid_invoice(c, _paid_hours_ago(b, 14))
    b.cb.lose_response_for.add(p.id)
    world.expect_failure(
        p,
        ALREADY_IN_QBO,
        f"{p.reference} recorded in QBO but ConnectBooster lost the answer and retried",
    )
    # 8. one payment over three invoices: credit memo, paid manually, fine
    c = customers[1]
    p, invs = b.paid_invoice(c, _paid_hours_ago(b, 10), n_invoices=3)
    t = b.change_time(p, next_sync(p.paid_at))
    b.apply_credit_memo(c, invs[0], t)
    b.pay_manually(c, invs[1], t + timedelta(minutes=4))
    world.expected_by_invoice[p.id] = {
        str(invs[0]["Id"]): CREDIT_MEMO,
        str(invs[1]["Id"]): PAID_MANUALLY,
        str(invs[2]["Id"]): NONE,
    }
    world.expected_codes[p.id] = "6000"
    world.notes[p.id] = "three invoices: a credit memo on one, a check on another, one fine"
    # 9. a cause the invoices do not explain: the customer was made inactive
    c = customers[2]
    p, [inv] = b.paid_invoice(c, _paid_hours_ago(b, 6))
    b.deactivate(c, b.change_time(p, next_sync(p.paid_at)))
    world.expect_failure(
        p, INACTIVE_CUSTOMER, f"customer {c.name} made inactive; invoice {inv['DocNumber']} intact"
    )


def _dismissed_and_waiting(
    b: Seeder, world: World, dismissed_customer: SeededCustomer, waiting: list[SeededCustomer]
) -> None:
    """The rest of ``all-causes``: an old failure of ``dismissed_customer`` already
    dismissed, and one payment a minute ago from each of ``waiting``, not yet synced."""
    # an old failure someone already dismissed (paid manually, 5 days ago)
    c = dismissed_customer
    old, [inv] = b.paid_invoice(c, _paid_hours_ago(b, 120))
    b.pay_manually(c, inv, b.change_time(old, next_sync(old.paid_at)))
    world.notes[old.id] = "old failure, already dismissed"
    b.dismissed.append(old.id)
    # two payments made a minute ago, waiting for the next run whatever the time: paid in this
    # hour, the next run is next hour; paid in the last one (now is hh:00 or hh:01), it is at
    # hh:02 at the earliest (``next_sync``)
    for k, cust in enumerate(waiting):
        b.paid_invoice(cust, b.now - timedelta(seconds=30 + 40 * k))


def _bad_settings(b: Seeder, world: World) -> None:
    custs = b.add_customers(CLIENTS[:24])
    times = paid_times(b.rng, b.now, 56, 6)
    failing = set(b.rng.sample(range(len(times)), 8))
    for i, paid_at in enumerate(times):
        cust = custs[i % len(custs)]
        p, [inv] = b.paid_invoice(cust, paid_at)
        if i in failing:
            b.apply_credit_memo(
                cust,
                inv,
                b.change_time(p, next_sync(paid_at)),
                reason="Credit - hardware return RMA",
            )
            world.expect_failure(
                p,
                CREDIT_MEMO,
                f"QBO applied a new credit memo to invoice {inv['DocNumber']} automatically",
            )
    world.intended_failure_rate = (Decimal("0.10"), Decimal("0.25"))


def _after_sync(b: Seeder, world: World) -> None:
    """What happens after the runs: a second run for the lost answer, old dismissals."""
    retry = [pid for pid, cause in world.expected.items() if cause == ALREADY_IN_QBO]
    for pid in retry:
        p = b.cb.payments[pid]
        at = (p.sync.last_attempt_at or b.now) + timedelta(hours=1)
        b.cb.sync_local(b.co, at=min(at, b.now), only=[pid])
    for pid in b.dismissed:
        b.cb.dismiss(pid)
