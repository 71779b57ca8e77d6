"""``python app.py``'s command line: ``run`` (the default), ``check``, ``sandbox``,
``qbo-connect`` and ``demo``, each with its options (``app.py`` carries them out)."""

from __future__ import annotations

import argparse
from collections.abc import Sequence


def parse_args(argv: Sequence[str] | None, description: str | None) -> argparse.Namespace:
    """The command line of ``python app.py``: the command and its options."""
    parser = argparse.ArgumentParser(
        prog="failed-payments",
        description=description,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("run", help="run the bot (default)")
    sub.add_parser("check", help="check settings and every service the bot needs")
    sb = sub.add_parser("sandbox", help="run the QuickBooks and ConnectBooster stand-ins")
    sb.add_argument("--scenario", default="all-causes")
    sb.add_argument("--qbo-port", type=int, default=8601)
    sb.add_argument("--cb-port", type=int, default=8602)
    qc = sub.add_parser("qbo-connect", help="connect QuickBooks and keep its tokens in Redis")
    qc.add_argument("--port", type=int, default=8765, help="local port for Intuit's redirect")
    qc.add_argument(
        "--paste",
        action="store_true",
        help="paste the address Intuit redirected to (no local server)",
    )
    demo = sub.add_parser("demo", help="the whole bot against local stand-ins, in a browser")
    demo.add_argument("--port", type=int, default=None, help="default: PORT or 3000")
    demo.add_argument("--scenario", default="all-causes")
    demo.add_argument(
        "--source",
        choices=("contract", "gateway", "both"),
        default="contract",
        help="where failures come from: the ConnectBooster contract, the payment gateway "
        "(no contract: portal links on the cards), or both",
    )
    return parser.parse_args(argv)
