"""Prometheus metrics of one gateway app (its own registry, so several apps can live in
one process, as in the tests)."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

__all__ = ["CONTENT_TYPE", "Metrics"]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

#: (pool name, size, idle, in use, waiting) for each pool, and the pinned sessions.
PoolStats = Callable[[], tuple[list[tuple[str, int, int, int, int]], int]]


class _PoolCollector(Collector):
    def __init__(self, stats: PoolStats) -> None:
        self._stats = stats

    def collect(self) -> Iterable[GaugeMetricFamily]:
        pools, pinned = self._stats()
        conns = GaugeMetricFamily(
            "mywire_gateway_pool_connections",
            "Upstream connections by pool and state",
            labels=["pool", "state"],
        )
        waiting = GaugeMetricFamily(
            "mywire_gateway_pool_waiting", "Requests waiting for a connection", labels=["pool"]
        )
        for name, size, idle, in_use, wait in pools:
            conns.add_metric([name, "open"], size)
            conns.add_metric([name, "idle"], idle)
            conns.add_metric([name, "in_use"], in_use)
            waiting.add_metric([name], wait)
        yield conns
        yield waiting
        yield GaugeMetricFamily(
            "mywire_gateway_pinned_sessions",
            "Sessions holding their own upstream connection",
            value=pinned,
        )


class Metrics:
    def __init__(self, pool_stats: PoolStats) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "mywire_gateway_requests",
            "HTTP requests by endpoint and status",
            ["endpoint", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "mywire_gateway_request_seconds",
            "Time to the end of the response body, by endpoint",
            ["endpoint"],
            registry=self.registry,
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
        )
        self.upstream_errors = Counter(
            "mywire_gateway_upstream_errors",
            "Upstream failures: connect, lost, timeout, server (SQL errors)",
            ["kind"],
            registry=self.registry,
        )
        self.sessions_expired = Counter(
            "mywire_gateway_sessions_expired",
            "Pinned sessions rolled back after the idle timeout",
            registry=self.registry,
        )
        self.registry.register(_PoolCollector(pool_stats))

    def render(self) -> bytes:
        return generate_latest(self.registry)
