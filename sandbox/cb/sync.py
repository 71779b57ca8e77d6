"""ConnectBooster's sync run: each pending or failed payment recorded in QuickBooks Online.

A run posts every due payment (oldest first) to QBO as a received payment with reference
``CB…``, deposited to Undeposited Funds and applied to the mapped invoices, then marks it
``synced`` with the new QBO id or ``failed`` with QuickBooks' own fault code and text.
:meth:`SyncRunner.over_http` runs against the QBO stand-in over its HTTP API (an
authentication refusal, throttling, a 5xx or an unreachable QBO stops the run);
:meth:`SyncRunner.in_process` applies the same run to an in-process company, to build
scenario histories quickly. A payment in ``lose_response_for`` reaches QBO but its answer is
lost, as when a timed-out sync leaves a ``CB…`` payment in QBO while ConnectBooster records
a failure.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Iterable
from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol

import aiohttp
from pydantic import BaseModel, Field

from cb.models import Payment, SyncError, SyncStatus
from sandbox.cb.portal import UNDEPOSITED_FUNDS, CBPortal
from sandbox.qbo import SandboxFault

log = logging.getLogger(__name__)

MINOR_VERSION = "75"


class SyncRunReport(BaseModel):
    """What one sync run did."""

    started_at: datetime
    finished_at: datetime | None = None
    attempted: int = 0
    synced: list[str] = Field(default_factory=list)
    failed: dict[str, SyncError] = Field(default_factory=dict)
    skipped: list[str] = Field(default_factory=list)  # dismissed/deleted during the run
    aborted: str | None = None  # why the run stopped early (QBO down, auth refused, ...)


class QBOCompanyLike(Protocol):
    """The in-process seeding surface of ``sandbox.qbo.SandboxCompany`` that a local sync
    run uses (see :meth:`SyncRunner.in_process`)."""

    def create(
        self, entity: str, body: dict[str, Any], *, at: datetime | None = None
    ) -> dict[str, Any]: ...

    def all(self, entity: str) -> Any: ...


class SyncAborted(Exception):
    """A sync run stops: QBO is unreachable, throttling, failing or refusing our token."""


class SyncRunner:
    """Runs ConnectBooster's sync for one portal (one run at a time over HTTP)."""

    def __init__(self, portal: CBPortal) -> None:
        self.portal = portal
        self._lock = asyncio.Lock()
        self._deposit_account: dict[str, str] = {}

    # ------------------------------------------------------------ over HTTP

    async def over_http(self, *, only: Iterable[str] | None = None) -> SyncRunReport:
        """One sync run against the QBO stand-in over HTTP (the portal's ``qbo_url`` and
        ``qbo_realm``); stops early, leaving the rest as they were, when QBO cannot be
        written to."""
        portal = self.portal
        if not (portal.qbo_url and portal.qbo_realm and portal.qbo_access_token):
            raise RuntimeError("CBSandbox needs qbo_url, qbo_realm and qbo_access_token to sync")
        async with self._lock:
            portal.sync_runs += 1
            report = SyncRunReport(started_at=portal.clock())
            timeout = aiohttp.ClientTimeout(total=30)
            async with aiohttp.ClientSession(timeout=timeout) as session:
                try:
                    deposit = await self._http_deposit_account(session)
                    for p in portal.due(only):
                        report.attempted += 1
                        await self._http_sync_one(session, p, deposit, report)
                except SyncAborted as exc:
                    report.aborted = str(exc)
                    log.warning("sync run stopped: %s", exc)
            report.finished_at = portal.clock()
            return report

    async def _qbo_call(
        self,
        session: aiohttp.ClientSession,
        method: str,
        path: str,
        params: dict[str, str],
        body: str | None = None,
    ) -> tuple[int, Any]:
        portal = self.portal
        assert portal.qbo_access_token is not None
        headers = {
            "Authorization": f"Bearer {portal.qbo_access_token()}",
            "Accept": "application/json",
            "Content-Type": "application/json",
        }
        url = f"{portal.qbo_url}/v3/company/{portal.qbo_realm}{path}"
        params = {"minorversion": MINOR_VERSION, **params}
        try:
            async with session.request(
                method, url, params=params, data=body, headers=headers
            ) as resp:
                raw = await resp.read()
                status = resp.status
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise SyncAborted(f"QuickBooks unreachable: {type(exc).__name__}") from exc
        if status in (401, 403):
            raise SyncAborted(f"QuickBooks refused the connection (HTTP {status})")
        if status == 429 or status >= 500:
            raise SyncAborted(f"QuickBooks answered HTTP {status}; the next run retries")
        try:
            data = json.loads(raw, parse_float=Decimal) if raw else None
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise SyncAborted(
                f"QuickBooks answered HTTP {status} with a body that is not JSON"
            ) from exc
        return status, data

    async def _http_deposit_account(self, session: aiohttp.ClientSession) -> str | None:
        realm = self.portal.qbo_realm or ""
        if realm in self._deposit_account:
            return self._deposit_account[realm]
        query = f"select * from Account where Name = '{UNDEPOSITED_FUNDS}'"
        _, data = await self._qbo_call(session, "GET", "/query", {"query": query})
        rows = ((data or {}).get("QueryResponse") or {}).get("Account") or []
        if not rows:
            return None  # QBO defaults DepositToAccountRef to Undeposited Funds
        self._deposit_account[realm] = str(rows[0]["Id"])
        return self._deposit_account[realm]

    async def _http_sync_one(
        self,
        session: aiohttp.ClientSession,
        p: Payment,
        deposit: str | None,
        report: SyncRunReport,
    ) -> None:
        body = decimal_json(self.portal.qbo_payment_body(p, deposit))
        params = {"requestid": self.portal.request_id(p)}
        _, data = await self._qbo_call(session, "POST", "/payment", params, body)
        now = self.portal.clock()
        fault = fault_of(data)
        if fault is None and isinstance(data, dict) and isinstance(data.get("Payment"), dict):
            qb_id = str(data["Payment"].get("Id"))
            self.settle(p, now, report, qb_payment_id=qb_id)
        else:
            code, message = fault or (None, "QuickBooks answered without a Payment")
            self.settle(p, now, report, error=SyncError(code=code, message=message))

    # ------------------------------------------------------------ the outcome

    def settle(
        self,
        p: Payment,
        at: datetime,
        report: SyncRunReport,
        *,
        qb_payment_id: str | None = None,
        error: SyncError | None = None,
    ) -> None:
        """Record QBO's answer for ``p`` in the portal and in ``report`` (a payment
        dismissed or deleted while QBO was answering is skipped)."""
        portal = self.portal
        current = portal.payments.get(p.id)
        if current is None or current.sync.status not in (SyncStatus.PENDING, SyncStatus.FAILED):
            # dismissed or deleted while QBO was answering: the portal's choice stands
            report.skipped.append(p.id)
            return
        p = current
        if qb_payment_id and p.id in portal.lose_response_for:
            # QBO recorded it, but ConnectBooster never saw the answer.
            portal.lose_response_for.discard(p.id)
            qb_payment_id = None
            error = SyncError(code=None, message="Timed out waiting for QuickBooks to answer")
        portal.record_attempt(p, at, qb_payment_id=qb_payment_id, error=error)
        if qb_payment_id:
            report.synced.append(p.id)
        else:
            report.failed[p.id] = error or SyncError(message="failed")

    # ------------------------------------------------------------ in process

    def in_process(
        self,
        company: QBOCompanyLike,
        *,
        at: datetime | Callable[[Payment], datetime] | None = None,
        only: Iterable[str] | None = None,
    ) -> SyncRunReport:
        """The same sync run, applied to an in-process ``SandboxCompany`` (no HTTP). ``at``
        is when the run happens, or a function giving each payment's attempt time (QBO's
        MetaData times and the payments' ``last_attempt_at``). QBO rejections arrive as the
        QBO stand-in's ``SandboxFault`` and are recorded exactly as over HTTP."""
        portal = self.portal

        def when_for(p: Payment) -> datetime:
            if callable(at):
                return at(p)
            return at or portal.clock()

        report = SyncRunReport(started_at=at if isinstance(at, datetime) else portal.clock())
        deposit = _local_deposit_account(company)
        last = report.started_at
        for p in portal.due(only):
            report.attempted += 1
            when = when_for(p)
            last = max(last, when)
            body = portal.qbo_payment_body(p, deposit)
            try:
                created = company.create("Payment", body, at=when)
            except SandboxFault as fault:
                err = SyncError(
                    code=str(fault.code) if fault.code is not None else None,
                    message=fault_text(fault.message, fault.detail),
                )
                self.settle(p, when, report, error=err)
                continue
            self.settle(p, when, report, qb_payment_id=str(created["Id"]))
        report.finished_at = last
        return report


