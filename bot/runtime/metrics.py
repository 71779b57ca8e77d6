"""Prometheus metrics the bot exposes on ``/metrics``: open failures by cause, remedies by
kind and result, calls to QuickBooks and ConnectBooster with their latency, and the
process's own (CPU, memory, open files: ``process_*``, where the platform reports them).

Each ``Metrics`` owns its registry (no global state), so tests and several apps in one
process do not mix their counts.
"""

from __future__ import annotations

import time
from types import SimpleNamespace
from typing import Any

import aiohttp
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.exposition import CONTENT_TYPE_LATEST

__all__ = ["CONTENT_TYPE_LATEST", "Metrics"]


class Metrics:
    """The bot's counters, gauges and histograms, in a registry of their own."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        ProcessCollector(registry=self.registry)
        self.open_failures = Gauge(
            "failed_payments_open",
            "Open failed payments by cause",
            ["cause"],
            registry=self.registry,
        )
        self.remedies = Counter(
            "failed_payments_remedies",
            "Remedies run, by kind and result",
            ["kind", "result"],
            registry=self.registry,
        )
        self.upstream_calls = Counter(
            "failed_payments_upstream_calls",
            "HTTP calls to QuickBooks, ConnectBooster and Slack",
            ["service", "status"],
            registry=self.registry,
        )
        self.upstream_latency = Histogram(
            "failed_payments_upstream_latency_seconds",
            "Latency of upstream HTTP calls",
            ["service"],
            registry=self.registry,
            buckets=(0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
        )
        self.posted = Counter(
            "failed_payments_posted", "Failure messages posted to Slack", registry=self.registry
        )
        self.poll_cycles = Counter(
            "failed_payments_poll_cycles",
            "Poll cycles, by result",
            ["result"],
            registry=self.registry,
        )

    def render(self) -> bytes:
        return generate_latest(self.registry)

    def trace_config(self, service: str) -> aiohttp.TraceConfig:
        """An aiohttp trace hook that counts one service's calls and times them."""
        tc = aiohttp.TraceConfig()

        async def on_start(_s: Any, ctx: SimpleNamespace, _p: Any) -> None:
            ctx.started = time.perf_counter()

        async def on_end(_s: Any, ctx: SimpleNamespace, params: Any) -> None:
            self.upstream_latency.labels(service).observe(time.perf_counter() - ctx.started)
            self.upstream_calls.labels(service, str(params.response.status)).inc()

        async def on_exception(_s: Any, ctx: SimpleNamespace, _p: Any) -> None:
            self.upstream_latency.labels(service).observe(time.perf_counter() - ctx.started)
            self.upstream_calls.labels(service, "error").inc()

        tc.on_request_start.append(on_start)
        tc.on_request_end.append(on_end)
        tc.on_request_exception.append(on_exception)
        return tc
