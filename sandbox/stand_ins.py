"""The shared world: the QuickBooks Online, ConnectBooster and Slack stand-ins, seeded and
serving on loopback, for the demo, the tests and the benchmarks alike.

:func:`start_stand_ins` builds the three, seeds QBO and ConnectBooster with a scenario (or a
function of both, e.g. :func:`sandbox.scenarios.generate`), and serves each with
:func:`sandbox.serving.serve` (port 0: any free port). :func:`start_sandboxes` does the same
for QBO and ConnectBooster alone (``python app.py sandbox``). Both hand back what they
started; ``close()`` stops it all.

The QBO company ConnectBooster syncs into is ``realm_id`` when given (created empty, named as
QBO's sandbox names it), otherwise the one the scenario creates. ConnectBooster's sync
writes to the served QBO over HTTP; scenarios build their history in process.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from sandbox.cb import CBSandbox
from sandbox.gateway import SANDBOX_GATEWAY_KEY, GatewaySandbox
from sandbox.qbo import QBOSandbox, SandboxCompany
from sandbox.qbo.webhooks import WebhookSender
from sandbox.scenarios import World, build
from sandbox.serving import serve
from sandbox.slack import SlackSandbox
from sandbox.slack.socket_mode import SANDBOX_APP_TOKEN

LOOPBACK = "127.0.0.1"
SANDBOX_CB_KEY = "cb-sandbox-key"
"""The ConnectBooster API key of ``python app.py sandbox`` and the demo."""

Populate = Callable[[QBOSandbox, CBSandbox], World]
"""Seeds both stand-ins in process and says what it built (like ``scenarios.generate``)."""


@dataclass(kw_only=True)
class Sandboxes:
    """The QBO and ConnectBooster stand-ins, seeded and serving. ``world`` is what the
    scenario built (``None`` without one)."""

    qbo: QBOSandbox
    cb: CBSandbox
    world: World | None
    qbo_url: str
    cb_url: str
    runners: list[web.AppRunner]
    gateway: GatewaySandbox | None = None
    """The payment gateway's Query API stand-in, fed by ``cb``'s payments."""
    gateway_url: str | None = None
    webhooks: WebhookSender | None = None
    """The QBO stand-in's webhooks to the bot, once :meth:`send_webhooks` started them."""

    @property
    def realm_id(self) -> str:
        """The QBO company ConnectBooster syncs into."""
        if self.cb.qbo_realm is None:
            raise RuntimeError("no QBO company: start with a realm_id or a scenario")
        return self.cb.qbo_realm

    @property
    def company(self) -> SandboxCompany:
        """The books of that company, in process."""
        return self.qbo.company(self.realm_id)

    def bot_env(self) -> dict[str, str]:
        """The bot's settings that point at these stand-ins, as environment variables
        (sandbox-only values; a fresh QBO refresh token each call, since they rotate)."""
        return {
            "QBO_ENVIRONMENT": "sandbox",
            "QBO_BASE_URL": self.qbo_url,
            "QBO_TOKEN_URL": f"{self.qbo_url}/oauth2/v1/tokens/bearer",
            "QBO_CLIENT_ID": self.qbo.client_id,
            "QBO_CLIENT_SECRET": self.qbo.client_secret,
            "QBO_REALM_ID": self.realm_id,
            "QBO_REFRESH_TOKEN": self.qbo.issue_refresh_token(self.realm_id),
            "CB_BASE_URL": self.cb_url,
            "CB_API_KEY": self.cb.api_key,
        }

    def gateway_env(self, *, contract: bool = False) -> dict[str, str]:
        """:meth:`bot_env` for gateway mode: the gateway stand-in as the source, and the
        ConnectBooster contract too only with ``contract``."""
        env = self.bot_env()
        if not contract:
            env.pop("CB_BASE_URL"), env.pop("CB_API_KEY")
        if self.gateway is not None and self.gateway_url is not None:
            env["GATEWAY_URL"] = f"{self.gateway_url}/api/query.php"
            env["GATEWAY_SECURITY_KEY"] = self.gateway.security_key
        return env

    def send_webhooks(self, url: str, verifier_token: str, **knobs: Any) -> WebhookSender:
        """Send the company's changes to ``url`` (the bot's ``/qbo/webhooks``), signed with
        ``verifier_token``; ``knobs``: :class:`sandbox.qbo.webhooks.WebhookSender`'s."""
        if self.webhooks is None:
            self.webhooks = WebhookSender(verifier_token, url, **knobs)
            self.webhooks.watch(self.company)
            self.webhooks.start()
        self.webhooks.url = url
        return self.webhooks

    async def close(self) -> None:
        """Stop every server (the last started first)."""
        if self.webhooks is not None:
            await self.webhooks.close()
        for runner in reversed(self.runners):
            await runner.cleanup()
        self.runners.clear()


