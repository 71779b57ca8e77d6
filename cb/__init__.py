"""ConnectBooster, behind one client.

ConnectBooster publishes no API: :class:`CBClient` speaks the contract in
docs/connectbooster-api.md, the shape a partner API or a tenant's bridge must serve.
"""

from cb.client import CBClient, CBClientStats
from cb.errors import (
    BadRequest,
    CBError,
    Conflict,
    Invalid,
    NotFound,
    ProtocolError,
    RateLimited,
    ServerError,
    TransportError,
    Unauthorized,
)
from cb.models import Payment, PaymentPage, SyncStats, SyncStatus

__all__ = [
    "BadRequest",
    "CBClient",
    "CBClientStats",
    "CBError",
    "Conflict",
    "Invalid",
    "NotFound",
    "Payment",
    "PaymentPage",
    "ProtocolError",
    "RateLimited",
    "ServerError",
    "SyncStats",
    "SyncStatus",
    "TransportError",
    "Unauthorized",
]
