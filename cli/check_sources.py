"""``check``'s lines for the sources of payments (issue 15): which are on, and for the
payment gateway: reached, key accepted, sales seen in the last 7 days and how many look like
ConnectBooster's (``GATEWAY_CB_USERNAMES``). A gateway that answers but shows no sale is a
failed line: the key's user probably cannot see ConnectBooster's transactions ("Access Other
Users' Transactions")."""

from __future__ import annotations

from datetime import timedelta

from bot.errors import describe_error
from bot.runtime.services import Services
from gateway.errors import GatewayError

CheckLine = tuple[str, bool, str]
WINDOW = timedelta(days=7)


async def source_lines(services: Services) -> list[CheckLine]:
    """The sources line, and the gateway's when it is on."""
    s = services.settings
    on = [
        name
        for name, flag in (("ConnectBooster contract", s.contract_on), ("gateway", s.gateway_on))
        if flag
    ]
    lines: list[CheckLine] = [("Sources", bool(on), " and ".join(on) or "none")]
    if services.gateway is not None:
        lines.append(await _gateway(services))
    return lines


async def _gateway(services: Services) -> CheckLine:
    assert services.gateway is not None
    client = services.gateway.with_retries(0)
    now = services.clock()
    try:
        txns = await client.modified_since(now - WINDOW, now, action_type=("sale",))
    except GatewayError as exc:
        return ("Gateway", False, f"{client.url}: {describe_error(exc)}")
    sales = [t for t in txns if t.sale is not None]
    names = frozenset(services.settings.gateway_cb_usernames)
    if not sales:
        return (
            "Gateway",
            False,
            f"{client.url}: reached, key accepted, but no sale in the last 7 days: does the "
            "key's gateway user see ConnectBooster's transactions (Access Other Users' "
            "Transactions)?",
        )
    if names:
        cb = sum(1 for t in sales if t.made_by(names))
        whose = f"{cb} made by {', '.join(sorted(names))} (ConnectBooster's)"
    else:
        whose = "all counted as ConnectBooster's (GATEWAY_CB_USERNAMES is not set)"
    return (
        "Gateway",
        not names or cb > 0,
        f"{client.url}: reached, key accepted; {len(sales)} sales in the last 7 days, {whose}",
    )
