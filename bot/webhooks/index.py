"""Which failures a QuickBooks entity matters to: ``(type, id)`` → payment ids, in Redis.

An open failure depends on the invoices its payment applies to, its customer, and every
QuickBooks object its diagnosis cites (linked payments, credit memos, replacement invoices, a
payment already carrying the reference). A resolved failure whose remedy recreated the receipt
stays indexed under that receipt alone, so that deleting it by hand is noticed (failures
resolved in the last day are looked at each refresh, the last 45 days at the reconciliation).

:func:`refresh_index` brings the index in step with the records: new open failures indexed,
failures no longer open unindexed (or kept under their recreated receipt). It reads only the
records that came or went since the last refresh; ``full=True`` (the reconciliation) reads
every open one.
"""

from __future__ import annotations

from datetime import timedelta

from bot.models import FailureRecord, FailureStatus
from bot.runtime.services import Services
from bot.store.webhooks import WebhookStore, entity_key

RESOLVED_LOOKBACK = timedelta(days=1)
"""Failures resolved this recently are looked at for a recreated receipt at each refresh."""
RESOLVED_LOOKBACK_FULL = timedelta(days=45)
FOLLOWED = frozenset({"Invoice", "Payment", "CreditMemo", "Customer"})


def recreated_receipt(rec: FailureRecord) -> str | None:
    """The QuickBooks payment the record's remedy created, if it created one."""
    if rec.remedy is None:
        return None
    for step in rec.remedy.steps:
        made = step.result.get("qbo_payment_id")
        if made:
            return str(made)
    return None


def dependencies(rec: FailureRecord) -> list[str]:
    """The ``Type:id`` keys ``rec`` is indexed under (see the module docstring)."""
    if rec.status == FailureStatus.RESOLVED:
        receipt = recreated_receipt(rec)
        return [entity_key("Payment", receipt)] if receipt else []
    keys = [entity_key("Invoice", a.qb_invoice_id) for a in rec.payment.applications]
    if rec.payment.customer.qb_customer_id:
        keys.append(entity_key("Customer", rec.payment.customer.qb_customer_id))
    d = rec.diagnosis
    if d is not None:
        if d.existing_qbo_payment_id:
            keys.append(entity_key("Payment", d.existing_qbo_payment_id))
        for f in d.findings:
            keys += [entity_key(e.type, e.id) for e in f.evidence if e.type in FOLLOWED and e.id]
            if f.credit_memo_payment_id:
                keys.append(entity_key("Payment", f.credit_memo_payment_id))
            if f.credit_memo_id:
                keys.append(entity_key("CreditMemo", f.credit_memo_id))
            keys += [entity_key("Payment", c.payment_id) for c in f.credit_applications]
            keys += [entity_key("CreditMemo", c.credit_memo_id) for c in f.credit_applications]
            for inv in [f.replacement_invoice_id, *f.replacement_candidates]:
                if inv:
                    keys.append(entity_key("Invoice", inv))
    receipt = recreated_receipt(rec)
    if receipt:
        keys.append(entity_key("Payment", receipt))
    return list(dict.fromkeys(keys))


async def index_record(store: WebhookStore, rec: FailureRecord, old: list[str]) -> None:
    """Index ``rec`` as it stands (unindexed when nothing of it is followed any more)."""
    deps = dependencies(rec)
    if deps:
        await store.index(rec.payment_id, deps, old)
    else:
        await store.unindex(rec.payment_id, old)


async def refresh_index(services: Services, store: WebhookStore, *, full: bool = False) -> int:
    """Bring the index in step with the records; how many records were (re)indexed."""
    open_ids = set(await services.store.open_ids())
    indexed = await store.indexed()
    back = RESOLVED_LOOKBACK_FULL if full else RESOLVED_LOOKBACK
    resolved = set(await services.store.resolved_ids(services.clock() - back)) - set(indexed)
    to_read = (
        open_ids | set(indexed) | resolved
        if full
        else (open_ids - set(indexed))
        | resolved
        | {p for p, deps in indexed.items() if p not in open_ids and _not_only_receipt(deps)}
    )
    if not to_read:
        return 0
    records = await services.store.get_failures(sorted(to_read))
    found = {r.payment_id for r in records}
    for rec in records:
        await index_record(store, rec, indexed.get(rec.payment_id, []))
    for gone in to_read - found:
        await store.unindex(gone, indexed.get(gone, []))
    return len(records)


def _not_only_receipt(deps: list[str]) -> bool:
    """A failure indexed as open (more than its recreated receipt alone)."""
    return not (len(deps) == 1 and deps[0].startswith("Payment:"))
