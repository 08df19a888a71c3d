"""``GET /metrics``: Prometheus counters of deliveries, jobs and HTTP requests.

Each app has its own :class:`~prometheus_client.CollectorRegistry` (several
apps in one process, as in the tests, do not share counters). Deliveries are
counted by :class:`MetricsHooks`, registered on every served flow; jobs by
status are read from the store when the metrics are scraped.
"""

from __future__ import annotations

from collections import Counter as Tally
from collections.abc import Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from routilux import JobStatus
from routilux.hooks import DeliveryEvent, Hooks
from routilux.stores import JobStore

__all__ = ["MetricsHooks", "ServerMetrics"]

#: Most jobs read from the store to count them by status.
MAX_COUNTED = 1_000_000


class _JobsByStatus(Collector):
    def __init__(self, store: JobStore) -> None:
        self._store = store

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily(
            "routilux_jobs", "Jobs in the store, by status.", labels=["status"]
        )
        counts = Tally(s.status for s in self._store.list_jobs(limit=MAX_COUNTED))
        for status in JobStatus:
            family.add_metric([status.value], counts.get(status.value, 0))
        yield family


class ServerMetrics:
    """The service's metrics, in a registry of their own."""

    def __init__(self, store: JobStore) -> None:
        self.registry = CollectorRegistry()
        labels = ["flow", "routine"]
        self.deliveries = Counter(
            "routilux_deliveries",
            "Delivery attempts that ended (succeeded or failed).",
            labels,
            registry=self.registry,
        )
        self.failures = Counter(
            "routilux_delivery_failures",
            "Delivery attempts whose handler raised.",
            labels,
            registry=self.registry,
        )
        self.retries = Counter(
            "routilux_delivery_retries",
            "Deliveries scheduled to be tried again.",
            labels,
            registry=self.registry,
        )
        self.dead_letters = Counter(
            "routilux_dead_letters",
            "Deliveries kept as dead letters.",
            labels,
            registry=self.registry,
        )
        self.duration = Histogram(
            "routilux_delivery_duration_seconds",
            "How long successful handlers ran.",
            labels,
            registry=self.registry,
        )
        self.requests = Counter(
            "routilux_http_requests",
            "HTTP requests answered, by route, method and status.",
            ["route", "method", "code"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "routilux_http_request_duration_seconds",
            "HTTP request latency, by route.",
            ["route", "method"],
            registry=self.registry,
        )
        self.registry.register(_JobsByStatus(store))

    def observe_request(self, route: str, method: str, code: int, seconds: float) -> None:
        """Count one HTTP request."""
        self.requests.labels(route, method, str(code)).inc()
        self.latency.labels(route, method).observe(seconds)


class MetricsHooks(Hooks):
    """Counts the deliveries of the served flows."""

    def __init__(self, metrics: ServerMetrics) -> None:
        self._m = metrics

    def _labels(self, event: DeliveryEvent) -> Any:
        return event.flow_id, event.routine_id

    def delivery_succeeded(self, event: DeliveryEvent) -> None:
        self._m.deliveries.labels(*self._labels(event)).inc()
        if event.duration is not None:
            self._m.duration.labels(*self._labels(event)).observe(event.duration)

    def delivery_failed(self, event: DeliveryEvent) -> None:
        self._m.deliveries.labels(*self._labels(event)).inc()
        self._m.failures.labels(*self._labels(event)).inc()

    def delivery_retried(self, event: DeliveryEvent) -> None:
        self._m.retries.labels(*self._labels(event)).inc()

    def delivery_dead_lettered(self, event: DeliveryEvent) -> None:
        self._m.dead_letters.labels(*self._labels(event)).inc()
