"""Scenarios: one consistent world in both sandboxes (QBO and ConnectBooster).

Failures arise the honest way. Invoices are created in the QBO sandbox and the portal
payments are added to the ConnectBooster sandbox as ``pending``; then the QBO-side change is
made (a manual payment, a credit memo applied, a deletion, a void, ...) timed after the
payment's ``paid_at`` and before the next hourly sync; then ConnectBooster's sync runs and
QuickBooks' own rejection sets ``sync.error``. Healthy payments go through the same sync and
end ``synced`` with a real QBO Payment (reference ``CB…``, Undeposited Funds).

- :func:`build` (:mod:`~sandbox.scenarios.named`) builds a named world: ``credit-memo``,
  ``all-causes`` or ``bad-settings``.
- :func:`generate` (:mod:`~sandbox.scenarios.generated`) makes ``n`` payments (10,000 and
  more) for benchmarks: mostly synced, a realistic share failing across causes.
- :mod:`~sandbox.scenarios.seeding` does the seeding both use; :mod:`~sandbox.scenarios.world`
  holds the causes and the :class:`World` a scenario hands back.
"""

from __future__ import annotations

from sandbox.scenarios.generated import GENERATED_CAUSES, generate
from sandbox.scenarios.named import build
from sandbox.scenarios.seeding import CLIENTS, COMPANY_NAME, DEFAULT_REALM, Seeder
from sandbox.scenarios.world import (
    ALREADY_IN_QBO,
    AMOUNT_CHANGED,
    CREDIT_MEMO,
    DELETED,
    FAULT_CODES,
    INACTIVE_CUSTOMER,
    NONE,
    PAID_MANUALLY,
    RECREATED,
    SCENARIOS,
    UNKNOWN,
    VOIDED,
    World,
)

__all__ = [
    "ALREADY_IN_QBO",
    "AMOUNT_CHANGED",
    "CLIENTS",
    "COMPANY_NAME",
    "CREDIT_MEMO",
    "DEFAULT_REALM",
    "DELETED",
    "FAULT_CODES",
    "GENERATED_CAUSES",
    "INACTIVE_CUSTOMER",
    "NONE",
    "PAID_MANUALLY",
    "RECREATED",
    "SCENARIOS",
    "UNKNOWN",
    "VOIDED",
    "Seeder",
    "World",
    "build",
    "generate",
]
