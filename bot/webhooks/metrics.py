"""The webhook counters, registered once on the process's metrics registry."""

from __future__ import annotations

from dataclasses import dataclass
from weakref import WeakKeyDictionary

from prometheus_client import Counter

from bot.runtime.metrics import Metrics


@dataclass(frozen=True)
class WebhookMetrics:
    deliveries: Counter
    events: Counter


_BY_METRICS: WeakKeyDictionary[Metrics, WebhookMetrics] = WeakKeyDictionary()


def webhook_metrics(metrics: Metrics) -> WebhookMetrics:
    """The webhook counters of ``metrics`` (made at the first call)."""
    found = _BY_METRICS.get(metrics)
    if found is None:
        found = WebhookMetrics(
            deliveries=Counter(
                "failed_payments_qbo_webhook_deliveries",
                "QuickBooks webhook deliveries, by answer",
                ["answer"],
                registry=metrics.registry,
            ),
            events=Counter(
                "failed_payments_qbo_webhook_events",
                "QuickBooks webhook events, by outcome (kept, other_company, processed, repeat)",
                ["outcome"],
                registry=metrics.registry,
            ),
        )
        _BY_METRICS[metrics] = found
    return found
