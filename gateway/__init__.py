"""The payment gateway behind ConnectBooster (BNG, an NMI gateway), behind one client.

:class:`GatewayClient` reads the gateway's public Query API (``query.php``): every payment a
client makes in the ConnectBooster portal is a gateway transaction, with its settlement,
refunds, voids and returns as actions. The package knows nothing of the bot, QuickBooks or
Slack.
"""

from gateway.client import BNG_QUERY_URL, GatewayClient, GatewayClientStats
from gateway.errors import (
    AuthenticationFailed,
    GatewayError,
    MalformedResponse,
    RateLimited,
    Rejected,
    ServerError,
    TransportError,
)
from gateway.models import Action, Condition, Transaction
from gateway.wire import gateway_time, parse_response, render_error, render_response

__all__ = [
    "BNG_QUERY_URL",
    "Action",
    "AuthenticationFailed",
    "Condition",
    "GatewayClient",
    "GatewayClientStats",
    "GatewayError",
    "MalformedResponse",
    "RateLimited",
    "Rejected",
    "ServerError",
    "Transaction",
    "TransportError",
    "gateway_time",
    "parse_response",
    "render_error",
    "render_response",
]