def _local_deposit_account(company: QBOCompanyLike) -> str | None:
    known = getattr(company, "undeposited_funds", None)
    if isinstance(known, dict) and known.get("Id"):
        return str(known["Id"])
    for acct in company.all("Account"):
        if acct.get("Name") == UNDEPOSITED_FUNDS:
            return str(acct["Id"])
    return None


def decimal_json(value: Any) -> str:
    """JSON with ``Decimal`` written as a JSON number, exactly (QBO takes numbers)."""
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, dict):
        return (
            "{"
            + ",".join(f"{json.dumps(str(k))}:{decimal_json(v)}" for k, v in value.items())
            + "}"
        )
    if isinstance(value, list | tuple):
        return "[" + ",".join(decimal_json(v) for v in value) + "]"
    return json.dumps(value)


def fault_text(message: str | None, detail: str | None) -> str:
    """The words ConnectBooster records for a QBO fault: its message and detail, once."""
    message = (message or "").strip()
    detail = (detail or "").strip()
    if detail and detail.startswith(message):
        return detail
    if detail and detail not in message:
        return f"{message}: {detail}" if message else detail
    return message or detail or "QuickBooks rejected the payment"


def fault_of(data: Any) -> tuple[str | None, str] | None:
    """``(code, text)`` of a QBO fault body (``Fault`` or lowercase ``fault``), else None."""
    if not isinstance(data, dict):
        return None
    fault = data.get("Fault") or data.get("fault")
    if not isinstance(fault, dict):
        return None
    errors = fault.get("Error") or fault.get("error") or []
    if not errors:
        return None, "QuickBooks rejected the payment"
    first = errors[0]
    code = first.get("code")
    text = fault_text(
        first.get("Message") or first.get("message"), first.get("Detail") or first.get("detail")
    )
    return (str(code) if code is not None else None), text