@dataclass(kw_only=True)
class StandIns(Sandboxes):
    """:class:`Sandboxes` plus the Slack stand-in, serving at ``slack_url``."""

    slack: SlackSandbox

    @property
    def slack_url(self) -> str:
        """Where the Slack stand-in serves (its Web API under ``/api/``)."""
        return self.slack.base_url

    async def close(self) -> None:
        """Stop every server and close the Slack driver's HTTP session."""
        await super().close()
        await self.slack.close()


async def start_sandboxes(
    *,
    cb_api_key: str,
    realm_id: str | None = None,
    scenario: str | Populate | None = None,
    seed: int = 7,
    rng_seed: int | None = None,
    sync_interval: float | None = None,
    host: str = LOOPBACK,
    qbo_port: int = 0,
    cb_port: int = 0,
) -> Sandboxes:
    """Start the QBO and ConnectBooster stand-ins on ``host`` (port 0: any free port),
    seeded with ``scenario`` (a name from ``sandbox.scenarios.SCENARIOS`` built with
    ``seed``, or a :data:`Populate`). ``rng_seed`` seeds their failure knobs' dice;
    ConnectBooster's own sync runs every ``sync_interval`` seconds (``None``: on demand)."""
    qbo = QBOSandbox(seed=rng_seed)
    cb = CBSandbox(api_key=cb_api_key, seed=rng_seed or 0)
    if realm_id is not None:
        _sync_into(qbo, cb, realm_id)
    world = _seed(scenario, qbo, cb, seed)
    runners: list[web.AppRunner] = []
    try:
        qbo_runner, qbo_url = await serve(qbo.make_app(), host, qbo_port)
        runners.append(qbo_runner)
        cb.qbo_url = qbo_url
        cb.sync_interval = sync_interval
        cb_runner, cb_url = await serve(cb.make_app(), host, cb_port)
        runners.append(cb_runner)
        gateway = GatewaySandbox(cb, security_key=SANDBOX_GATEWAY_KEY)
        gw_runner, gateway_url = await serve(gateway.make_app(), host, 0)
        runners.append(gw_runner)
    except BaseException:
        for runner in reversed(runners):
            await runner.cleanup()
        raise
    return Sandboxes(
        qbo=qbo,
        cb=cb,
        world=world,
        qbo_url=qbo_url,
        cb_url=cb_url,
        runners=runners,
        gateway=gateway,
        gateway_url=gateway_url,
    )


def _seed(
    scenario: str | Populate | None, qbo: QBOSandbox, cb: CBSandbox, seed: int
) -> World | None:
    """Build ``scenario`` (a name, or a :data:`Populate`) in both stand-ins, in process."""
    if scenario is None:
        return None
    if isinstance(scenario, str):
        return build(scenario, qbo, cb, seed=seed)
    return scenario(qbo, cb)


def _sync_into(qbo: QBOSandbox, cb: CBSandbox, realm_id: str) -> None:
    """A new, empty QBO company ``realm_id``, the one ConnectBooster syncs into."""
    qbo.add_company(realm_id)
    cb.qbo_realm = realm_id
    cb.qbo_access_token = lambda: qbo.issue_access_token(realm_id)


async def start_stand_ins(
    *,
    cb_api_key: str,
    signing_secret: str,
    bot_token: str,
    app_token: str = SANDBOX_APP_TOKEN,
    channels: Iterable[str] | None = None,
    slack_app: Callable[[StandIns], web.Application] | None = None,
    realm_id: str | None = None,
    scenario: str | Populate | None = None,
    seed: int = 7,
    rng_seed: int | None = None,
) -> StandIns:
    """Start the three stand-ins on loopback: :func:`start_sandboxes`, then the Slack
    stand-in with the app's ``signing_secret``, ``bot_token`` and ``app_token`` (Socket
    Mode's ``xapp-…``), ``channels`` the only channel ids it knows (``None``: any
    well-formed id). ``slack_app`` makes the Slack stand-in's web app when it needs more
    routes than ``slack.make_app()``: it is called once QBO and ConnectBooster serve and are
    seeded, before Slack serves."""
    sandboxes = await start_sandboxes(
        cb_api_key=cb_api_key, realm_id=realm_id, scenario=scenario, seed=seed, rng_seed=rng_seed
    )
    slack = SlackSandbox(
        signing_secret=signing_secret, bot_token=bot_token, app_token=app_token, channels=channels
    )
    stand_ins = StandIns(**_fields(sandboxes), slack=slack)
    try:
        app = slack_app(stand_ins) if slack_app is not None else slack.make_app()
        slack_runner, slack_url = await serve(app, LOOPBACK, 0)
    except BaseException:
        await stand_ins.close()
        raise
    stand_ins.runners.append(slack_runner)
    slack.base_url = slack_url
    return stand_ins


def _fields(sandboxes: Sandboxes) -> dict[str, Any]:
    return {f.name: getattr(sandboxes, f.name) for f in dataclasses.fields(Sandboxes)}
