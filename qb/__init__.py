"""QuickBooks Online Accounting API v3: async client, OAuth 2.0 and typed errors."""

from qb.auth import MemoryTokenStore, OAuthClient, TokenRecord, TokenStore
from qb.client import QBOClient
from qb.errors import (
    AuthenticationError,
    AuthorizationError,
    NotFoundError,
    QBOError,
    ReconnectRequired,
    ServerError,
    StaleObjectError,
    ThrottledError,
    TransportError,
    ValidationError,
    parse_fault,
)
from qb.limits import ClientStats
from qb.wire import BatchItem, BatchResult

__all__ = [
    "AuthenticationError",
    "AuthorizationError",
    "BatchItem",
    "BatchResult",
    "ClientStats",
    "MemoryTokenStore",
    "NotFoundError",
    "OAuthClient",
    "QBOClient",
    "QBOError",
    "ReconnectRequired",
    "ServerError",
    "StaleObjectError",
    "ThrottledError",
    "TokenRecord",
    "TokenStore",
    "TransportError",
    "ValidationError",
    "parse_fault",
]
