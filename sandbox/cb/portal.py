"""ConnectBooster's portal held in memory: the payments, their sync state, and the actions
the contract offers on them (dismiss, delete from history, resync).

:class:`CBPortal` is the state the ConnectBooster stand-in serves and its sync run changes;
it also knows where that sync writes (``qbo_url``, ``qbo_realm``, ``qbo_access_token``) and
the QBO Payment it writes for a portal payment (:meth:`CBPortal.qbo_payment_body`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from cb.models import Payment, SyncError, SyncState, SyncStatus

UNDEPOSITED_FUNDS = "Undeposited Funds"


def utcnow() -> datetime:
    """Now, in UTC (the portal's default clock)."""
    return datetime.now(UTC)


class CBPortal:
    """ConnectBooster's payments and the contract's actions on them."""

    def __init__(
        self,
        *,
        qbo_url: str | None = None,
        qbo_realm: str | None = None,
        qbo_access_token: Callable[[], str] | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.qbo_url = qbo_url.rstrip("/") if qbo_url else None
        self.qbo_realm = qbo_realm
        self.qbo_access_token = qbo_access_token
        self.clock: Callable[[], datetime] = clock or utcnow
        self.payments: dict[str, Payment] = {}
        self.deleted: dict[str, Payment] = {}  # history items removed with "Delete"
        self.lose_response_for: set[str] = set()
        self.sync_runs = 0

    # ------------------------------------------------------------ seeding

    def add_payment(self, payment: Payment | dict[str, Any]) -> Payment:
        """Add (or replace) a payment; a dict is validated as the contract's Payment."""
        p = payment if isinstance(payment, Payment) else Payment.model_validate(payment)
        self.payments[p.id] = p
        self.deleted.pop(p.id, None)
        return p

    # ------------------------------------------------------------ what a sync run writes

    def due(self, only: Iterable[str] | None) -> list[Payment]:
        """Payments the next sync run attempts (pending or failed; among ``only`` if
        given), oldest payment first."""
        wanted = set(only) if only is not None else None
        due = [
            p
            for p in self.payments.values()
            if p.sync.status in (SyncStatus.PENDING, SyncStatus.FAILED)
            and (wanted is None or p.id in wanted)
        ]
        due.sort(key=lambda p: (p.paid_at, p.id))
        return due

    def record_attempt(
        self,
        p: Payment,
        at: datetime,
        *,
        qb_payment_id: str | None = None,
        error: SyncError | None = None,
    ) -> Payment:
        """Mark ``p`` synced (with ``qb_payment_id``) or failed (with ``error``) at ``at``."""
        status = SyncStatus.SYNCED if qb_payment_id else SyncStatus.FAILED
        sync = SyncState(
            status=status,
            attempts=p.sync.attempts + 1,
            last_attempt_at=at,
            qb_payment_id=qb_payment_id,
            error=None if qb_payment_id else error,
        )
        new = p.model_copy(update={"sync": sync, "updated_at": max(at, p.updated_at)})
        self.payments[p.id] = new
        return new

    @staticmethod
    def qbo_payment_body(p: Payment, deposit_account_id: str | None) -> dict[str, Any]:
        """The QBO Payment ConnectBooster creates for ``p``: reference ``CB…``, Undeposited
        Funds, one line per invoice it pays."""
        body: dict[str, Any] = {
            "CustomerRef": {"value": p.customer.qb_customer_id or "", "name": p.customer.name},
            "TotalAmt": p.amount,
            "TxnDate": p.paid_at.date().isoformat(),
            "PaymentRefNum": p.reference,
            "PrivateNote": f"ConnectBooster payment {p.id} ({p.method or 'portal'})",
            "Line": [
                {
                    "Amount": app.amount,
                    "LinkedTxn": [{"TxnId": app.qb_invoice_id, "TxnType": "Invoice"}],
                }
                for app in p.applications
            ],
        }
        if deposit_account_id:
            body["DepositToAccountRef"] = {"value": deposit_account_id, "name": UNDEPOSITED_FUNDS}
        return body

    def request_id(self, p: Payment) -> str:
        """One requestid per attempt: a retry after a lost connection (same attempt) replays,
        a new attempt is a new write."""
        return f"cbsync-{p.id}-{p.sync.attempts + 1}"[:50]

    # ------------------------------------------------------------ contract actions

    def dismiss(self, pid: str) -> Payment:
        """ "Dismiss Syncing" (raises KeyError / ValueError for 404 / 409)."""
        p = self.payments[pid]
        if p.sync.status == SyncStatus.DISMISSED:
            return p
        if p.sync.status == SyncStatus.SYNCED:
            raise ValueError("payment is already synced to QuickBooks")
        return self._change_status(p, SyncStatus.DISMISSED)

    def delete_history(self, pid: str) -> None:
        """ "Delete" (raises KeyError / ValueError for 404 / 409)."""
        p = self.payments[pid]
        if p.sync.status == SyncStatus.PENDING:
            raise ValueError("payment is waiting for the next sync run")
        self.deleted[pid] = self.payments.pop(pid)

    def resync(self, pid: str) -> Payment:
        """ "Resync" (raises KeyError / ValueError for 404 / 409)."""
        p = self.payments[pid]
        if p.sync.status in (SyncStatus.SYNCED, SyncStatus.DISMISSED):
            raise ValueError(f"payment is {p.sync.status.value}")
        if p.sync.status == SyncStatus.PENDING:
            return p
        new = self._change_status(p, SyncStatus.PENDING)
        self.resync_requested()
        return new

    def resync_requested(self) -> None:
        """Called when a payment went back to pending; the server wakes its sync loop."""

    def _change_status(self, p: Payment, status: SyncStatus) -> Payment:
        now = max(self.clock(), p.updated_at)
        sync = p.sync.model_copy(update={"status": status})
        new = p.model_copy(update={"sync": sync, "updated_at": now})
        self.payments[p.id] = new
        return new

    def stats_since(self, since: datetime) -> dict[str, Any]:
        """The contract's ``/v1/sync/stats``: payments paid since ``since``, by status."""
        counts = {s.value: 0 for s in SyncStatus}
        for p in self.payments.values():
            if p.paid_at >= since:
                counts[p.sync.status.value] += 1
        return {"since": since.isoformat(), "total": sum(counts.values()), **counts}
