"""A local payment gateway that speaks the Query API (``query.php``) from the same world as
the ConnectBooster stand-in: a payment made in the portal is a gateway sale; refunds, voids,
returns and other users' sales are added on top.

By concern: :mod:`~sandbox.gateway.ledger` (the transactions),
:mod:`~sandbox.gateway.server` (HTTP, filters, paging, error answers and 429).
"""

from __future__ import annotations

from sandbox.gateway.ledger import CB_USERNAME, GatewayLedger, transaction_id_for
from sandbox.gateway.server import SANDBOX_GATEWAY_KEY, GatewaySandbox

__all__ = [
    "CB_USERNAME",
    "SANDBOX_GATEWAY_KEY",
    "GatewayLedger",
    "GatewaySandbox",
    "transaction_id_for",
]
